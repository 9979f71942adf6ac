//! Musical time for the audio thread: where each block starts in beats, how fast beats run
//! in it, and which grid steps fall in the block, on which sample.
//!
//! Real hosts report positions with rounding (Ardour in ticks of 1/1920 quarter note,
//! Qtractor in 1/960, CLAP in 2^-31 beats) or with jitter, so the clock does not take a
//! host's beat position at face value. It runs its own clock, integrating the host's tempo
//! sample by sample, and phase-locks it to the host: a reported position within a quarter
//! of a grid step of the running clock is jitter, and the clock drifts back to the host's
//! smoothed position only by what exceeds half a sample. A larger difference, or a sample
//! position that moved, is a jump; a jump back by the host's loop length, when that length
//! is a whole number of steps, is a loop wrap and keeps time running on (the timeline the
//! engine counts steps in continues past it). A transport start or stop ends sounding
//! notes without moving the timeline. Hosts may give only a sample position, only a beat
//! position (the tempo is then measured from the positions), no tempo at all (120 BPM),
//! tempo ramps (followed from the tempo's change between blocks) and negative positions.
//!
//! Plain data in, plain data out; no allocation. Runs on the audio thread.

use crate::feel::Feel;
use continuo_core::score::DEFAULT_BPM;

/// What the host says about time for one block.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HostTransport {
    pub playing: bool,
    /// Quarter notes per minute, if the host gives a tempo.
    pub tempo: Option<f64>,
    /// Position of the block's first sample in quarter notes, if the host gives one.
    pub beat: Option<f64>,
    /// Position of the block's first sample in samples, if the host gives one.
    pub sample: Option<i64>,
    /// The loop range in quarter notes, while the host loops.
    pub loop_beats: Option<(f64, f64)>,
    /// The position is exact, not rounded or jittered (a MIDI clock's, counted from its
    /// ticks): taken as it is when it is near the running clock, never smoothed.
    pub exact: bool,
}

/// The furthest position taken as one (beats: about 15,000 years at 120 BPM; samples: 2^52).
/// A host's position beyond it, or not a number, is read as missing: the clock carries on
/// as for a host that gives none, and a position that comes back is a jump. Never an
/// overflow.
pub const MAX_BEATS: f64 = 1e12;
pub const MAX_SAMPLES: i64 = 1 << 52;

impl HostTransport {
    /// The transport with every absurd position read as missing ([`MAX_BEATS`]).
    /// The transport with Continuo's own tempo (the Tempo parameter, `None`: the host's): that
    /// tempo, and no position, so the clock counts its own beats from where it is (the
    /// standalone, whose transport is fixed at launch, or a host without one).
    pub fn with_own_tempo(self, bpm: Option<f64>) -> HostTransport {
        match bpm {
            Some(bpm) => HostTransport { tempo: Some(bpm), beat: None, sample: None, loop_beats: None, ..self },
            None => self,
        }
    }

    pub fn sane(self) -> HostTransport {
        let beat = |b: &f64| b.is_finite() && b.abs() <= MAX_BEATS;
        HostTransport {
            beat: self.beat.filter(beat),
            sample: self.sample.filter(|s| s.unsigned_abs() <= MAX_SAMPLES as u64),
            loop_beats: self.loop_beats.filter(|(from, to)| beat(from) && beat(to)),
            ..self
        }
    }
}

/// A grid step this close (in samples) after a sample boundary is played on that sample:
/// hosts give beat positions with rounding (CLAP's are fixed-point, 2^-31 beats), which
/// must not push a step to the next sample.
pub const SAMPLE_TOLERANCE: f64 = 1e-3;
pub const MIN_BPM: f64 = 20.0;
pub const MAX_BPM: f64 = 400.0;
/// A reported position further than this share of a grid step from the running clock is
/// a jump; closer, it is jitter or rounding.
pub const JUMP_STEPS: f64 = 0.25;
/// A tempo that changes between blocks by less than this ratio is a ramp, extrapolated
/// through the next block; a larger change is a step.
const RAMP_RATIO: f64 = 0.01;
/// Samples of positions before a tempo is measured from them (hosts that give no tempo).
const MEASURE_SAMPLES: f64 = 2048.0;

