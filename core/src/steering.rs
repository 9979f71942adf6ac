//! Steering: what a musician asks of a continuation, as sampling-time shaping of the model's
//! logits before each step — density, register, step / leap, repetition and scale lock.
//! Every control is neutral at its default, so an unsteered continuation is the model's own.
//! Shared by the plugin's worker and `trainer generate` through
//! [`crate::continuation::Continuer`]; allocates only when made, never per step.

use crate::encoding::Token;
use crate::vocab::Vocabulary;

/// Logit added to onsets (and taken from holds and rests) at density ±1.
const DENSITY_GAIN: f32 = 3.0;
/// Semitones outside the register at which a pitch's logit is lowered by 0.5 (then
/// quadratically: 2 at twice that distance).
const REGISTER_SOFTNESS: f32 = 3.0;
/// Logit per 3 semitones of interval at step / leap ±1.
const LEAP_GAIN: f32 = 1.0;
/// Logit for a pitch played in every recent onset, at repetition ±1.
const REPETITION_GAIN: f32 = 3.0;
/// Onsets that count as recent for repetition.
pub const RECENT_ONSETS: usize = 16;

/// The controls. `Default` is neutral.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Steering {
    /// −1..=1: fewer (−) or more (+) onsets: onsets gain against holds and rests.
    pub density: f32,
    /// The register: (lowest, highest) MIDI pitch, in the piece's key. Pitches outside are
    /// damped smoothly, or never played with `register_hard`.
    pub register: Option<(u8, u8)>,
    pub register_hard: bool,
    /// −1..=1: prefer steps (−) or leaps (+) from the last pitch.
    pub leap: f32,
    /// −1..=1: avoid (−) or favour (+) the pitches of the last [`RECENT_ONSETS`] onsets.
    pub repetition: f32,
    /// Only pitch classes of this 12-bit mask (bit 0 = C), in the model's key frame: for a
    /// model that keeps songs in C major / A minor, the white keys are the followed key.
    pub scale: Option<u16>,
}

impl Default for Steering {
    fn default() -> Self {
        Steering { density: 0.0, register: None, register_hard: false, leap: 0.0, repetition: 0.0, scale: None }
    }
}

/// C major / A minor: the followed key in a key-normalised model's frame.
pub const WHITE_KEYS: u16 = 0b1010_1011_0101;

/// What a token id is, for steering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Onset { top: u8 },
    Hold,
    Rest,
    End,
}

/// The steering state of one piece: what each id of the vocabulary is, and the recent past
/// (the last pitch, the pitches of the last onsets).
#[derive(Debug, Clone)]
pub struct Steerer {
    kinds: Vec<Kind>,
    /// Every pitch of each onset id (for the scale lock and the register).
    pitches: Vec<Vec<u8>>,
    last_pitch: Option<u8>,
    recent: [u8; RECENT_ONSETS],
    recent_len: usize,
    recent_at: usize,
}

impl Steerer {
    pub fn new(vocab: &Vocabulary) -> Steerer {
        let kinds = vocab
            .tokens()
            .iter()
            .map(|t| match t {
                Token::Onset(p) => Kind::Onset { top: *p.last().unwrap_or(&60) },
                Token::Hold => Kind::Hold,
                Token::Rest => Kind::Rest,
                Token::SongEnd => Kind::End,
            })
            .collect();
        let pitches = vocab.tokens().iter().map(|t| t.pitches().to_vec()).collect();
        Steerer { kinds, pitches, last_pitch: None, recent: [0; RECENT_ONSETS], recent_len: 0, recent_at: 0 }
    }

    /// Start a new piece: no last pitch, nothing recent.
    pub fn clear(&mut self) {
        self.last_pitch = None;
        self.recent_len = 0;
    }

    /// The piece went on with `id` (in the model's frame).
    pub fn heard(&mut self, id: u32) {
        if let Some(Kind::Onset { top }) = self.kinds.get(id as usize) {
            self.last_pitch = Some(*top);
            self.recent[self.recent_at] = *top;
            self.recent_at = (self.recent_at + 1) % RECENT_ONSETS;
            self.recent_len = (self.recent_len + 1).min(RECENT_ONSETS);
        }
    }

