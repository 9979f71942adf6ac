//! Develop: an answer that takes up the call's own material. A repeat is one decision for a
//! composer, but ten for a sampler (a motif's notes and holds, each sampled the way the call
//! had them), so it almost never happens by chance (`../shared/notes/continuation.md`).
//! Here it is one decision: at each bar line of the answer, with the Develop control's
//! probability, the bar is planned as a copy of an earlier bar at the same place in the
//! metre (one, two, four or eight bars back; four first, where a four-bar call's phrase
//! starts again), as it was or transposed within the key (a sequence), in the octave
//! nearest to the note before it, and each of its
//! steps mixes the planned token into the model's distribution:
//! p = (1 − λ) p_model + λ·[planned]. The model may still depart from the plan (the mix
//! keeps its own choices); the bar's last beat is copied more loosely ([`VARIED_END`]), so a
//! copied bar can end another way. Develop 0 leaves the model's distribution untouched.
//!
//! Plain data over the model's token ids (its key frame); allocates only when made or
//! primed. Runs wherever the continuer runs: the plugin's inference worker, `trainer`.

use crate::encoding::Token;
use crate::metre::Metre;
use crate::sampler::softmax;
use crate::vocab::Vocabulary;
use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// The Develop control's default (plugin and `trainer`): at Memory 0.4 on the validation
/// splits of Essen and O'Neill's, the setting whose motif reuse is closest to the composers'
/// on both (`models/README.md`, "The continuation benchmark"). With the lookback model the
/// answers take up the call by themselves as often as the composers do, and that is 0; it
/// was 0.9 for the model before, which did not look back.
pub const DEFAULT_DEVELOP: f32 = 0.0;
/// The mix's share of the planned token on a copied bar's steps.
pub const COPY_STRENGTH: f32 = 0.97;
/// The share on the last beat of a copied bar (room for a varied ending).
pub const VARIED_END: f32 = 0.7;
/// Of the copied bars, the share transposed within the key (the rest are copied as they
/// were).
pub const TRANSPOSED: f64 = 0.3;
/// How many bars back a copied bar comes from, and how often (four first: a four-bar call's
/// phrase begins again).
const LOOKBACK: [(usize, f64); 4] = [(4, 0.5), (2, 0.25), (1, 0.15), (8, 0.1)];
/// The transpositions a sequence may take (semitones), when they keep every note of the
/// bar in the key.
const SEQUENCE_SHIFTS: [i32; 8] = [-7, -5, -4, -3, 3, 4, 5, 7];
/// C major's pitch classes: the key frame of a key-normalised model.
const FRAME_SCALE: u16 = 0b1010_1011_0101;

/// The bar a plan copies, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    /// History index of the source bar's downbeat.
    source: usize,
    /// Semitones, within -12..=12.
    shift: i32,
}

/// The Develop control's state: the history of the piece, its metre and this bar's plan.
#[derive(Debug, Clone)]
pub struct Developer {
    /// Each id transposed by -12..=12 semitones (index shift + 12), if in the vocabulary.
    shifted: Vec<[Option<u32>; 25]>,
    /// Each id's pitch classes as a bit set (0 for holds, rests and the end).
    classes: Vec<u16>,
    /// Each id's highest pitch (holds, rests and the end have none).
    top: Vec<Option<u8>>,
    /// Sequences are transposed within C major (the model's key frame).
    diatonic: bool,
    history: Vec<u32>,
    metre: Metre,
    /// History length when the answer began.
    answer_start: usize,
    plan: Option<Plan>,
    rng: Pcg64Mcg,
    probs: Vec<f32>,
}

impl Developer {
    /// For a vocabulary; `diatonic`: the model's frame is C major / A minor.
    pub fn new(vocab: &Vocabulary, diatonic: bool, metre: Metre) -> Developer {
        let shifted = vocab
            .tokens()
            .iter()
            .map(|t| {
                let mut row = [None; 25];
                for (i, slot) in row.iter_mut().enumerate() {
                    *slot = t.transposed(i as i32 - 12).and_then(|t| vocab.id(&t));
                }
                row
            })
            .collect();
        let classes = vocab.tokens().iter().map(Token::pitch_classes).collect();
        let top = vocab.tokens().iter().map(Token::top).collect();
        Developer {
            shifted,
            classes,
            top,
            diatonic,
            history: Vec::new(),
            metre,
            answer_start: 0,
            plan: None,
            rng: Pcg64Mcg::seed_from_u64(0),
            probs: vec![0.0; vocab.len()],
        }
    }

    /// Start again from what was primed (ids, without the leading `/`), in `metre` (whose
    /// steps count the history: index 0 is the first id primed).
    pub fn prime(&mut self, ids: &[u32], metre: Metre) {
        self.history.clear();
        self.history.extend_from_slice(ids);
        self.metre = metre;
        self.answer_start = ids.len();
        self.plan = None;
    }

