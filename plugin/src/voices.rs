//! The answer's sounding notes on the audio thread: playing a step's token (ending what
//! sounds, starting new pitches) and ending everything on demand, so that no note-on is
//! ever left without its note-off.

use crate::events::{EventSink, NoteEvent, StepToken};

#[derive(Debug, Clone)]
pub struct Voices {
    sounding: [bool; 128],
    channel: u8,
}

impl Default for Voices {
    fn default() -> Self {
        Voices { sounding: [false; 128], channel: 0 }
    }
}

impl Voices {
    pub fn any_sounding(&self) -> bool {
        self.sounding.iter().any(|&s| s)
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
    pub fn play(&mut self, token: StepToken, sample: usize, channel: u8, velocity: u8, transpose: i32, out: &mut EventSink) {
        match token {
            StepToken::Hold => {}
            StepToken::Rest => self.all_off(sample, out),
            StepToken::Onset { .. } => {
                self.all_off(sample, out);
                self.channel = channel;
                for &p in token.pitches() {
                    let pitch = p as i32 + transpose;
                    if (0..128).contains(&pitch) && !self.sounding[pitch as usize] {
                        self.sounding[pitch as usize] = true;
                        out.push(NoteEvent::On { sample, channel, pitch: pitch as u8, velocity: velocity.max(1) });
                    }
                }
            }
        }
    }
}
