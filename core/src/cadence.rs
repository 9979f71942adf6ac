//! Phrase-shaped answers: an answer of a known longest length ends as a phrase ends, not
//! where the bar count runs out. The first beat at or after the middle of its last bar (beat
//! 3 of 4/4, the last beat of a bar of three) takes a closing note: the key's tonic or
//! dominant, whichever the model prefers there, within a minor third of the note before it
//! (where the nearest always is), held for a beat; a tonic or dominant already sounding may
//! be held through it instead of struck again. What follows holds it, rests, or sounds
//! another note of the tonic triad within a fifth of the last (a close in several notes, or a
//! pickup to a phrase that may follow), never the same pitch again. An answer with less than
//! a whole bar before its last bar is left as it is. The length is a most: a host or a caller
//! may stop listening earlier.
//!
//! Closing on the last bar's downbeat instead, and letting the triad strike the closing
//! pitch again, left the last bar of a busy tune (a reel, a jig) with a note or two and the
//! answers with a third more repeated notes than the composers' bars: chosen on the
//! validation splits, `models/README.md`, "Where the answer closes".
//!
//! Plain data over the model's token ids (its key frame); allocates only when made. Runs
//! wherever the continuer runs: the plugin's inference worker, `trainer`.

use crate::encoding::Token;
use crate::vocab::Vocabulary;

/// How far (semitones) the closing note may be from the note before it: every pitch has a
/// tonic or dominant within a minor third. (Within a fifth, the closes leapt more than the
/// composers' bars do: the interval overlap on the Essen validation split was 0.857, and
/// 0.877 within a third; `models/README.md`.)
const CLOSE_REACH: u8 = 3;
/// How far a tonic-triad note after the close may be from the note before it.
const TRIAD_REACH: u8 = 7;

/// Where an answer's closing note goes, and whether it has landed.
#[derive(Debug, Clone)]
pub struct Cadence {
    /// Each id's pitch classes as a bit set (0: hold, rest, end).
    classes: Vec<u16>,
    /// Each id's highest pitch, and the last one the answer played.
    top: Vec<Option<u8>>,
    last: Option<u8>,
    hold: Option<u32>,
    /// Steps the closing note holds at least (a beat).
    ring: usize,
    /// Closing pitch classes (tonic and dominant) as a bit set; 0: no cadence planned.
    closing: u16,
    /// The tonic triad's pitch classes: what may sound after the closing note.
    triad: u16,
    /// The tones of the chord the player holds, followed (0: none): where the tonic or the
    /// dominant is one of them, the answer closes on it (on G over a G chord in C).
    chord: u16,
    /// The answer's step that takes the closing note, and the answer's steps so far.
    close: usize,
    step: usize,
    landed: bool,
}

impl Cadence {
    pub fn new(vocab: &Vocabulary) -> Cadence {
        Cadence {
            classes: vocab.tokens().iter().map(Token::pitch_classes).collect(),
            top: vocab.tokens().iter().map(Token::top).collect(),
            last: None,
            hold: vocab.id(&Token::Hold),
            ring: 0,
            closing: 0,
            triad: 0,
            chord: 0,
            close: 0,
            step: 0,
            landed: false,
        }
    }

    /// No cadence (a new piece, or an answer without an end).
    pub fn clear(&mut self) {
        self.closing = 0;
        self.step = 0;
        self.last = None;
        self.landed = false;
    }

    /// Plan the cadence of an answer of at most `max_steps` steps whose first step is
    /// `position` steps into a bar of `bar_steps`, in a key whose tonic is `tonic` (pitch
    /// class, in the model's frame; `minor`: its mode): the closing note on the first beat
    /// (of `beat` steps) at or after the middle of its last bar, held at least a beat, when
    /// at least a bar of the answer comes before that bar.
    pub fn plan(&mut self, max_steps: usize, bar_steps: usize, position: usize, beat: usize, key: (u8, bool)) {
        let (tonic, minor) = key;
        self.clear();
        let bar = bar_steps.max(1);
        let first_downbeat = (bar - position % bar) % bar;
        if max_steps <= first_downbeat + 1 {
            return;
        }
        let last_downbeat = first_downbeat + (max_steps - 1 - first_downbeat) / bar * bar;
        if last_downbeat < bar {
            return;
        }
        let beat = beat.max(1);
        let close = last_downbeat + (bar / 2).div_ceil(beat) * beat;
        self.close = if close < max_steps { close } else { last_downbeat };
        self.ring = beat;
        let class = |interval: u8| 1u16 << ((tonic + interval) % 12);
        self.closing = class(0) | class(7);
        self.triad = self.closing | class(if minor { 3 } else { 4 });
    }

