//! Metre: where each step of a piece falls in its bar, and which bar of a four-bar phrase
//! it is in. A song records its metre as spans (`corpus`); a continuer knows it from the
//! seed's time signature or the host's bar position. A metre-aware model (its card names
//! the input `metre`) gets, beside each token, two rows of its embedding table after the
//! vocabulary's: one for the step's position in a bar of its length, one for its bar within
//! a four-bar group counted from the first downbeat (a pickup is the group's fourth bar),
//! as Magenta's Lookback RNN gives its melody RNN a bar-position counter.
//!
//! Plain data, no allocation. Used by `prepare`, the trainer and the continuer (the
//! plugin's inference worker).

use crate::grid::Grid;
use crate::score::Score;
use serde::{Deserialize, Serialize};

/// Positions within a bar that have rows of their own (later steps share the last).
pub const POSITIONS: usize = 48;
/// Bar lengths in steps with rows of their own (2/4, 3/4 or 6/8, 4/4, 6/4 or 12/8, 4/2 on a
/// 16th grid); another length takes the nearest one's rows.
pub const BAR_KINDS: [usize; 5] = [8, 12, 16, 24, 32];
/// Bars in the group a bar counts within.
pub const PHRASE_BARS: usize = 4;
/// Rows of the position table: one for "unknown", then one per bar kind and position.
pub const POSITION_ROWS: usize = 1 + BAR_KINDS.len() * POSITIONS;
/// Rows after the vocabulary's in a metre-aware model's embedding table: the position rows,
/// then "unknown" and one per bar of the group.
pub const METRE_ROWS: usize = POSITION_ROWS + 1 + PHRASE_BARS;
/// The rows of a step whose metre is not known (a song's `/`, music without a metre).
pub const UNKNOWN: [u32; 2] = [0, POSITION_ROWS as u32];

/// Bars of `bar_steps` steps, one of whose downbeats is step `downbeat` (of whatever the
/// steps count: a song's tokens, a continuer's history).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metre {
    pub bar_steps: u32,
    pub downbeat: i64,
}

impl Metre {
    /// 4/4 on `grid`, from step 0.
    pub fn four_four(grid: Grid) -> Metre {
        Metre { bar_steps: 4 * grid.steps_per_beat, downbeat: 0 }
    }

    /// The step's position in its bar (steps after its downbeat).
    pub fn position(self, step: i64) -> usize {
        step.saturating_sub(self.downbeat).rem_euclid(self.bar_steps.max(1) as i64) as usize
    }

    /// The step's bar, counted from the bar that starts at `downbeat` (earlier bars are
    /// negative).
    pub fn bar(self, step: i64) -> i64 {
        step.saturating_sub(self.downbeat).div_euclid(self.bar_steps.max(1) as i64)
    }

    /// The step's two metre rows (relative to the end of the vocabulary's rows).
    pub fn rows(self, step: i64) -> [u32; 2] {
        let bar = self.bar_steps as usize;
        let kind = (0..BAR_KINDS.len()).min_by_key(|&k| BAR_KINDS[k].abs_diff(bar)).expect("kinds");
        let position = 1 + kind * POSITIONS + self.position(step).min(POSITIONS - 1);
        let group = self.bar(step).rem_euclid(PHRASE_BARS as i64) as usize;
        [position as u32, (POSITION_ROWS + 1 + group) as u32]
    }
}

/// A stretch of a song in one metre: from step `from` on (until the next span).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetreSpan {
    pub from: u32,
    pub metre: Metre,
}

/// The metre rows of step `step` of a song with `spans` (sorted by `from`); unknown without
/// spans.
pub fn rows_at(spans: &[MetreSpan], step: i64) -> [u32; 2] {
    let span = spans.iter().take_while(|s| s.from as i64 <= step).last().or(spans.first());
    span.map_or(UNKNOWN, |s| s.metre.rows(step))
}

/// Onsets this much louder on average (MIDI velocity) at one place in the bar than
/// elsewhere mark the downbeat.
pub const ACCENT: f64 = 8.0;

/// Where a stretch of a score without bar lines has its downbeats, from its accents: MIDI
/// files made from notation (abc2midi's, O'Neill's tunes among them) play a bar's first beat
/// louder. The step within a bar of `bar_steps` (counted from `from`) whose onsets are the
/// loudest on average, when they are [`ACCENT`] louder than the others and there are at
/// least three of them; `None` for even velocities.
fn accented_downbeat(score: &Score, grid: Grid, from: f64, to: f64, bar_steps: i64) -> Option<i64> {
    let step = |beat: f64| (beat / grid.step_beats()).round() as i64;
    let (mut sum, mut count) = (vec![0.0f64; bar_steps as usize], vec![0usize; bar_steps as usize]);
    for n in score.notes.iter().filter(|n| n.onset >= from - 1e-9 && n.onset < to - 1e-9) {
        let phase = (step(n.onset) - step(from)).rem_euclid(bar_steps) as usize;
        sum[phase] += n.velocity as f64;
        count[phase] += 1;
    }
    let best = (0..bar_steps as usize)
        .filter(|&p| count[p] >= 3)
        .max_by(|&a, &b| (sum[a] / count[a] as f64).total_cmp(&(sum[b] / count[b] as f64)))?;
    let (rest_sum, rest_count) = (sum.iter().sum::<f64>() - sum[best], count.iter().sum::<usize>() - count[best]);
    let louder = sum[best] / count[best] as f64 - rest_sum / rest_count.max(1) as f64;
    (rest_count > 0 && louder >= ACCENT).then_some(step(from) + best as i64)
}

