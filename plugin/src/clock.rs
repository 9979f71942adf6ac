//! Musical time for the audio thread: where each block starts in beats, how long a beat is
//! in samples, and which grid steps fall in the block, on which sample. Follows the host's
//! beat position while its transport runs, and runs an internal clock at the host's tempo
//! (120 BPM when it gives none) while it is stopped. Plain data in, plain data out; no
//! allocation.

/// What the host says about time for one block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostTransport {
    pub playing: bool,
    /// Quarter notes per minute, if the host gives a tempo.
    pub tempo: Option<f64>,
    /// Position of the block's first sample in quarter notes, if the host gives one.
    pub beat: Option<f64>,
}

pub const DEFAULT_BPM: f64 = 120.0;
/// A grid step this close (in samples) after a sample boundary is played on that sample:
/// hosts give beat positions with rounding (CLAP's are fixed-point, 2^-31 beats), which
/// must not push a step to the next sample.
pub const SAMPLE_TOLERANCE: f64 = 1e-3;
pub const MIN_BPM: f64 = 20.0;
pub const MAX_BPM: f64 = 400.0;

/// One block's place in musical time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockTiming {
    /// Beat position of the block's first sample.
    pub start_beat: f64,
    pub samples_per_beat: f64,
    pub len: usize,
    /// The host's transport runs.
    pub playing: bool,
    /// Time did not continue from the previous block: a loop jump, a locate, a start or stop
    /// of the transport. Sounding output notes must end.
    pub discontinuity: bool,
}

impl BlockTiming {
    pub fn end_beat(&self) -> f64 {
        self.start_beat + self.len as f64 / self.samples_per_beat
    }

    /// The sample within the block where a beat position falls: the first sample at or
    /// after it. `None` if that is outside the block.
    pub fn sample_of(&self, beat: f64) -> Option<usize> {
        let x = (beat - self.start_beat) * self.samples_per_beat;
        let s = (x - SAMPLE_TOLERANCE).ceil();
        (s >= 0.0 && s < self.len as f64).then_some(s as usize)
    }

    /// The beat position of a sample within the block.
    pub fn beat_of(&self, sample: usize) -> f64 {
        self.start_beat + sample as f64 / self.samples_per_beat
    }

    /// The grid steps (at `steps_per_beat`) that fall in this block, with their samples, in
    /// order. Every step falls in exactly one block of a continuous stream of blocks.
    pub fn steps(&self, steps_per_beat: u32) -> impl Iterator<Item = (i64, usize)> + '_ {
        let spb = steps_per_beat as f64;
        let first = ((self.start_beat * spb) - SAMPLE_TOLERANCE / self.samples_per_beat * spb).floor() as i64;
        let last = (self.end_beat() * spb).ceil() as i64 + 1;
        (first..=last).filter_map(move |k| self.sample_of(k as f64 / spb).map(|s| (k, s)))
    }
}

/// Turns the host's transport into block timings.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Where the next block starts if time runs on.
    next_beat: Option<f64>,
    was_playing: bool,
}

impl Clock {
    pub fn new() -> Clock {
        Clock::default()
    }

    /// Forget the position (on activation).
    pub fn reset(&mut self) {
        *self = Clock::default();
    }

    pub fn block(&mut self, host: HostTransport, sample_rate: f64, len: usize) -> BlockTiming {
        let bpm = host.tempo.filter(|t| t.is_finite() && *t > 0.0).unwrap_or(DEFAULT_BPM).clamp(MIN_BPM, MAX_BPM);
        let samples_per_beat = sample_rate * 60.0 / bpm;
        let expected = self.next_beat;
        let start_beat = match (host.playing, host.beat) {
            (true, Some(b)) if b.is_finite() => b,
            _ => expected.unwrap_or(0.0),
        };
        // A jump of more than a sample's length, or a transport start/stop, breaks time.
        let tolerance = 1.0 / samples_per_beat;
        let discontinuity = host.playing != self.was_playing
            || expected.is_some_and(|e| (start_beat - e).abs() > tolerance)
            || expected.is_none();
        self.was_playing = host.playing;
        let timing = BlockTiming { start_beat, samples_per_beat, len, playing: host.playing, discontinuity };
        self.next_beat = Some(timing.end_beat());
        timing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_fall_in_exactly_one_block_whatever_the_block_size() {
        for &bpm in &[20.0, 97.0, 120.0, 400.0] {
            for &block in &[1usize, 37, 64, 512, 8192] {
                let mut clock = Clock::new();
                let mut seen = Vec::new();
                let mut sample = 0usize;
                while sample < 48_000 * 4 {
                    let t = clock.block(HostTransport { playing: false, tempo: Some(bpm), beat: None }, 48_000.0, block);
                    seen.extend(t.steps(4).map(|(k, s)| (k, sample + s)));
                    sample += block;
                }
                // Step k lands on the first sample at or after its exact time.
                let spb = 48_000.0 * 60.0 / bpm;
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
        let play = |beat| HostTransport { playing: true, tempo: Some(120.0), beat: Some(beat) };
        assert!(c.block(play(0.0), 48_000.0, 24_000).discontinuity);
        assert!(!c.block(play(1.0), 48_000.0, 24_000).discontinuity);
        assert!(c.block(play(0.0), 48_000.0, 24_000).discontinuity); // loop back
        let stop = HostTransport { playing: false, tempo: None, beat: None };
        let t = c.block(stop, 48_000.0, 100);
        assert!(t.discontinuity && !t.playing);
        // Stopped: the internal clock runs on from where the transport was.
        assert_eq!(t.start_beat, 1.0);
        assert!(!c.block(stop, 48_000.0, 100).discontinuity);
        assert_eq!(t.samples_per_beat, 24_000.0);
    }
}