    pub fn metre(&self) -> Metre {
        self.metre
    }

    /// Steps in the history (what was primed and played since).
    pub fn len(&self) -> usize {
        self.history.len()
    }

    pub fn is_empty(&self) -> bool {
        self.history.is_empty()
    }

    pub fn reseed(&mut self, seed: u64) {
        self.rng = Pcg64Mcg::seed_from_u64(seed ^ 0x9e37_79b9_7f4a_7c15);
    }

    /// The token chosen at this step.
    pub fn heard(&mut self, id: u32) {
        self.history.push(id);
    }

    /// A uniform number in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Whether the bar starting at history index `start` holds an onset.
    fn has_onset(&self, start: usize) -> bool {
        let end = (start + self.metre.bar_steps as usize).min(self.history.len());
        self.history[start..end].iter().any(|&id| self.classes[id as usize] != 0)
    }

    /// The pitch classes the bar at `start` sounds, transposed by `shift`.
    fn bar_classes(&self, start: usize, shift: i32) -> u16 {
        let end = (start + self.metre.bar_steps as usize).min(self.history.len());
        self.history[start..end].iter().fold(0u16, |m, &id| {
            let (c, s) = (self.classes[id as usize] as u32, shift.rem_euclid(12));
            m | ((c << s | c >> (12 - s)) & 0xfff) as u16
        })
    }

    /// The plan for the bar whose downbeat is history index `downbeat` (it may be before
    /// the answer's first step): with probability `develop`, an earlier bar with an onset.
    /// Allocates nothing.
    fn choose(&mut self, develop: f32, downbeat: isize) -> Option<Plan> {
        if self.uniform() >= develop as f64 {
            return None;
        }
        let bar = self.metre.bar_steps as isize;
        let mut candidates = [(0usize, 0.0f64); LOOKBACK.len()];
        let mut total = 0.0;
        for (slot, &(back, weight)) in candidates.iter_mut().zip(&LOOKBACK) {
            let source = downbeat - back as isize * bar;
            if source >= 0 && self.has_onset(source as usize) {
                *slot = (source as usize, weight);
                total += weight;
            }
        }
        let mut pick = self.uniform() * total;
        let &(source, _) = candidates.iter().filter(|c| c.1 > 0.0).find(|c| {
            pick -= c.1;
            pick < 0.0
        })?;
        let mut shift = 0;
        if self.diatonic && self.uniform() < TRANSPOSED {
            let r = self.uniform();
            let fits = |s: &&i32| self.bar_classes(source, **s) & !FRAME_SCALE == 0;
            let count = SEQUENCE_SHIFTS.iter().filter(fits).count();
            if count > 0 {
                let k = (r * count as f64) as usize % count;
                shift = *SEQUENCE_SHIFTS.iter().filter(fits).nth(k).expect("k < count");
            }
        }
        Some(Plan { source, shift: self.nearest_octave(source, shift) })
    }

    /// `shift`, or an octave more or less (within −12..=12), whichever puts the source
    /// bar's first note nearest to the last note played: a copied bar joins what came
    /// before it without a leap that its call did not have.
    fn nearest_octave(&self, source: usize, shift: i32) -> i32 {
        let last = self.history.iter().rev().find_map(|&id| self.top[id as usize]);
        let end = (source + self.metre.bar_steps as usize).min(self.history.len());
        let first = self.history[source..end].iter().find_map(|&id| self.top[id as usize]);
        let (Some(last), Some(first)) = (last, first) else { return shift };
        let leap = |s: i32| (first as i32 + s - last as i32).abs();
        [shift, shift - 12, shift + 12]
            .into_iter()
            .filter(|s| (-12..=12).contains(s))
            .min_by_key(|&s| leap(s))
            .unwrap_or(shift)
    }

    /// Mix this step's planned token into `logits` (the next step's, in the model's ids) at
    /// the Develop control's `develop` (0..=1), planning a bar at each bar line (and at the
    /// answer's first step). Allocates nothing.
    pub fn shape(&mut self, logits: &mut [f32], develop: f32) {
        let develop = develop.clamp(0.0, 1.0);
        let t = self.history.len();
        let (bar, position) = (self.metre.bar_steps as usize, self.metre.position(t as i64));
        if develop == 0.0 {
            self.plan = None;
            return;
        }
        if position == 0 || t == self.answer_start {
            // The source bar's step `position` is always before `t`.
            self.plan = self.choose(develop, t as isize - position as isize);
        }
        let Some(plan) = self.plan else { return };
        let source = self.history[plan.source + position];
        let Some(target) = self.shifted[source as usize][(plan.shift + 12) as usize] else { return };
        let beat = bar / self.beats_in_bar().max(1);
        let strength = if position + beat >= bar { VARIED_END } else { COPY_STRENGTH };
        let v = logits.len().min(self.probs.len());
        softmax(&logits[..v], &mut self.probs[..v]);
        for (i, (l, &p)) in logits.iter_mut().zip(&self.probs[..v]).enumerate() {
            let planned = if i == target as usize { strength } else { 0.0 };
            *l = ((1.0 - strength) * p + planned).max(1e-30).ln();
        }
    }