/// Where a score's first downbeat is, in beats: its first bar line when that comes before a
/// whole bar (a pickup); without bar lines, where its accents put it
/// ([`accented_downbeat`]); else 0.
pub fn first_downbeat(score: &Score) -> f64 {
    let grid = Grid::THIRTY_SECOND;
    spans_of(score, grid).first().map_or(0.0, |s| s.metre.downbeat as f64 * grid.step_beats())
}

/// The metre of a score on `grid`, one span per time signature (4/4 from 0 when it has
/// none). The first bar is a pickup when the score's first bar line comes before a whole
/// bar; a score without bar lines has its downbeats where its accents are
/// ([`accented_downbeat`]); else a time signature starts on a downbeat.
pub fn spans_of(score: &Score, grid: Grid) -> Vec<MetreSpan> {
    let step = |beat: f64| (beat / grid.step_beats()).round() as i64;
    let first = score.time_signature_at(0.0);
    let mut signatures = score.time_signatures.clone();
    if signatures.first().is_none_or(|t| t.beat_milli > 0) {
        signatures.insert(0, crate::score::TimeSignature { beat_milli: 0, ..first });
    }
    signatures
        .iter()
        .enumerate()
        .map(|(i, ts)| {
            let bar_steps = step(ts.bar_beats()).max(1) as u32;
            let from = step(ts.beat()).max(0);
            let pickup = score.bar_lines.first().copied().filter(|&b| b > 1e-9 && b < ts.bar_beats() - 1e-9);
            let to = signatures.get(i + 1).map_or(f64::INFINITY, |t| t.beat());
            let accented = || accented_downbeat(score, grid, ts.beat(), to, bar_steps as i64);
            let downbeat = match (i, pickup) {
                (0, Some(b)) => step(b),
                _ if score.bar_lines.is_empty() => accented().unwrap_or(from),
                _ => from,
            };
            MetreSpan { from: from as u32, metre: Metre { bar_steps, downbeat } }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::score::TimeSignature;

    #[test]
    fn positions_and_bars_count_from_the_downbeat() {
        let m = Metre { bar_steps: 12, downbeat: 4 };
        assert_eq!((m.position(4), m.position(3), m.position(16)), (0, 11, 0));
        assert_eq!((m.bar(3), m.bar(4), m.bar(52)), (-1, 0, 4));
        // The pickup is the fourth bar of a group; 3/4 has rows of its own.
        assert_eq!(m.rows(3), [1 + 48 + 11, POSITION_ROWS as u32 + 1 + 3]);
        assert_eq!(m.rows(4), [1 + 48, POSITION_ROWS as u32 + 1]);
        assert!(m.rows(1000).iter().zip([POSITION_ROWS, METRE_ROWS]).all(|(&r, end)| (r as usize) < end));
        // A hostile corpus file's downbeat does not overflow.
        let far = Metre { bar_steps: 0, downbeat: i64::MIN };
        assert!(far.rows(5).iter().zip([POSITION_ROWS, METRE_ROWS]).all(|(&r, end)| (r as usize) < end));
    }

    #[test]
    fn a_scores_metre_has_its_pickup_and_its_changes() {
        let ts = |beat: f64, numerator, denominator| TimeSignature {
            beat_milli: (beat * 1000.0) as i64,
            numerator,
            denominator,
        };
        let score = Score {
            time_signatures: vec![ts(0.0, 3, 4), ts(13.0, 6, 8)],
            bar_lines: vec![1.0, 4.0, 7.0, 10.0, 13.0],
            ..Score::default()
        };
        let spans = spans_of(&score, Grid::SIXTEENTH);
        assert_eq!(
            spans,
            vec![
                MetreSpan { from: 0, metre: Metre { bar_steps: 12, downbeat: 4 } },
                MetreSpan { from: 52, metre: Metre { bar_steps: 12, downbeat: 52 } },
            ]
        );
        assert_eq!(rows_at(&spans, 0)[0], 1 + 48 + 8);
        assert_eq!(rows_at(&[], 5), UNKNOWN);
        // Without bar lines, the accents: a 3/4 tune with a pickup of an eighth, whose bars'
        // first beats are played louder (as abc2midi writes them).
        let note = |onset: f64, velocity| crate::score::Note { onset, duration: 0.5, pitch: 60, velocity, voice: 0 };
        let mut notes = vec![note(0.0, 80)];
        for bar in 0..4 {
            let start = 0.5 + 3.0 * bar as f64;
            notes.extend([note(start, 105), note(start + 1.0, 80), note(start + 2.0, 80), note(start + 2.5, 80)]);
        }
        let tune = Score { notes, time_signatures: vec![ts(0.0, 3, 4)], ..Score::default() };
        assert_eq!(spans_of(&tune, Grid::SIXTEENTH)[0].metre, Metre { bar_steps: 12, downbeat: 2 });
        let even =
            Score { notes: tune.notes.iter().map(|n| crate::score::Note { velocity: 90, ..*n }).collect(), ..tune };
        assert_eq!(spans_of(&even, Grid::SIXTEENTH)[0].metre.downbeat, 0);
        assert_eq!(spans_of(&Score::default(), Grid::SIXTEENTH)[0].metre, Metre::four_four(Grid::SIXTEENTH));
    }
}
