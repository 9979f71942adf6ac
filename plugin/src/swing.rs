//! Swing, on the audio thread: the player's feel measured from their unquantised onsets,
//! and the grid bent by it. Swing puts the second of a pair of eighths (or of sixteenths)
//! at `position` of the pair's span (0.5 straight, 2/3 for 2:1, 0.75 for 3:1) and stretches
//! the span's two halves to match, so the steps inside them move too. The player's notes are straightened before they are
//! placed on the grid (the model hears straight time) and the answer's steps are played on
//! the swung grid. A change of swing takes effect from a whole beat, where swung and
//! straight time meet, so no step is played twice or skipped. Fixed-size state only.

/// The second onset's position in a straight pair.
pub const STRAIGHT: f64 = 0.5;
/// The latest position followed: 3:1.
pub const MOST: f64 = 0.75;
/// Pairs the meter averages over, for each unit.
const PAIRS: usize = 16;
/// How near the start of its span an onset must be to start a pair (of the span).
const ON_THE_BEAT: f64 = 0.12;
/// Where in its span the pair's second onset may fall, straight to a little past 3:1.
const OFF_BEAT: (f64, f64) = (0.42, 0.8);

/// What is swung: pairs of eighths (a beat's two halves) or of sixteenths (each half's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Eighths,
    Sixteenths,
}

impl Unit {
    /// The span of a pair, in beats.
    pub fn span(self) -> f64 {
        match self {
            Unit::Eighths => 1.0,
            Unit::Sixteenths => 0.5,
        }
    }
}

/// A swing: what is swung, and where the second of each pair falls in its span.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Groove {
    pub unit: Unit,
    pub position: f64,
}

impl Groove {
    pub const STRAIGHT: Groove = Groove { unit: Unit::Eighths, position: STRAIGHT };

    /// Swung eighths of `ratio` (long : short).
    pub fn eighths(ratio: f64) -> Groove {
        Groove { unit: Unit::Eighths, position: position_of_ratio(ratio) }
    }

    fn clamped(self) -> Groove {
        Groove { position: self.position.clamp(STRAIGHT, MOST), ..self }
    }

    /// Where a straight beat position sounds.
    fn swung(self, beat: f64) -> f64 {
        let span = self.unit.span();
        let start = (beat / span).floor() * span;
        let (f, p) = ((beat - start) / span, self.position);
        start + span * if f < 0.5 { 2.0 * p * f } else { p + 2.0 * (1.0 - p) * (f - 0.5) }
    }

    /// The straight beat position of a swung one.
    fn straightened(self, beat: f64) -> f64 {
        let span = self.unit.span();
        let start = (beat / span).floor() * span;
        let (f, p) = ((beat - start) / span, self.position);
        start + span * if f < p { f / (2.0 * p) } else { 0.5 + (f - p) / (2.0 * (1.0 - p)) }
    }
}

/// The position of a swing ratio (long : short, 1 = straight).
pub fn position_of_ratio(ratio: f64) -> f64 {
    (ratio / (1.0 + ratio)).clamp(STRAIGHT, MOST)
}

/// The ratio (long : short) of an off-beat position.
pub fn ratio_of(position: f64) -> f64 {
    position / (1.0 - position)
}

/// The grid's swing: one groove before a whole beat and another from it on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Swing {
    before: Groove,
    after: Groove,
    from_beat: f64,
}

impl Default for Swing {
    fn default() -> Self {
        Swing::steady(Groove::STRAIGHT)
    }
}

impl Swing {
    /// The same groove at every beat.
    pub fn steady(groove: Groove) -> Swing {
        let g = groove.clamped();
        Swing { before: g, after: g, from_beat: f64::NEG_INFINITY }
    }

    /// `groove` from the first whole beat at or after `beat` (timeline beats).
    pub fn change(&mut self, groove: Groove, beat: f64) {
        let from = beat.ceil();
        let now = self.groove_at(from - 1.0);
        *self = Swing { before: now, after: groove.clamped(), from_beat: from };
    }

    /// The groove of the beat that starts at whole beat `beat`.
    fn groove_at(&self, beat: f64) -> Groove {
        if beat >= self.from_beat {
            self.after
        } else {
            self.before
        }
    }

    /// The groove in effect from now on (what the editor shows).
    pub fn groove(&self) -> Groove {
        self.after
    }