    /// The tones of the chord that sounds from the next step on, if it is followed (0: none).
    pub fn set_chord(&mut self, tones: u16) {
        self.chord = tones;
    }

    /// Whether the answer's closing note has sounded.
    pub fn landed(&self) -> bool {
        self.landed
    }

    /// At the closing step, only closing onsets (within a minor third of the last note,
    /// where one is possible), or a hold of a closing note that sounds; after a closing note, for a beat only holds, then no onsets
    /// but the tonic triad's within a fifth of the last note and not on it. Other steps are
    /// left as they are, and so is a closing step where no closing onset is possible.
    pub fn shape(&self, logits: &mut [f32]) {
        if self.closing == 0 || self.step < self.close || (self.step > self.close && !self.landed) {
            return;
        }
        let near = |id: usize, reach: u8| match (self.top[id], self.last) {
            (Some(p), Some(last)) => p.abs_diff(last) <= reach,
            _ => true,
        };
        let again = |id: usize| self.top[id].is_some() && self.top[id] == self.last;
        let in_triad = |id: usize| self.classes[id] & !self.triad == 0 && near(id, TRIAD_REACH) && !again(id);
        let closing = match self.closing & self.chord {
            0 => self.closing,
            over_the_chord => over_the_chord,
        };
        let closes = |id: usize| self.classes[id] != 0 && self.classes[id] & !closing == 0;
        let possible =
            |ok: &dyn Fn(usize) -> bool| (0..logits.len()).any(|id| ok(id) && logits[id] > f32::NEG_INFINITY);
        if self.step == self.close && !possible(&closes) {
            return;
        }
        let near_close = |id: usize| closes(id) && near(id, CLOSE_REACH);
        let onset_closes: &dyn Fn(usize) -> bool = if possible(&near_close) { &near_close } else { &closes };
        let ringing = self.step < self.close + self.ring;
        let holds_a_close = self.last_closes();
        for (id, l) in logits.iter_mut().enumerate() {
            let allowed = match self.step == self.close {
                true => onset_closes(id) || (holds_a_close && Some(id as u32) == self.hold),
                false if ringing => Some(id as u32) == self.hold,
                false => in_triad(id),
            };
            if !allowed {
                *l = f32::NEG_INFINITY;
            }
        }
    }

    /// Whether the last note played is a closing one (the tonic or dominant).
    fn last_closes(&self) -> bool {
        self.last.is_some_and(|p| self.closing & (1 << (p % 12)) != 0)
    }

