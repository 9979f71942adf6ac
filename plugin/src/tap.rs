//! Tap tempo, on the GUI thread: the tempo of the last taps of the editor's Tap button (at
//! least two, each within two seconds of the one before), for the Tempo parameter.

use std::time::{Duration, Instant};

/// Taps further apart than this start again.
const GAP: Duration = Duration::from_secs(2);
/// The taps a tempo is measured over.
const TAPS: usize = 5;

/// The recent taps.
#[derive(Debug, Default)]
pub struct TapTempo {
    taps: Vec<Instant>,
}

impl TapTempo {
    /// A tap at `at`: the tempo of the taps so far (beats per minute), once there are two.
    pub fn tap(&mut self, at: Instant) -> Option<f64> {
        if self.taps.last().is_some_and(|&last| at.saturating_duration_since(last) > GAP) {
            self.taps.clear();
        }
        self.taps.push(at);
        if self.taps.len() > TAPS {
            self.taps.remove(0);
        }
        let (first, last) = (*self.taps.first()?, *self.taps.last()?);
        let beats = self.taps.len().checked_sub(1).filter(|&n| n > 0)?;
        let seconds = last.saturating_duration_since(first).as_secs_f64() / beats as f64;
        (seconds > 0.0).then(|| 60.0 / seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tempo_is_that_of_the_last_taps_and_a_pause_starts_again() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut taps = TapTempo::default();
        assert_eq!(taps.tap(at(0)), None, "one tap is no tempo");
        assert_eq!(taps.tap(at(500)), Some(120.0));
        assert_eq!(taps.tap(at(1000)), Some(120.0));
        // A little late: the mean of the last taps.
        let bpm = taps.tap(at(1600)).unwrap();
        assert!((bpm - 60.0 / (1.6 / 3.0)).abs() < 1e-9, "{bpm}");
        // After a pause the counting starts again: 90 BPM.
        assert_eq!(taps.tap(at(5000)), None);
        let bpm = taps.tap(at(5000 + 667)).unwrap();
        assert!((bpm - 90.0).abs() < 0.2, "{bpm}");
        // Only the last five taps count.
        for k in 2..10 {
            taps.tap(at(5667 + k * 250));
        }
        assert!((taps.tap(at(5667 + 10 * 250)).unwrap() - 240.0).abs() < 1e-6);
    }
}