    /// Where a straight beat position sounds on the swung grid.
    pub fn swung(&self, beat: f64) -> f64 {
        self.groove_at(beat.floor()).swung(beat)
    }

    /// The straight beat position of a swung one (the inverse of [`Swing::swung`]).
    pub fn straightened(&self, beat: f64) -> f64 {
        self.groove_at(beat.floor()).straightened(beat)
    }
}

/// Measures the player's swing: each pair of eighths (an onset near a beat, the next one in
/// the middle part of the same beat) or of sixteenths (the same within a half beat) gives a
/// position; the meter keeps the last [`PAIRS`] of each and follows the unit of the last
/// pair heard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SwingMeter {
    last: Option<f64>,
    eighths: Pairs,
    sixteenths: Pairs,
    unit: Unit,
}

/// The positions of the last pairs of one unit.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pairs {
    positions: [f64; PAIRS],
    len: usize,
    at: usize,
}

impl Pairs {
    const NONE: Pairs = Pairs { positions: [STRAIGHT; PAIRS], len: 0, at: 0 };

    fn push(&mut self, position: f64) {
        self.positions[self.at] = position;
        self.at = (self.at + 1) % PAIRS;
        self.len = (self.len + 1).min(PAIRS);
    }

    /// Their mean, once two were heard.
    fn mean(&self) -> Option<f64> {
        (self.len >= 2).then(|| self.positions[..self.len].iter().sum::<f64>() / self.len as f64)
    }
}

impl Default for SwingMeter {
    fn default() -> Self {
        SwingMeter { last: None, eighths: Pairs::NONE, sixteenths: Pairs::NONE, unit: Unit::Eighths }
    }
}

/// The position of `beat` in a pair of span `span` that starts near `last`, if `last`
/// starts one and `beat` is its second.
fn pair_position(last: f64, beat: f64, span: f64) -> Option<f64> {
    let start = (last / span).round() * span;
    let f = (beat - start) / span;
    ((last - start).abs() <= ON_THE_BEAT * span && (OFF_BEAT.0..OFF_BEAT.1).contains(&f)).then_some(f)
}

impl SwingMeter {
    /// A melody onset at `beat` (timeline beats, not placed on any grid).
    pub fn hear(&mut self, beat: f64) {
        if let Some(last) = self.last {
            if let Some(f) = pair_position(last, beat, Unit::Eighths.span()) {
                self.eighths.push(f);
                self.unit = Unit::Eighths;
            } else if let Some(f) = pair_position(last, beat, Unit::Sixteenths.span()) {
                self.sixteenths.push(f);
                self.unit = Unit::Sixteenths;
            }
        }
        self.last = Some(beat);
    }

    /// The groove heard: the mean position of the last pairs of the unit last heard (within
    /// straight and 3:1), once two such pairs have been.
    pub fn groove(&self) -> Option<Groove> {
        self.groove_of(self.unit)
    }

    /// The groove of the pairs of `unit` heard, once two have been.
    pub fn groove_of(&self, unit: Unit) -> Option<Groove> {
        let pairs = match unit {
            Unit::Eighths => &self.eighths,
            Unit::Sixteenths => &self.sixteenths,
        };
        pairs.mean().map(|position| Groove { unit, position }.clamped())
    }

    /// Forget what was heard (a reset: the next player may play straight).
    pub fn clear(&mut self) {
        *self = SwingMeter::default();
    }
}

/// How near a third of a beat an onset must be to count as a triplet's (beats).
const NEAR_A_THIRD: f64 = 0.05;

/// Hears whether a phrase is played in triplets: most of its onsets off the beat fall on a
/// third of it, and some on the first third (which swing never puts a note on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TripletMeter {
    off_beat: u32,
    on_thirds: u32,
    on_first_thirds: u32,
}

impl TripletMeter {
    /// A melody onset at `beat` (timeline beats).
    pub fn hear(&mut self, beat: f64) {
        let f = beat - beat.floor();
        if f.min(1.0 - f) <= ON_THE_BEAT / 2.0 {
            return;
        }
        self.off_beat += 1;
        let first = (f - 1.0 / 3.0).abs() <= NEAR_A_THIRD;
        if first || (f - 2.0 / 3.0).abs() <= NEAR_A_THIRD {
            self.on_thirds += 1;
            self.on_first_thirds += u32::from(first);
        }
    }