    /// Beats in a bar, guessed from its length in steps on a 16th grid (3 for 12 steps).
    fn beats_in_bar(&self) -> usize {
        match self.metre.bar_steps as usize {
            b if b % 4 == 0 => b / 4,
            b if b % 3 == 0 => b / 3,
            b => b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::EncodingSpec;

    /// The token a Develop plan wants at this step: `None` without a plan.
    fn planned(d: &Developer, vocab: &Vocabulary) -> Option<Token> {
        let plan = d.plan?;
        let source = d.history[plan.source + d.metre.position(d.history.len() as i64)];
        d.shifted[source as usize][(plan.shift + 12) as usize].and_then(|id| vocab.token(id).cloned())
    }

    fn vocab() -> Vocabulary {
        Vocabulary::from_tokens(EncodingSpec::melody(48..=84).vocabulary).unwrap()
    }

    fn ids(v: &Vocabulary, s: &str) -> Vec<u32> {
        s.split_whitespace().map(|t| v.id(&t.parse().unwrap()).unwrap()).collect()
    }

    /// Answer `steps` steps after `call` with a flat model at full Develop, taking the
    /// likeliest token each step.
    fn answer(call: &str, bar_steps: usize, position: usize, steps: usize, develop: f32) -> Vec<Token> {
        let v = vocab();
        let call = ids(&v, call);
        let downbeat = call.len() as i64 - position as i64;
        let mut d = Developer::new(&v, true, Metre::four_four(crate::Grid::SIXTEENTH));
        d.reseed(7);
        d.prime(&call, Metre { bar_steps: bar_steps as u32, downbeat });
        let mut out = Vec::new();
        for _ in 0..steps {
            let mut logits = vec![0.0f32; v.len()];
            d.shape(&mut logits, develop);
            let best = (0..v.len()).max_by(|&a, &b| logits[a].total_cmp(&logits[b])).unwrap() as u32;
            d.heard(best);
            out.push(v.token(best).unwrap().clone());
        }
        out
    }

    #[test]
    fn a_developed_answer_takes_up_the_calls_bars_in_its_metre() {
        // Two bars of 3/4 (12 steps each on a 16th grid).
        let call = "60 _ _ _ 64 _ _ _ 67 _ _ _ 65 _ _ _ 64 _ 62 _ 60 _ _ _";
        let out = answer(call, 12, 0, 24, 1.0);
        let bars: Vec<Vec<Token>> = out.chunks(12).map(<[Token]>::to_vec).collect();
        // Every step of the answer is on the grid of a bar of the call: onsets where the
        // call's bars have them, each bar a copy of one of them (maybe transposed).
        for bar in &bars {
            let onsets: Vec<usize> = (0..12).filter(|&i| !bar[i].pitches().is_empty()).collect();
            assert!(onsets == [0, 4, 8] || onsets == [0, 4, 6, 8], "{out:?}");
        }
    }

    #[test]
    fn develop_zero_leaves_the_model_alone_and_metre_counts_from_the_position_given() {
        let v = vocab();
        let mut d = Developer::new(&v, true, Metre::four_four(crate::Grid::SIXTEENTH));
        d.prime(&ids(&v, "60 _ 62 _"), Metre { bar_steps: 12, downbeat: -4 });
        assert_eq!(d.metre().position(4), 8);
        assert_eq!(d.metre().position(0), 4);
        let mut logits = vec![0.5f32; v.len()];
        d.shape(&mut logits, 0.0);
        assert!(logits.iter().all(|&l| l == 0.5));
        assert_eq!(planned(&d, &v), None);
    }

    #[test]
    fn sequences_stay_in_the_key() {
        let call = "60 _ 62 _ 64 _ 65 _ 67 _ 65 _ 64 _ 62 _";
        for seed in 0..20 {
            let v = vocab();
            let mut d = Developer::new(&v, true, Metre::four_four(crate::Grid::SIXTEENTH));
            d.reseed(seed);
            d.prime(&ids(&v, call), Metre::four_four(crate::Grid::SIXTEENTH));
            for _ in 0..16 {
                let mut logits = vec![0.0f32; v.len()];
                d.shape(&mut logits, 1.0);
                if let Some(t) = planned(&d, &v) {
                    assert!(t.pitches().iter().all(|p| FRAME_SCALE & (1 << (p % 12)) != 0), "{t:?}");
                }
                let best = (0..v.len()).max_by(|&a, &b| logits[a].total_cmp(&logits[b])).unwrap() as u32;
                d.heard(best);
            }
        }
    }
}