/// One block's place in musical time. Beats are on the engine's timeline: the host's beats
/// plus the loop lengths wrapped so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockTiming {
    /// Beat position of the block's first sample.
    pub start_beat: f64,
    /// Beats per sample at the block's first sample.
    pub beats_per_sample: f64,
    /// Change of `beats_per_sample` per sample (a tempo ramp; 0 at a steady tempo).
    pub ramp: f64,
    pub len: usize,
    /// The host's transport runs.
    pub playing: bool,
    /// Time did not run on smoothly from the previous block: sounding output notes end.
    pub discontinuity: bool,
    /// The position really moved (a locate, a loop wrap that breaks the grid): a phrase
    /// the player was playing is forgotten too.
    pub moved: bool,
}

impl BlockTiming {
    pub fn samples_per_beat(&self) -> f64 {
        1.0 / self.beats_per_sample
    }

    /// The beat position of a (fractional) sample within the block.
    fn beat_at(&self, sample: f64) -> f64 {
        self.start_beat + sample * (self.beats_per_sample + 0.5 * self.ramp * sample)
    }

    pub fn end_beat(&self) -> f64 {
        self.beat_at(self.len as f64)
    }

    /// The beat position of a sample within the block.
    pub fn beat_of(&self, sample: usize) -> f64 {
        self.beat_at(sample as f64)
    }

    /// The sample within the block where a beat position falls: the first sample at or
    /// after it. `None` if that is outside the block.
    pub fn sample_of(&self, beat: f64) -> Option<usize> {
        let d = beat - self.start_beat;
        let v = self.beats_per_sample;
        // Solves start + v·x + ramp·x²/2 = beat in a form that stays exact as ramp → 0.
        let disc = v * v + 2.0 * self.ramp * d;
        if disc < 0.0 {
            return None;
        }
        let x = 2.0 * d / (v + disc.sqrt());
        let s = (x - SAMPLE_TOLERANCE).ceil();
        (s >= 0.0 && s < self.len as f64).then_some(s as usize)
    }

    /// The grid steps (at `steps_per_beat`, where `feel` puts them) that fall in this
    /// block, with their samples, in order. Every step falls in exactly one block of a
    /// continuous stream of blocks.
    pub fn steps(&self, steps_per_beat: u32, feel: Feel) -> impl Iterator<Item = (i64, usize)> + '_ {
        let spb = steps_per_beat as f64;
        let straight = |beat: f64| feel.swing.straightened(beat);
        // Humanise moves a step by less than a step: one more on each side covers it.
        let first = (straight(self.start_beat - SAMPLE_TOLERANCE * self.beats_per_sample) * spb).floor() as i64 - 1;
        let last = (straight(self.end_beat()) * spb).ceil() as i64 + 1;
        (first..=last).filter_map(move |k| self.sample_of(feel.step_beat(k, steps_per_beat)).map(|s| (k, s)))
    }
}

/// Where the running clock expects the next block.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Expected {
    /// Timeline beat of the next block's first sample.
    beat: f64,
    /// The host's sample position there, if it gives one.
    sample: Option<i64>,
    /// Beats per sample of the block that just ended, at its first sample.
    beats_per_sample: f64,
    len: usize,
}

/// Measures the tempo of a host that gives beat positions but no tempo: beats travelled
/// over samples played since the last jump.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct TempoMeter {
    anchor: Option<f64>,
    samples: f64,
}

impl TempoMeter {
    /// Beats per sample measured up to `beat`, once enough samples have been played.
    fn measure(&self, beat: f64) -> Option<f64> {
        let anchor = self.anchor?;
        (self.samples >= MEASURE_SAMPLES).then(|| (beat - anchor) / self.samples).filter(|b| *b > 0.0)
    }
}

/// Turns the host's transport into block timings.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    expected: Option<Expected>,
    was_playing: bool,
    /// Timeline beats minus host beats: the loop lengths wrapped so far.
    loop_offset: f64,
    /// The host's position minus the running clock's (beats), smoothed over about a second.
    phase_error: f64,
    /// The mean change of the host's position minus the running clock's from one block to
    /// the next (beats): how much the host rounds or jitters.
    noise: f64,
    last_error: Option<f64>,
    noise_count: u32,
    meter: TempoMeter,
}

