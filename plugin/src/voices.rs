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
    /// `transpose`, kept in MIDI's range), a rest ends what sounds, a hold changes nothing.
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
                    let pitch = p as i32 + transpose;
                    let free = |p: usize| !self.sounding[p] && self.player[p] & (1 << (channel & 15)) == 0;
                    if (0..128).contains(&pitch) && free(pitch as usize) {
                        self.sounding[pitch as usize] = true;
                        out.push(NoteEvent::On { sample, channel, pitch: pitch as u8, velocity: velocity.max(1) });
                    }
                }
            }
        }
    }
}
