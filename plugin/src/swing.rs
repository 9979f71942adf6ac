//! Swing, on the audio thread: the player's feel measured from their unquantised onsets,
//! and the grid bent by it. Swing puts the off-beat eighth at `position` of the beat (0.5
//! straight, 2/3 for 2:1, 0.75 for 3:1) and stretches each beat's two halves to match, so
//! the sixteenths inside them move too. The player's notes are straightened before they are
//! placed on the grid (the model hears straight time) and the answer's steps are played on
//! the swung grid. A change of swing takes effect from a whole beat, where swung and
//! straight time meet, so no step is played twice or skipped. Fixed-size state only.

/// The off-beat eighth's position in a straight beat.
pub const STRAIGHT: f64 = 0.5;
/// The latest position followed: 3:1.
pub const MOST: f64 = 0.75;
/// Pairs of eighths the meter averages over.
const PAIRS: usize = 16;
/// How near a beat an onset must be to start a pair (beats).
const ON_THE_BEAT: f64 = 0.12;
/// Where in its beat an off-beat eighth may fall, straight to a little past 3:1.
const OFF_BEAT: (f64, f64) = (0.42, 0.8);

/// The position of a swing ratio (long : short, 1 = straight).
pub fn position_of_ratio(ratio: f64) -> f64 {
    (ratio / (1.0 + ratio)).clamp(STRAIGHT, MOST)
}

/// The ratio (long : short) of an off-beat position.
pub fn ratio_of(position: f64) -> f64 {
    position / (1.0 - position)
}

/// The grid's swing: one position before a whole beat and another from it on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Swing {
    before: f64,
    after: f64,
    from_beat: f64,
}

impl Default for Swing {
    fn default() -> Self {
        Swing { before: STRAIGHT, after: STRAIGHT, from_beat: f64::NEG_INFINITY }
    }
}

impl Swing {
    /// The same swing at every beat.
    pub fn steady(position: f64) -> Swing {
        let p = position.clamp(STRAIGHT, MOST);
        Swing { before: p, after: p, from_beat: f64::NEG_INFINITY }
    }

    /// Swing at `position` from the first whole beat at or after `beat` (timeline beats).
    pub fn change(&mut self, position: f64, beat: f64) {
        let from = beat.ceil();
        let now = self.position_at(from - 1.0);
        *self = Swing { before: now, after: position.clamp(STRAIGHT, MOST), from_beat: from };
    }

    /// The off-beat position of the beat that starts at whole beat `beat`.
    fn position_at(&self, beat: f64) -> f64 {
        if beat >= self.from_beat {
            self.after
        } else {
            self.before
        }
    }

    /// The position in effect from now on (what the editor shows).
    pub fn position(&self) -> f64 {
        self.after
    }

    /// Where a straight beat position sounds on the swung grid.
    pub fn swung(&self, beat: f64) -> f64 {
        let whole = beat.floor();
        let (f, p) = (beat - whole, self.position_at(whole));
        whole + if f < 0.5 { 2.0 * p * f } else { p + 2.0 * (1.0 - p) * (f - 0.5) }
    }

    /// The straight beat position of a swung one (the inverse of [`Swing::swung`]).
    pub fn straightened(&self, beat: f64) -> f64 {
        let whole = beat.floor();
        let (f, p) = (beat - whole, self.position_at(whole));
        whole + if f < p { f / (2.0 * p) } else { 0.5 + (f - p) / (2.0 * (1.0 - p)) }
    }
}

/// Measures the player's swing: each pair of eighths (an onset near a beat, the next one in
/// the middle part of the same beat) gives an off-beat position; the meter keeps the last
/// [`PAIRS`] of them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SwingMeter {
    last: Option<f64>,
    positions: [f64; PAIRS],
    len: usize,
    at: usize,
}

impl Default for SwingMeter {
    fn default() -> Self {
        SwingMeter { last: None, positions: [STRAIGHT; PAIRS], len: 0, at: 0 }
    }
}

impl SwingMeter {
    /// A melody onset at `beat` (timeline beats, not placed on any grid).
    pub fn hear(&mut self, beat: f64) {
        if let Some(last) = self.last {
            let start = last.round();
            let f = beat - start;
            if (last - start).abs() <= ON_THE_BEAT && (OFF_BEAT.0..OFF_BEAT.1).contains(&f) {
                self.positions[self.at] = f;
                self.at = (self.at + 1) % PAIRS;
                self.len = (self.len + 1).min(PAIRS);
            }
        }
        self.last = Some(beat);
    }

    /// The mean off-beat position of the pairs heard (within straight and 3:1), once two
    /// pairs have been.
    pub fn position(&self) -> Option<f64> {
        (self.len >= 2)
            .then(|| (self.positions[..self.len].iter().sum::<f64>() / self.len as f64).clamp(STRAIGHT, MOST))
    }

    /// Forget what was heard (a reset: the next player may play straight).
    pub fn clear(&mut self) {
        *self = SwingMeter::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swung_and_straightened_undo_each_other_and_keep_whole_beats() {
        let mut swing = Swing::default();
        swing.change(position_of_ratio(2.0), 0.0);
        for k in 0..32 {
            let beat = k as f64 / 4.0;
            assert!((swing.straightened(swing.swung(beat)) - beat).abs() < 1e-12);
        }
        // 2:1 puts the sixteenths of a beat at 0, 1/3, 2/3 and 5/6.
        let inside: Vec<f64> = (0..4).map(|k| swing.swung(3.0 + k as f64 / 4.0) - 3.0).collect();
        for (got, want) in inside.iter().zip([0.0, 1.0 / 3.0, 2.0 / 3.0, 5.0 / 6.0]) {
            assert!((got - want).abs() < 1e-12, "{inside:?}");
        }
        assert_eq!(swing.swung(5.0), 5.0);
    }

    #[test]
    fn a_change_takes_effect_from_the_next_whole_beat() {
        let mut swing = Swing::default();
        swing.change(2.0 / 3.0, 4.2);
        assert_eq!(swing.swung(4.5), 4.5, "the beat already begun stays straight");
        assert!((swing.swung(5.5) - (5.0 + 2.0 / 3.0)).abs() < 1e-12);
        // Steps stay in order across the change, none twice.
        let beats: Vec<f64> = (16..28).map(|k| swing.swung(k as f64 / 4.0)).collect();
        assert!(beats.windows(2).all(|w| w[0] < w[1]), "{beats:?}");
        swing.change(STRAIGHT, 7.0);
        assert!((swing.swung(6.5) - (6.0 + 2.0 / 3.0)).abs() < 1e-12 && swing.swung(7.5) == 7.5);
    }

    #[test]
    fn the_meter_hears_pairs_of_eighths_and_not_sixteenths() {
        for ratio in [1.0, 1.5, 2.0, 2.5, 3.0] {
            let mut meter = SwingMeter::default();
            let p = ratio / (1.0 + ratio);
            for beat in 0..8 {
                meter.hear(beat as f64 + 0.01);
                meter.hear(beat as f64 + p);
            }
            assert!((ratio_of(meter.position().unwrap()) - ratio).abs() < 0.1, "{ratio}");
        }
        let mut sixteenths = SwingMeter::default();
        for k in 0..32 {
            sixteenths.hear(k as f64 / 4.0);
        }
        assert_eq!(sixteenths.position(), None, "straight sixteenths are no pairs of eighths");
        let mut quarters = SwingMeter::default();
        (0..8).for_each(|b| quarters.hear(b as f64));
        assert_eq!(quarters.position(), None);
    }
}