impl Clock {
    pub fn new() -> Clock {
        Clock::default()
    }

    /// Forget the position (on activation).
    pub fn reset(&mut self) {
        *self = Clock::default();
    }

    /// The timing of a block of `len` samples on a grid of `steps_per_beat`.
    pub fn block(&mut self, host: HostTransport, sample_rate: f64, len: usize, steps_per_beat: u32) -> BlockTiming {
        let host = host.sane();
        let reported = self.reported_beat(&host, sample_rate);
        let beats_per_sample = self.beats_per_sample(&host, reported, sample_rate);
        let step = 1.0 / steps_per_beat.max(1) as f64;
        let (start_beat, moved) = self.locate(&host, reported, beats_per_sample, sample_rate, len, step);
        let started_or_stopped = host.playing != self.was_playing;
        let discontinuity = moved || started_or_stopped;
        let ramp = match self.expected {
            Some(e) if !discontinuity && (beats_per_sample / e.beats_per_sample - 1.0).abs() < RAMP_RATIO => {
                (beats_per_sample - e.beats_per_sample) / e.len.max(1) as f64
            }
            _ => 0.0,
        };
        if moved {
            self.meter = TempoMeter { anchor: reported, samples: 0.0 };
        }
        self.meter.samples += len as f64;
        self.was_playing = host.playing;
        let timing =
            BlockTiming { start_beat, beats_per_sample, ramp, len, playing: host.playing, discontinuity, moved };
        self.expected = Some(Expected {
            beat: timing.end_beat(),
            sample: host.sample.map(|s| s + len as i64),
            beats_per_sample,
            len,
        });
        timing
    }

    /// The host's beat position for this block, on the host's own axis: given, or from its
    /// sample position at the current tempo. None while the transport is stopped (time
    /// then runs on from where it was).
    fn reported_beat(&self, host: &HostTransport, sample_rate: f64) -> Option<f64> {
        if !host.playing {
            return None;
        }
        host.beat.filter(|b| b.is_finite()).or_else(|| {
            let bpm = host.tempo.filter(|t| t.is_finite() && *t > 0.0)?;
            host.sample.map(|s| s as f64 * bpm / 60.0 / sample_rate)
        })
    }

    /// The tempo: the host's, else measured from its positions, else the default.
    fn beats_per_sample(&self, host: &HostTransport, reported: Option<f64>, sample_rate: f64) -> f64 {
        let bpm_of = |bps: f64| bps * 60.0 * sample_rate;
        let bpm = host
            .tempo
            .filter(|t| t.is_finite() && *t > 0.0)
            .or_else(|| reported.and_then(|b| self.meter.measure(b)).map(bpm_of))
            .unwrap_or(DEFAULT_BPM)
            .clamp(MIN_BPM, MAX_BPM);
        bpm / 60.0 / sample_rate
    }

    /// Where the block starts on the timeline, and whether the position moved.
    fn locate(
        &mut self,
        host: &HostTransport,
        reported: Option<f64>,
        bps: f64,
        sample_rate: f64,
        len: usize,
        step: f64,
    ) -> (f64, bool) {
        let Some(expected) = self.expected else {
            return (reported.unwrap_or(0.0), true);
        };
        let Some(host_beat) = reported else {
            // Stopped, or a host without positions: time runs on.
            return (expected.beat, false);
        };
        let limit = JUMP_STEPS * step;
        let error = host_beat + self.loop_offset - expected.beat;
        if let Some(wrapped) = loop_wrap(host.loop_beats, error, limit, step) {
            // A loop wrap: time runs on, from the host's position.
            self.loop_offset += wrapped;
            (self.phase_error, self.last_error) = (0.0, None);
            return (host_beat + self.loop_offset, false);
        }
        let sample_moved =
            matches!((expected.sample, host.sample), (Some(e), Some(s)) if (s - e).abs() as f64 * bps >= limit);
        let moved = sample_moved || error.abs() >= limit;
        if moved || !self.was_playing {
            // A jump, or the transport starting: take the host's position as it is.
            (self.phase_error, self.last_error) = (0.0, None);
            return (host_beat + self.loop_offset, moved);
        }
        if host.exact {
            return (host_beat + self.loop_offset, false);
        }
        (expected.beat + self.phase_lock(error, bps, sample_rate, len), false)
    }

