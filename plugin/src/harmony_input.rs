//! The player's harmony, on the audio thread: which notes are harmony (below the chord split
//! or on the chord channel: a left hand, or a DAW's chord track), the keys of it held, and
//! the chord they make, published to the worker and the editor as one atomic word. Harmony
//! notes never enter the phrase and never cut an answer. Fixed-size state only; the word is
//! read back into a [`Chord`] on the worker or the GUI thread. A chord struck as the answer
//! reaches a strong beat comes too late for the worker, which samples ahead: [`LateChord`]
//! moves such a beat's note onto the new chord as it is played.

use crate::events::{NoteEvent, StepToken};
use continuo_core::chord::Chord;
use continuo_core::harmony::nearest_tone;

/// Where the player's harmony comes from. Both off: every note is melody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HarmonyInput {
    /// Notes below this MIDI pitch are harmony.
    pub split: Option<u8>,
    /// Notes on this channel (0-based) are harmony, whatever their pitch.
    pub channel: Option<u8>,
}

impl HarmonyInput {
    /// Whether a note on `channel` at `pitch` is harmony.
    pub fn is_harmony(&self, channel: u8, pitch: u8) -> bool {
        self.channel == Some(channel) || self.split.is_some_and(|split| pitch < split)
    }

    /// Whether `event` is a harmony note-on or note-off.
    pub fn takes(&self, event: &NoteEvent) -> bool {
        match *event {
            NoteEvent::On { channel, pitch, .. } | NoteEvent::Off { channel, pitch, .. } => {
                self.is_harmony(channel, pitch)
            }
            NoteEvent::Midi { .. } => false,
        }
    }
}

/// The harmony keys held: a bit per MIDI pitch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeldChord {
    keys: u128,
}

/// The word of no chord.
pub const NO_CHORD: u32 = 0;

impl HeldChord {
    /// A harmony note-on or note-off (the other events change nothing).
    pub fn hear(&mut self, event: &NoteEvent) {
        match *event {
            NoteEvent::On { pitch, .. } => self.keys |= 1 << (pitch & 127),
            NoteEvent::Off { pitch, .. } => self.keys &= !(1 << (pitch & 127)),
            NoteEvent::Midi { .. } => {}
        }
    }

    /// Every key let go (All Notes Off, a reset, the input changed).
    pub fn clear(&mut self) {
        self.keys = 0;
    }

    /// The held keys as one word: bits 0..12 their pitch classes, bits 12..19 the lowest
    /// key, bit 19 set when any key is held ([`NO_CHORD`] otherwise).
    pub fn word(&self) -> u32 {
        if self.keys == 0 {
            return NO_CHORD;
        }
        let lowest = self.keys.trailing_zeros();
        let classes = (0..128).filter(|p| self.keys & (1 << p) != 0).fold(0u32, |m, p| m | 1 << (p % 12));
        classes | lowest << 12 | 1 << 19
    }
}

/// The answer steps the worker may have sampled before it heard the chord now held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LateChord {
    /// Steps up to this one were perhaps chosen under the chord before.
    unheard_until: Option<i64>,
}

impl LateChord {
    /// The chord changed while the worker had sampled up to step `sampled_to`.
    pub fn changed(&mut self, sampled_to: i64) {
        self.unheard_until = Some(sampled_to);
    }

    /// `token`, played at `step`: on a strong beat chosen before the chord `word` was heard,
    /// a melody note outside it moves to its nearest tone (where Follow chords is on).
    pub fn resolve(&self, token: StepToken, step: i64, strong: bool, word: u32, follow: f32) -> StepToken {
        let late = self.unheard_until.is_some_and(|until| step <= until);
        match token {
            StepToken::Onset { mut pitches, len: 1 } if late && strong && follow > 0.0 && word != NO_CHORD => {
                pitches[0] = nearest_tone(pitches[0], (word & 0xfff) as u16);
                StepToken::Onset { pitches, len: 1 }
            }
            other => other,
        }
    }
}

/// The chord a word of [`HeldChord::word`] holds (any thread).
pub fn chord_of_word(word: u32) -> Option<Chord> {
    if word & 1 << 19 == 0 {
        return None;
    }
    let bass = ((word >> 12) & 127) as u8;
    let classes = (0..12u8).filter(|c| word & 1 << c != 0).map(|c| 12 + c);
    Chord::recognise(std::iter::once(bass % 12).chain(classes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(channel: u8, pitch: u8) -> NoteEvent {
        NoteEvent::On { sample: 0, channel, pitch, velocity: 90 }
    }

    fn off(channel: u8, pitch: u8) -> NoteEvent {
        NoteEvent::Off { sample: 0, channel, pitch }
    }

    #[test]
    fn notes_below_the_split_or_on_the_chord_channel_are_harmony() {
        let split = HarmonyInput { split: Some(60), channel: None };
        assert!(split.takes(&on(0, 59)) && !split.takes(&on(0, 60)));
        let channel = HarmonyInput { split: None, channel: Some(1) };
        assert!(channel.takes(&off(1, 80)) && !channel.takes(&on(0, 40)));
        assert!(!HarmonyInput::default().takes(&on(0, 0)), "off: every note is melody");
    }

    #[test]
    fn a_strong_beat_chosen_before_its_chord_moves_onto_it() {
        let mut held = HeldChord::default();
        for p in [45, 48, 52] {
            held.hear(&on(0, p));
        }
        let word = held.word(); // A minor
        let b = StepToken::from_token(&continuo_core::Token::note(71));
        let mut late = LateChord::default();
        assert_eq!(late.resolve(b, 8, true, word, 0.3), b, "no change heard: as chosen");
        late.changed(12);
        assert_eq!(late.resolve(b, 8, true, word, 0.3).pitches(), &[72], "B to C");
        assert_eq!(late.resolve(b, 8, false, word, 0.3), b, "off the strong beats: a passing note");
        assert_eq!(late.resolve(b, 8, true, word, 0.0), b, "Follow chords off");
        assert_eq!(late.resolve(b, 13, true, word, 0.3), b, "chosen after the chord was heard");
        assert_eq!(late.resolve(b, 8, true, NO_CHORD, 0.3), b, "no chord");
    }

    #[test]
    fn held_keys_make_a_chord_with_its_bass() {
        let mut held = HeldChord::default();
        assert_eq!(chord_of_word(held.word()), None);
        for p in [52, 55, 60] {
            held.hear(&on(0, p));
        }
        assert_eq!(chord_of_word(held.word()).unwrap().to_string(), "C/E");
        held.hear(&off(0, 55));
        held.hear(&on(0, 45));
        assert_eq!(chord_of_word(held.word()).unwrap().to_string(), "Am");
        held.clear();
        assert_eq!(held.word(), NO_CHORD);
    }
}
