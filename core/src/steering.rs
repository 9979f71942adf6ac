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
/// Logit for the token that always followed the last two tokens in the recent past, at
/// repetition ±1 (patterns: rhythm and melody together).
const PATTERN_GAIN: f32 = 2.0;
/// Onsets that count as recent for repetition.
pub const RECENT_ONSETS: usize = 16;
/// Tokens (steps) that count as recent for patterns.
pub const RECENT_TOKENS: usize = 32;

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
    /// −1..=1: avoid (−) or favour (+) the pitches of the last [`RECENT_ONSETS`] onsets, and
    /// what followed the last two tokens within the last [`RECENT_TOKENS`] steps.
    pub repetition: f32,
    /// Only the pitches of this scale.
    pub scale: Option<Scale>,
}

/// A scale to lock to, in the model's key frame. A model that keeps its songs in C major /
/// A minor hears the piece there, so the followed key is the white keys, and the minor
/// scales stand on A.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// The followed key: C major / A minor.
    Key,
    /// C D E G A (major pentatonic of C, minor pentatonic of A).
    Pentatonic,
    /// A C D D# E G (the A minor blues scale).
    Blues,
    /// A B C D E F G# (A harmonic minor).
    HarmonicMinor,
}

impl Scale {
    pub const ALL: [Scale; 4] = [Scale::Key, Scale::Pentatonic, Scale::Blues, Scale::HarmonicMinor];

    pub fn name(self) -> &'static str {
        match self {
            Scale::Key => "key",
            Scale::Pentatonic => "pentatonic",
            Scale::Blues => "blues",
            Scale::HarmonicMinor => "harmonic-minor",
        }
    }

    /// Its pitch classes as a 12-bit mask, bit 0 = C.
    pub fn mask(self) -> u16 {
        let classes: &[u8] = match self {
            Scale::Key => &[0, 2, 4, 5, 7, 9, 11],
            Scale::Pentatonic => &[0, 2, 4, 7, 9],
            Scale::Blues => &[9, 0, 2, 3, 4, 7],
            Scale::HarmonicMinor => &[9, 11, 0, 2, 4, 5, 8],
        };
        classes.iter().fold(0, |m, &c| m | 1 << c)
    }

    /// Whether `pitch` belongs to the scale.
    pub fn contains(self, pitch: u8) -> bool {
        self.mask() & (1 << (pitch % 12)) != 0
    }
}

impl std::str::FromStr for Scale {
    type Err = String;
    fn from_str(s: &str) -> Result<Scale, String> {
        Scale::ALL.into_iter().find(|c| c.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Scale::ALL.iter().map(|c| c.name()).collect();
            format!("unknown scale `{s}` (expected one of {})", names.join(", "))
        })
    }
}

impl Default for Steering {
    fn default() -> Self {
        Steering { density: 0.0, register: None, register_hard: false, leap: 0.0, repetition: 0.0, scale: None }
    }
}

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
    /// The last [`RECENT_TOKENS`] ids, oldest first once full (a ring from `tokens_at`).
    tokens: [u32; RECENT_TOKENS],
    tokens_len: usize,
    tokens_at: usize,
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
        Steerer {
            kinds,
            pitches,
            last_pitch: None,
            recent: [0; RECENT_ONSETS],
            recent_len: 0,
            recent_at: 0,
            tokens: [0; RECENT_TOKENS],
            tokens_len: 0,
            tokens_at: 0,
        }
    }

    /// Start a new piece: no last pitch, nothing recent.
    pub fn clear(&mut self) {
        self.last_pitch = None;
        self.recent_len = 0;
        self.tokens_len = 0;
    }

    /// The piece went on with `id` (in the model's frame).
    pub fn heard(&mut self, id: u32) {
        self.tokens[self.tokens_at] = id;
        self.tokens_at = (self.tokens_at + 1) % RECENT_TOKENS;
        self.tokens_len = (self.tokens_len + 1).min(RECENT_TOKENS);
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
        if s.repetition != 0.0 {
            self.favour_patterns(logits, s.repetition * PATTERN_GAIN);
        }
    }

    /// The recent tokens, oldest first.
    fn recent_tokens(&self) -> impl Iterator<Item = u32> + '_ {
        let start = if self.tokens_len == RECENT_TOKENS { self.tokens_at } else { 0 };
        (0..self.tokens_len).map(move |k| self.tokens[(start + k) % RECENT_TOKENS])
    }

    /// Wherever the last two tokens stood before in the recent past, what followed them gains
    /// `gain` × its share of those followers.
    fn favour_patterns(&self, logits: &mut [f32], gain: f32) {
        if self.tokens_len < 3 {
            return;
        }
        let last = |k: usize| self.tokens[(self.tokens_at + RECENT_TOKENS - k) % RECENT_TOKENS];
        let context = (last(2), last(1));
        let followers = || {
            let (mut a, mut b) = (u32::MAX, u32::MAX);
            // Triples (a, b, next) of the recent tokens: the current pair has no next yet.
            self.recent_tokens().filter(move |&next| {
                let hit = (a, b) == context;
                (a, b) = (b, next);
                hit
            })
        };
        let matches = followers().count();
        if matches > 0 {
            for next in followers() {
                logits[next as usize] += gain / matches as f32;
            }
        }
    }

    fn onset_bias(&self, id: usize, top: u8, s: &Steering, shift: i32) -> f32 {
        let mut bias = s.density * DENSITY_GAIN;
        if let Some(scale) = s.scale {
            if !self.pitches[id].iter().all(|&p| scale.contains(p)) {
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

    use crate::vocab::test_melody_vocab as vocab;

    #[test]
    fn repetition_favours_what_followed_the_last_two_tokens() {
        let v = vocab();
        let id = |p: u8| v.id(&Token::note(p)).unwrap();
        let hold = v.id(&Token::Hold).unwrap();
        let mut steerer = Steerer::new(&v);
        // 60 _ 64 | 60 _ 67 | 60 _  → after "60 _": 64 and 67 once each.
        for t in [id(60), hold, id(64), id(60), hold, id(67), id(60), hold] {
            steerer.heard(t);
        }
        let mut l = vec![0.0f32; v.len()];
        steerer.favour_patterns(&mut l, 2.0);
        assert_eq!((l[id(64) as usize], l[id(67) as usize], l[id(62) as usize]), (1.0, 1.0, 0.0));
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
        let white = shaped(Steering { scale: Some(Scale::Key), ..Steering::default() });
        assert!(white[id(61)] == f32::NEG_INFINITY && white[id(62)] == 0.0);
        let blues = shaped(Steering { scale: Some(Scale::Blues), ..Steering::default() });
        assert!(blues[id(63)] == 0.0 && blues[id(65)] == f32::NEG_INFINITY);
        assert_eq!(Scale::Key.mask(), 0b1010_1011_0101);
        assert_eq!("harmonic-minor".parse(), Ok(Scale::HarmonicMinor));
    }
}