    /// Smooths the host's position against the running clock over about a second (at
    /// least 32 blocks), and returns the correction: what of the smoothed difference
    /// exceeds the band that the host's rounding or jitter explains (a third of the mean
    /// change of the difference from block to block, about three times what smoothing
    /// leaves of it; at least a quarter of a sample). A lasting difference moves the clock;
    /// a difference that comes and goes does not.
    fn phase_lock(&mut self, error: f64, bps: f64, sample_rate: f64, len: usize) -> f64 {
        let weight = len as f64 / sample_rate.max(32.0 * len as f64);
        self.phase_error += weight * (error - self.phase_error);
        if let Some(last) = self.last_error {
            // A plain mean over the first changes, so the band is known from the start.
            self.noise_count = self.noise_count.saturating_add(1);
            let w = weight.max(1.0 / self.noise_count as f64);
            self.noise += w * ((error - last).abs() - self.noise);
        }
        // No correction before the host's noise has been seen a few times.
        let band = if self.noise_count < 4 { f64::INFINITY } else { (0.25 * bps).max(self.noise / 3.0) };
        let correction = self.phase_error - self.phase_error.clamp(-band, band);
        self.phase_error -= correction;
        self.last_error = Some(error - correction);
        correction
    }
}

/// The loop length to add to the timeline, if the host went back by its loop length (a
/// whole number of grid steps) within `limit` beats.
fn loop_wrap(loop_beats: Option<(f64, f64)>, error: f64, limit: f64, step: f64) -> Option<f64> {
    let (start, end) = loop_beats?;
    let length = end - start;
    // Hosts loop on whole samples: a loop of whole steps may be off by a sample.
    let whole_steps = (length - (length / step).round() * step).abs() < limit / 100.0;
    (length > 0.0 && whole_steps && (error + length).abs() < limit).then_some(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: f64 = 48_000.0;

    fn playing(beat: f64) -> HostTransport {
        HostTransport { playing: true, tempo: Some(120.0), beat: Some(beat), ..HostTransport::default() }
    }

    /// Continuo's own tempo (the Tempo parameter) instead of the host's 120: the clock runs at
    /// 90 from where it was, without a jump, whatever positions the host reports.
    #[test]
    fn its_own_tempo_replaces_the_hosts_and_the_clock_runs_on_from_where_it_was() {
        let mut clock = Clock::new();
        let block = 512usize;
        let first = clock.block(playing(0.0), SR, block, 4);
        let mut beat = first.end_beat();
        for k in 1..40 {
            let host = playing(k as f64 * 100.0).with_own_tempo(Some(90.0));
            let t = clock.block(host, SR, block, 4);
            assert!(!t.discontinuity, "block {k}");
            assert!((t.start_beat - beat).abs() < 1e-9, "block {k}: {} after {beat}", t.start_beat);
            assert!(k < 3 || (t.beats_per_sample - 90.0 / 60.0 / SR).abs() < 1e-12, "block {k}");
            beat = t.end_beat();
        }
        assert_eq!(playing(3.0).with_own_tempo(None), playing(3.0), "the host's tempo: as it is");
    }

    #[test]
    fn steps_fall_in_exactly_one_block_whatever_the_block_size() {
        for &bpm in &[20.0, 97.0, 120.0, 400.0] {
            for &block in &[1usize, 37, 64, 512, 8192] {
                let mut clock = Clock::new();
                let mut seen = Vec::new();
                let mut sample = 0usize;
                while sample < 48_000 * 4 {
                    let t = clock.block(HostTransport { tempo: Some(bpm), ..HostTransport::default() }, SR, block, 4);
                    seen.extend(t.steps(4, Feel::default()).map(|(k, s)| (k, sample + s)));
                    sample += block;
                }
                // Step k lands on the first sample at or after its exact time.
                let spb = SR * 60.0 / bpm;
                for (i, &(k, s)) in seen.iter().enumerate() {
                    assert_eq!(k, i as i64, "bpm {bpm} block {block}");
                    let exact = k as f64 / 4.0 * spb;
                    assert_eq!(s, (exact - SAMPLE_TOLERANCE).ceil() as usize, "bpm {bpm} block {block} step {k}");
                }
            }
        }
    }

    #[test]
    fn jumps_and_transport_changes_are_discontinuities() {
        let mut c = Clock::new();
        assert!(c.block(playing(0.0), SR, 24_000, 4).moved);
        assert!(!c.block(playing(1.0), SR, 24_000, 4).discontinuity);
        let back = c.block(playing(0.0), SR, 24_000, 4); // a locate back
        assert!(back.discontinuity && back.moved);
        let stop = HostTransport::default();
        let t = c.block(stop, SR, 100, 4);
        assert!(t.discontinuity && !t.moved && !t.playing);
        // Stopped: the internal clock runs on from where the transport was.
        assert_eq!(t.start_beat, 1.0);
        assert!(!c.block(stop, SR, 100, 4).discontinuity);
        assert_eq!(t.samples_per_beat(), 24_000.0);
    }

    #[test]
    fn rounded_positions_are_jitter_and_the_running_clock_keeps_exact_time() {
        // Positions rounded to 1/480 beat (50 samples at 120 BPM), blocks of 37 samples.
        let mut c = Clock::new();
        let mut exact = 0.0;
        for _ in 0..20_000 {
            let t = c.block(playing((exact * 480.0_f64).round() / 480.0), SR, 37, 4);
            assert!(!t.discontinuity || exact == 0.0);
            assert!((t.start_beat - exact).abs() * 24_000.0 < 0.5, "{} vs {exact}", t.start_beat);
            exact += 37.0 / 24_000.0;
        }
    }

    #[test]
    fn a_loop_wrap_of_whole_steps_keeps_the_timeline_running() {
        let mut c = Clock::new();
        let looping = |beat| HostTransport { loop_beats: Some((0.0, 4.0)), ..playing(beat) };
        c.block(looping(0.0), SR, 48_000, 4);
        c.block(looping(2.0), SR, 48_000, 4);
        let t = c.block(looping(0.0), SR, 48_000, 4);
        assert!(!t.discontinuity);
        assert_eq!(t.start_beat, 4.0);
        // A loop of 4.1 beats is not whole 16ths: the wrap is a jump.
        let odd = |beat| HostTransport { loop_beats: Some((0.0, 4.1)), ..playing(beat) };
        c.block(odd(2.0), SR, 48_000, 4);
        c.block(odd(4.0), SR, 4_800, 4);
        assert!(c.block(odd(0.0), SR, 48_000, 4).moved);
    }

    #[test]
    fn a_host_without_tempo_is_measured_from_its_positions() {
        let mut c = Clock::new();
        let bps = 97.0 / 60.0 / SR;
        let mut t = c.block(HostTransport { playing: true, beat: Some(0.0), ..HostTransport::default() }, SR, 512, 4);
        for i in 1..2000 {
            t = c.block(
                HostTransport { playing: true, beat: Some(i as f64 * 512.0 * bps), ..HostTransport::default() },
                SR,
                512,
                4,
            );
        }
        assert!((t.samples_per_beat() - 1.0 / bps).abs() < 1.0, "{}", t.samples_per_beat());
        assert!(
            (t.start_beat - 1999.0 * 512.0 * bps).abs() / bps < 1.0,
            "{} samples off",
            (t.start_beat - 1999.0 * 512.0 * bps) / bps
        );
    }

    #[test]
    fn a_tempo_ramp_is_followed_inside_the_block() {
        let t = BlockTiming {
            start_beat: 0.0,
            beats_per_sample: 1e-4,
            ramp: 1e-9,
            len: 8192,
            playing: true,
            discontinuity: false,
            moved: false,
        };
        for beat in [0.1, 0.5, 0.8] {
            let s = t.sample_of(beat).unwrap();
            assert!(t.beat_of(s) >= beat - 1e-12 && t.beat_of(s - 1) < beat);
        }
    }
}