    /// The token chosen at this step of the answer.
    pub fn heard(&mut self, id: u32) {
        if self.closing != 0 && self.step == self.close {
            let c = self.classes.get(id as usize).copied().unwrap_or(0);
            self.landed = (c != 0 && c & !self.closing == 0) || (Some(id) == self.hold && self.last_closes());
        }
        self.last = self.top.get(id as usize).copied().flatten().or(self.last);
        self.step += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::EncodingSpec;

    /// The tokens `c` allows at its next step.
    fn allowed(c: &Cadence, v: &Vocabulary) -> Vec<String> {
        let mut logits = vec![0.0f32; v.len()];
        c.shape(&mut logits);
        (0..v.len())
            .filter(|&i| logits[i] > f32::NEG_INFINITY)
            .map(|i| v.token(i as u32).unwrap().to_string())
            .collect()
    }

    #[test]
    fn a_last_bar_of_four_beats_closes_on_beat_three_and_never_strikes_the_close_again() {
        let v = Vocabulary::from_tokens(EncodingSpec::melody(48..=84).vocabulary).unwrap();
        let (hold, g4) = (v.id(&crate::Token::Hold).unwrap(), v.id(&"67".parse().unwrap()).unwrap());
        let mut c = Cadence::new(&v);
        // Three bars of 4/4 from the downbeat, in C major: the last bar starts at step 32,
        // its third beat at 40.
        c.plan(48, 16, 0, 4, (0, false));
        for step in 0..48 {
            let allowed = allowed(&c, &v);
            match step {
                0..=39 => assert_eq!(allowed.len(), v.len(), "step {step}"),
                40 => assert!(allowed.iter().all(|t| ["55", "60", "67", "72", "79", "48", "84"].contains(&t.as_str()))),
                41..=43 => assert_eq!(allowed, ["_"]),
                // After the close on G4: C major's triad within a fifth, but not G4 again.
                _ => assert_eq!(allowed, ["/", "r", "_", "60", "64", "72"], "step {step}"),
            }
            c.heard(if step == 40 { g4 } else { hold });
        }
        assert!(c.landed());
    }

    #[test]
    fn a_tonic_or_dominant_sounding_at_the_close_may_hold_it() {
        let v = Vocabulary::from_tokens(EncodingSpec::melody(48..=84).vocabulary).unwrap();
        let id = |t: &str| v.id(&t.parse().unwrap()).unwrap();
        let mut c = Cadence::new(&v);
        for (before, holds) in [("72", true), ("67", true), ("69", false)] {
            // One bar of 4/4 and a half in C major; the close on step 24.
            c.plan(32, 16, 0, 4, (0, false));
            for step in 0..24 {
                c.heard(if step == 22 { id(before) } else { id("_") });
            }
            let at_close = allowed(&c, &v);
            assert_eq!(at_close.contains(&"_".to_string()), holds, "after {before}: {at_close:?}");
            c.heard(if holds { id("_") } else { id("67") });
            assert!(c.landed(), "after {before}");
            assert_eq!(allowed(&c, &v), ["_"], "the close rings after {before}");
        }
    }

    #[test]
    fn a_last_bar_too_short_for_its_middle_closes_on_its_downbeat() {
        let v = Vocabulary::from_tokens(EncodingSpec::melody(48..=84).vocabulary).unwrap();
        let hold = v.id(&crate::Token::Hold).unwrap();
        let mut c = Cadence::new(&v);
        // Two bars of 3/4 and two beats, starting on beat 2 (4 steps in): downbeats at steps
        // 8 and 20, and the last bar ends before its last beat; in A minor.
        c.plan(28, 12, 4, 4, (9, true));
        for step in 0..28 {
            let mut logits = vec![0.0f32; v.len()];
            c.shape(&mut logits);
            let allowed: Vec<String> = (0..v.len())
                .filter(|&i| logits[i] > f32::NEG_INFINITY)
                .map(|i| v.token(i as u32).unwrap().to_string())
                .collect();
            let closing = ["57", "69", "81", "52", "64", "76"];
            // After the close on E4 (64): the A minor triad within a fifth of it, not E4.
            let triad = ["r", "_", "/", "57", "60", "69"];
            match step {
                20 => assert!(allowed.iter().all(|t| closing.contains(&t.as_str())), "{allowed:?}"),
                21..=23 => assert_eq!(allowed, ["_"]),
                24.. => assert_eq!(allowed.iter().map(String::as_str).collect::<Vec<_>>().len(), triad.len()),
                _ => assert_eq!(allowed.len(), v.len()),
            }
            if step >= 24 {
                assert!(allowed.iter().all(|t| triad.contains(&t.as_str())), "{allowed:?}");
            }
            let chosen = if step == 20 { v.id(&"64".parse().unwrap()).unwrap() } else { hold };
            c.heard(chosen);
        }
        assert!(c.landed());
        // After a D5 (74), the close takes the nearest tonic or dominant (E5, 76, or A4, 69
        // in A minor): within a minor third, so only E5.
        c.plan(28, 12, 4, 4, (9, true));
        for step in 0..20 {
            c.heard(if step == 19 { v.id(&"74".parse().unwrap()).unwrap() } else { hold });
        }
        let mut logits = vec![0.0f32; v.len()];
        c.shape(&mut logits);
        let allowed: Vec<u32> = (0..v.len() as u32).filter(|&i| logits[i as usize] > f32::NEG_INFINITY).collect();
        assert_eq!(allowed, [v.id(&"76".parse().unwrap()).unwrap()]);
        // Shorter than the first bar line, or no whole bar before the last downbeat: nothing
        // planned.
        for (max, position) in [(8, 4), (12, 0), (12, 4)] {
            c.plan(max, 12, position, 4, (0, false));
            let mut logits = vec![0.0f32; v.len()];
            c.shape(&mut logits);
            assert!(logits.iter().all(|l| *l == 0.0), "{max} steps from {position}");
        }
    }
}
