//! The answer's sounding notes on the audio thread: playing a step's token (ending what
//! sounds, starting new pitches) and ending everything on demand, so that no note-on is
//! ever left without its note-off, and an answer note never collides with a note of the
//! same pitch and channel that the player holds (passed through).

use crate::events::{EventSink, NoteEvent, StepToken};

#[derive(Debug, Clone)]
pub struct Voices {
    sounding: [bool; 128],
    channel: u8,
    /// Per pitch, the channels (bits) on which the player holds it, passed through.
    player: [u16; 128],
}

impl Default for Voices {
    fn default() -> Self {
        Voices { sounding: [false; 128], channel: 0, player: [0; 128] }
    }
}

impl Voices {
    /// A player's note is about to pass through. A note-on of a pitch the answer sounds on
    /// that channel ends the answer's note first (so the player's note is not cut by the
    /// answer's note-off later); the player's held notes are remembered so the answer does
    /// not start them again.
    pub fn pass_through(&mut self, event: NoteEvent, out: &mut EventSink) {
        match event {
            NoteEvent::On { sample, channel, pitch, .. } => {
                let p = pitch.min(127) as usize;
                if self.sounding[p] && self.channel == channel {
                    self.sounding[p] = false;
                    out.push(NoteEvent::Off { sample, channel, pitch });
                }
                self.player[p] |= 1 << (channel & 15);
            }
            NoteEvent::Off { channel, pitch, .. } => self.player[pitch.min(127) as usize] &= !(1 << (channel & 15)),
            NoteEvent::Midi { .. } => {}
        }
    }

    /// The player holds no key any more (All Notes Off, a reset): the answer may play every
    /// pitch again. Nothing is sent (the player's own controller passes through).
    pub fn forget_player(&mut self) {
        self.player = [0; 128];
    }

    /// End every note of the player's that passed through and is still held, at `sample`.
    pub fn release_player(&mut self, sample: usize, out: &mut EventSink) {
        for pitch in 0..128u8 {
            let channels = std::mem::take(&mut self.player[pitch as usize]);
            for channel in (0..16u8).filter(|c| channels & (1 << c) != 0) {
                out.push_passed(NoteEvent::Off { sample, channel, pitch });
            }
        }
    }

    /// End every sounding note at `sample`.
    pub fn all_off(&mut self, sample: usize, out: &mut EventSink) {
        for pitch in 0..128u8 {
            if std::mem::take(&mut self.sounding[pitch as usize]) {
                out.push(NoteEvent::Off { sample, channel: self.channel, pitch });
            }
        }
    }

    /// Play one step: an onset ends what sounds and starts its pitches (shifted by
    /// `transpose`, folded back into MIDI's range by octaves), a rest ends what sounds, a
    /// hold changes nothing.
    pub fn play(
        &mut self,
        token: StepToken,
        sample: usize,
        channel: u8,
        velocity: u8,
        transpose: i32,
        out: &mut EventSink,
    ) {
        match token {
            StepToken::Hold => {}
            StepToken::Rest => self.all_off(sample, out),
            StepToken::Onset { .. } => {
                self.all_off(sample, out);
                self.channel = channel;
                for &p in token.pitches() {
                    let pitch = in_range(p as i32 + transpose);
                    let free = |p: usize| !self.sounding[p] && self.player[p] & (1 << (channel & 15)) == 0;
                    if free(pitch as usize) {
                        self.sounding[pitch as usize] = true;
                        out.push(NoteEvent::On { sample, channel, pitch: pitch as u8, velocity: velocity.max(1) });
                    }
                }
            }
        }
    }
}

/// `pitch` moved by octaves into MIDI's range, 0..=127 (the Octave control may shift an
/// answer past it; its notes are then played an octave or more nearer, not dropped).
fn in_range(pitch: i32) -> i32 {
    match pitch {
        ..0 => pitch.rem_euclid(12),
        128.. => 116 + (pitch - 116).rem_euclid(12),
        _ => pitch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use continuo_core::Token;

    /// A key the player held before All Notes Off or a reset no longer keeps the answer off
    /// its pitch (issue #24).
    #[test]
    fn a_forgotten_key_frees_its_pitch_for_the_answer() {
        let mut voices = Voices::default();
        let mut out = EventSink::with_capacity(16);
        voices.pass_through(NoteEvent::On { sample: 0, channel: 0, pitch: 60, velocity: 90 }, &mut out);
        let c = StepToken::from_token(&Token::Onset(vec![60]));
        voices.play(c, 1, 0, 90, 0, &mut out);
        assert!(out.events().iter().all(|e| !matches!(e, NoteEvent::On { sample: 1, .. })), "held by the player");
        voices.forget_player();
        voices.play(c, 2, 0, 90, 0, &mut out);
        assert!(out.events().iter().any(|e| matches!(e, NoteEvent::On { sample: 2, pitch: 60, .. })));
    }

    #[test]
    fn notes_shifted_out_of_midis_range_fold_back_by_octaves() {
        let mut voices = Voices::default();
        let mut out = EventSink::with_capacity(16);
        let chord = StepToken::from_token(&Token::Onset(vec![5, 60, 120]));
        voices.play(chord, 0, 0, 90, 36, &mut out);
        let pitches = |out: &EventSink| -> Vec<u8> {
            out.events()
                .iter()
                .filter_map(|e| if let NoteEvent::On { pitch, .. } = e { Some(*pitch) } else { None })
                .collect()
        };
        // 5 + 36 = 41 and 60 + 36 = 96 as they are; 120 + 36 = 156 folds to 120 (C).
        assert_eq!(pitches(&out), [41, 96, 120]);
        out.clear();
        voices.play(chord, 1, 0, 90, -36, &mut out);
        // 5 − 36 = −31 folds to 5 (F), 60 − 36 = 24, 120 − 36 = 84.
        assert_eq!(pitches(&out), [5, 24, 84]);
        assert!((0..=127).all(|p| in_range(p) == p) && (-300..400).all(|p| (0..=127).contains(&in_range(p))));
        assert!((-300..400).all(|p| (in_range(p) - p).rem_euclid(12) == 0), "the pitch class stays");
    }
}
