//! The metronome, on the audio thread: a short click on each beat of the time Continuo
//! follows (the host's, its own tempo, or a MIDI clock), higher on the bar line, added to
//! the audio output. Like the answers, it keeps time while a host's transport is stopped
//! (a JACK transport that never rolls, say). The Metronome parameter clicks always, never, or until the player's
//! first note (the default: a performer hears the tempo before playing in). Plain data; no
//! allocation.

use crate::clock::BlockTiming;
use crate::feel::Feel;
use std::f32::consts::TAU;

/// How long a click rings (to −80 dB).
const RING_SECONDS: f32 = 0.03;
/// The pitch of a click on the bar line and on another beat.
const BAR_HZ: f32 = 1760.0;
const BEAT_HZ: f32 = 1320.0;
/// The loudness of a click on the bar line and on another beat, before the voice's level.
const BAR_LEVEL: f32 = 0.5;
const BEAT_LEVEL: f32 = 0.3;
/// The level below which a click is over.
const SILENT: f32 = 1e-4;

/// When the metronome clicks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metronome {
    Off,
    /// Until the player's first note.
    UntilPlayed,
    On,
}

/// Where the bar lines are, in beats (the host's count, as the engine's steps).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bars {
    /// A step (of `steps_per_beat`) on a bar line, and the steps in a bar.
    pub downbeat_step: i64,
    pub bar_steps: i64,
    pub steps_per_beat: u32,
}

impl Bars {
    fn on_bar_line(&self, beat: i64) -> bool {
        (beat * self.steps_per_beat as i64 - self.downbeat_step).rem_euclid(self.bar_steps.max(1)) == 0
    }
}

/// The click's oscillator and what it has played.
#[derive(Debug, Clone)]
pub struct Click {
    sample_rate: f32,
    phase: f32,
    step: f32,
    level: f32,
    decay: f32,
    last_beat: Option<i64>,
    /// The player has played a note (the UntilPlayed metronome is quiet from then on).
    played: bool,
}

impl Click {
    pub fn new(sample_rate: f32) -> Click {
        let mut click =
            Click { sample_rate, phase: 0.0, step: 0.0, level: 0.0, decay: 0.0, last_beat: None, played: false };
        click.set_sample_rate(sample_rate);
        click
    }

    pub fn set_sample_rate(&mut self, sample_rate: f32) {
        self.sample_rate = sample_rate.max(1.0);
        // −80 dB after RING_SECONDS.
        self.decay = (SILENT.ln() / (RING_SECONDS * self.sample_rate)).exp();
    }

    /// The player played a note.
    pub fn heard_the_player(&mut self) {
        self.played = true;
    }

    /// Whether `metronome` clicks now.
    pub fn clicks(&self, metronome: Metronome) -> bool {
        match metronome {
            Metronome::Off => false,
            Metronome::UntilPlayed => !self.played,
            Metronome::On => true,
        }
    }

    /// Add the clicks of the block's beats into `left` and `right`, at `gain`.
    pub fn render(&mut self, timing: &BlockTiming, bars: Bars, gain: f32, left: &mut [f32], right: &mut [f32]) {
        let len = left.len().min(right.len());
        if timing.moved {
            self.last_beat = None;
        }
        let mut at = 0;
        for (beat, sample) in timing.steps(1, Feel::default()) {
            if self.last_beat.is_some_and(|b| beat <= b) || sample >= len {
                continue;
            }
            self.last_beat = Some(beat);
            self.ring(&mut left[at..sample], &mut right[at..sample], gain);
            at = sample;
            let bar = bars.on_bar_line(beat);
            self.phase = 0.0;
            self.step = TAU * if bar { BAR_HZ } else { BEAT_HZ } / self.sample_rate;
            self.level = if bar { BAR_LEVEL } else { BEAT_LEVEL };
        }
        self.ring(&mut left[at..len], &mut right[at..len], gain);
    }

    fn ring(&mut self, left: &mut [f32], right: &mut [f32], gain: f32) {
        if self.level < SILENT {
            return;
        }
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            let s = self.phase.sin() * self.level * gain;
            *l += s;
            *r += s;
            self.phase = (self.phase + self.step) % TAU;
            self.level *= self.decay;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: f32 = 48_000.0;

    fn timing(start_beat: f64, len: usize) -> BlockTiming {
        BlockTiming {
            start_beat,
            beats_per_sample: 2.0 / SR as f64,
            ramp: 0.0,
            len,
            playing: true,
            discontinuity: false,
            moved: false,
        }
    }

    /// The samples at which clicks start in two bars of 4/4 at 120 BPM, and their peaks.
    fn clicks() -> Vec<(usize, f32)> {
        let (mut click, len) = (Click::new(SR), 512);
        let bars = Bars { downbeat_step: 0, bar_steps: 16, steps_per_beat: 4 };
        let (mut left, mut right) = (vec![0.0; 48_000 * 4], vec![0.0; 48_000 * 4]);
        for (i, (l, r)) in left.chunks_mut(len).zip(right.chunks_mut(len)).enumerate() {
            click.render(&timing((i * len) as f64 * 2.0 / SR as f64, len), bars, 1.0, l, r);
        }
        let mut onsets = Vec::new();
        let mut i = 0;
        while i < left.len() {
            if left[i].abs() > 0.0 {
                let peak = left[i..i + 100].iter().fold(0f32, |m, s| m.max(s.abs()));
                onsets.push((i, peak));
                i += 12_000;
            } else {
                i += 1;
            }
        }
        onsets
    }

    #[test]
    fn a_click_on_each_beat_louder_on_the_bar_line() {
        let onsets = clicks();
        assert_eq!(onsets.len(), 8, "{onsets:?}");
        for (k, &(at, peak)) in onsets.iter().enumerate() {
            // The first sample of a click is sin(0) = 0: it sounds from the next one.
            assert!(at.abs_diff(k * 24_000) <= 1, "beat {k} at sample {at}");
            let bar = k % 4 == 0;
            assert!(if bar { peak > 0.4 } else { peak < 0.35 && peak > 0.2 }, "beat {k}: {peak}");
        }
    }

    #[test]
    fn the_metronome_stops_at_the_first_note_until_played() {
        let mut click = Click::new(SR);
        assert!(click.clicks(Metronome::UntilPlayed) && click.clicks(Metronome::On));
        assert!(!click.clicks(Metronome::Off));
        click.heard_the_player();
        assert!(!click.clicks(Metronome::UntilPlayed) && click.clicks(Metronome::On));
    }
}
