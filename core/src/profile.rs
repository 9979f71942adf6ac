//! The piece's pitch-class profile: how often each of the twelve pitch classes has sounded in
//! what the session memory heard (the call, earlier phrases, the answer so far), as a prior
//! over which pitch class an onset takes. It is the short-term model at order 0 over pitch
//! classes (IDyOM's), beside the memory's token contexts: it keeps an answer in the call's own
//! pitch world (its mode, its favourite degrees) without copying its motifs. The pitch just
//! played gets no pull from it (it takes the profile's least likely class), so the prior never
//! makes notes repeat.
//!
//! Blended at Memory × [`PROFILE_SCALE`]: onset logits move by that weight × ln p(class), and
//! the onsets' total probability stays as it was, so the rhythm is untouched. Chosen on the
//! validation splits (`models/README.md`, "The call's pitch classes").
//!
//! Plain data over the model's ids; [`PitchProfile::shape`] allocates nothing. Runs wherever
//! the continuer runs (the plugin's inference worker, `trainer`).

use crate::encoding::Token;
use crate::vocab::Vocabulary;

/// The profile's weight at Memory 1.
pub const PROFILE_SCALE: f32 = 0.75;

#[derive(Debug, Clone)]
pub struct PitchProfile {
    /// Onsets heard per pitch class.
    counts: [f32; 12],
    /// Each id's pitch classes as a bit set (0: hold, rest, end), and its highest pitch.
    classes: Vec<u16>,
    top: Vec<Option<u8>>,
    /// The last pitch heard.
    last: Option<u8>,
}

impl PitchProfile {
    pub fn new(vocab: &Vocabulary) -> PitchProfile {
        PitchProfile {
            counts: [0.0; 12],
            classes: vocab.tokens().iter().map(Token::pitch_classes).collect(),
            top: vocab.tokens().iter().map(Token::top).collect(),
            last: None,
        }
    }

    /// Forget everything heard.
    pub fn forget(&mut self) {
        self.counts = [0.0; 12];
        self.last = None;
    }

    /// `id` sounded (or held, or rested).
    pub fn observe(&mut self, id: u32) {
        let classes = self.classes.get(id as usize).copied().unwrap_or(0);
        for (class, count) in self.counts.iter_mut().enumerate() {
            *count += (classes >> class & 1) as f32;
        }
        self.last = self.top.get(id as usize).copied().flatten().or(self.last);
    }

    /// ln p(class) for each class, smoothed by one count each.
    fn log_probabilities(&self) -> [f32; 12] {
        let total: f32 = self.counts.iter().sum::<f32>() + 12.0;
        self.counts.map(|c| ((c + 1.0) / total).ln())
    }

    /// Move the onsets of `logits` (`onset[id]`) towards the profile by
    /// `memory` × [`PROFILE_SCALE`], keeping their total probability; nothing when nothing
    /// was heard or `memory` is 0.
    pub fn shape(&self, logits: &mut [f32], onset: &[bool], memory: f32) {
        let weight = memory.clamp(0.0, 1.0) * PROFILE_SCALE;
        if weight == 0.0 || self.counts.iter().all(|&c| c == 0.0) {
            return;
        }
        let log_p = self.log_probabilities();
        let lowest = log_p.iter().copied().fold(f32::INFINITY, f32::min);
        let n = logits.len();
        let ids = || (0..n).filter(|&id| onset[id] && self.classes[id] != 0);
        let before = log_sum_exp(logits, ids());
        for id in ids() {
            let classes = self.classes[id];
            let again = self.last.is_some() && self.top[id] == self.last;
            let mean =
                (0..12).filter(|k| classes >> k & 1 == 1).map(|k| log_p[k]).sum::<f32>() / classes.count_ones() as f32;
            logits[id] += weight * if again { lowest } else { mean };
        }
        let after = log_sum_exp(logits, ids());
        if before.is_finite() && after.is_finite() {
            ids().for_each(|id| logits[id] += before - after);
        }
    }
}

/// ln Σ exp(logits[id]) over `ids` (−∞ when empty or all −∞).
fn log_sum_exp(logits: &[f32], ids: impl Iterator<Item = usize> + Clone) -> f32 {
    let max = ids.clone().map(|id| logits[id]).fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return max;
    }
    max + ids.map(|id| (logits[id] - max).exp()).sum::<f32>().ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::EncodingSpec;

    fn probabilities(logits: &[f32]) -> Vec<f32> {
        let mut p = vec![0.0; logits.len()];
        crate::sampler::softmax(logits, &mut p);
        p
    }

    #[test]
    fn onsets_move_towards_the_heard_classes_the_rhythm_and_a_repeat_do_not() {
        let v = Vocabulary::from_tokens(EncodingSpec::melody(60..=72).vocabulary).unwrap();
        let id = |t: &str| v.id(&t.parse().unwrap()).unwrap() as usize;
        let onset: Vec<bool> = v.tokens().iter().map(|t| !t.pitches().is_empty()).collect();
        let mut profile = PitchProfile::new(&v);
        let flat = vec![0.0f32; v.len()];
        let mut logits = flat.clone();
        profile.shape(&mut logits, &onset, 1.0);
        assert_eq!(logits, flat, "nothing heard: nothing moves");
        // A call of Gs and Cs, ending on a G.
        for t in ["67", "_", "60", "67", "72", "67"] {
            profile.observe(id(t) as u32);
        }
        let mut logits = flat.clone();
        profile.shape(&mut logits, &onset, 0.4);
        let (before, after) = (probabilities(&flat), probabilities(&logits));
        assert!(after[id("60")] > before[id("60")] && after[id("72")] > after[id("61")], "{after:?}");
        assert!(after[id("60")] > after[id("62")], "C was heard, D was not");
        // The G just played gets no pull: no more likely than a class never heard.
        assert!(after[id("67")] <= after[id("62")] + 1e-6, "{} {}", after[id("67")], after[id("62")]);
        for t in ["_", "r"] {
            assert!((after[id(t)] - before[id(t)]).abs() < 1e-6, "{t}: the rhythm moved");
        }
        let mut logits = flat.clone();
        profile.shape(&mut logits, &onset, 0.0);
        assert_eq!(logits, flat, "Memory 0: nothing moves");
        profile.forget();
        let mut logits = flat.clone();
        profile.shape(&mut logits, &onset, 1.0);
        assert_eq!(logits, flat);
    }
}