    /// Whether the phrase heard since the last call was in triplets (and start the next).
    pub fn phrase_ended(&mut self) -> bool {
        let triplets = self.off_beat >= 4 && self.on_thirds * 5 >= self.off_beat * 3 && self.on_first_thirds >= 2;
        *self = TripletMeter::default();
        triplets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swung_and_straightened_undo_each_other_and_keep_whole_beats() {
        for unit in [Unit::Eighths, Unit::Sixteenths] {
            let swing = Swing::steady(Groove { unit, position: position_of_ratio(2.0) });
            for k in 0..32 {
                let beat = k as f64 / 8.0;
                assert!((swing.straightened(swing.swung(beat)) - beat).abs() < 1e-12);
            }
            assert_eq!(swing.swung(5.0), 5.0);
        }
        // 2:1 eighths put the sixteenths of a beat at 0, 1/3, 2/3 and 5/6; 2:1 sixteenths at
        // 0, 1/3, 1/2 and 5/6.
        for (unit, want) in [
            (Unit::Eighths, [0.0, 1.0 / 3.0, 2.0 / 3.0, 5.0 / 6.0]),
            (Unit::Sixteenths, [0.0, 1.0 / 3.0, 0.5, 5.0 / 6.0]),
        ] {
            let swing = Swing::steady(Groove { unit, position: 2.0 / 3.0 });
            let inside: Vec<f64> = (0..4).map(|k| swing.swung(3.0 + k as f64 / 4.0) - 3.0).collect();
            for (got, want) in inside.iter().zip(want) {
                assert!((got - want).abs() < 1e-12, "{unit:?}: {inside:?}");
            }
        }
    }

    #[test]
    fn a_change_takes_effect_from_the_next_whole_beat() {
        let mut swing = Swing::default();
        swing.change(Groove::eighths(2.0), 4.2);
        assert_eq!(swing.swung(4.5), 4.5, "the beat already begun stays straight");
        assert!((swing.swung(5.5) - (5.0 + 2.0 / 3.0)).abs() < 1e-12);
        // Steps stay in order across the change, none twice.
        let beats: Vec<f64> = (16..28).map(|k| swing.swung(k as f64 / 4.0)).collect();
        assert!(beats.windows(2).all(|w| w[0] < w[1]), "{beats:?}");
        swing.change(Groove { unit: Unit::Sixteenths, position: 2.0 / 3.0 }, 7.0);
        assert!((swing.swung(6.5) - (6.0 + 2.0 / 3.0)).abs() < 1e-12 && swing.swung(7.5) == 7.5);
    }

    #[test]
    fn the_meter_hears_pairs_of_eighths_or_sixteenths() {
        for ratio in [1.0, 1.5, 2.0, 2.5, 3.0] {
            let p = ratio / (1.0 + ratio);
            for unit in [Unit::Eighths, Unit::Sixteenths] {
                let mut meter = SwingMeter::default();
                let span = unit.span();
                for pair in 0..8 {
                    meter.hear(pair as f64 * span + 0.01);
                    meter.hear(pair as f64 * span + p * span);
                }
                let groove = meter.groove().unwrap();
                assert_eq!(groove.unit, unit, "{ratio}");
                assert!((ratio_of(groove.position) - ratio).abs() < 0.1, "{ratio} {unit:?}");
            }
        }
        let mut quarters = SwingMeter::default();
        (0..8).for_each(|b| quarters.hear(b as f64));
        assert_eq!(quarters.groove(), None);
    }

    #[test]
    fn triplets_are_told_from_swing_and_straight_time() {
        let mut meter = TripletMeter::default();
        let mut phrase = |onsets: &[f64]| {
            onsets.iter().for_each(|&b| meter.hear(b));
            meter.phrase_ended()
        };
        let triplets: Vec<f64> = (0..12).map(|k| k as f64 / 3.0).collect();
        let swung: Vec<f64> = (0..8).flat_map(|b| [b as f64, b as f64 + 2.0 / 3.0]).collect();
        let straight: Vec<f64> = (0..16).map(|k| k as f64 / 4.0).collect();
        assert!(phrase(&triplets));
        assert!(!phrase(&swung), "swung eighths are not triplets");
        assert!(!phrase(&straight));
        assert!(!phrase(&[]), "each phrase is heard afresh");
    }
}