    /// How often `pitch` stands among the recent onsets (0..=1).
    fn recency(&self, pitch: u8) -> f32 {
        if self.recent_len == 0 {
            return 0.0;
        }
        self.recent[..self.recent_len].iter().filter(|&&p| p == pitch).count() as f32 / self.recent_len as f32
    }

    /// Shape `logits` (the model's, one per id) for the next step. `shift` takes the piece's
    /// key into the model's frame (the register is given in the piece's key).
    pub fn steer(&self, logits: &mut [f32], s: &Steering, shift: i32) {
        for (id, logit) in logits.iter_mut().enumerate() {
            *logit += match self.kinds[id] {
                Kind::Onset { top } => self.onset_bias(id, top, s, shift),
                Kind::Hold | Kind::Rest => -s.density * DENSITY_GAIN,
                Kind::End => 0.0,
            };
        }
    }

    fn onset_bias(&self, id: usize, top: u8, s: &Steering, shift: i32) -> f32 {
        let mut bias = s.density * DENSITY_GAIN;
        if let Some(mask) = s.scale {
            if self.pitches[id].iter().any(|&p| mask & (1 << (p % 12)) == 0) {
                return f32::NEG_INFINITY;
            }
        }
        if let Some((low, high)) = s.register {
            let pitch = top as i32 - shift;
            let outside = (low as i32 - pitch).max(pitch - high as i32).max(0) as f32;
            if outside > 0.0 && s.register_hard {
                return f32::NEG_INFINITY;
            }
            bias -= 0.5 * (outside / REGISTER_SOFTNESS).powi(2);
        }
        if let Some(last) = self.last_pitch {
            let interval = (top as i32 - last as i32).abs().min(12) as f32;
            bias += s.leap * LEAP_GAIN * (interval - 3.0) / 3.0;
        }
        bias + s.repetition * REPETITION_GAIN * self.recency(top)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocabulary {
        let mut tokens = vec![Token::SongEnd, Token::Rest, Token::Hold];
        tokens.extend((55..=79).map(Token::note));
        Vocabulary::from_tokens(tokens).unwrap()
    }

    #[test]
    fn neutral_steering_changes_nothing() {
        let v = vocab();
        let mut steerer = Steerer::new(&v);
        steerer.heard(v.id(&Token::note(60)).unwrap());
        let mut logits: Vec<f32> = (0..v.len()).map(|i| i as f32 * 0.1).collect();
        let before = logits.clone();
        steerer.steer(&mut logits, &Steering::default(), 0);
        assert_eq!(logits, before);
    }

    #[test]
    fn each_control_pushes_its_way() {
        let v = vocab();
        let id = |p: u8| v.id(&Token::note(p)).unwrap() as usize;
        let hold = v.id(&Token::Hold).unwrap() as usize;
        let mut steerer = Steerer::new(&v);
        steerer.heard(id(60) as u32);
        let shaped = |s: Steering| {
            let mut l = vec![0.0f32; v.len()];
            steerer.steer(&mut l, &s, 0);
            l
        };
        let dense = shaped(Steering { density: 1.0, ..Steering::default() });
        assert!(dense[id(62)] > 0.0 && dense[hold] < 0.0);
        let leaps = shaped(Steering { leap: 1.0, ..Steering::default() });
        assert!(leaps[id(72)] > leaps[id(62)]);
        let steps = shaped(Steering { leap: -1.0, ..Steering::default() });
        assert!(steps[id(62)] > steps[id(72)]);
        let again = shaped(Steering { repetition: 1.0, ..Steering::default() });
        assert!(again[id(60)] > again[id(62)]);
        let register = shaped(Steering { register: Some((60, 67)), ..Steering::default() });
        assert!(register[id(64)] == 0.0 && register[id(70)] < register[id(69)] && register[id(70)].is_finite());
        let hard = shaped(Steering { register: Some((60, 67)), register_hard: true, ..Steering::default() });
        assert!(hard[id(70)] == f32::NEG_INFINITY && hard[id(64)] == 0.0);
        let white = shaped(Steering { scale: Some(WHITE_KEYS), ..Steering::default() });
        assert!(white[id(61)] == f32::NEG_INFINITY && white[id(62)] == 0.0);
    }
}
