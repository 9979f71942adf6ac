//! Session memory: a short-term model of the piece being played, in the model's token ids.
//! A variable-order Markov model (PPM) counts which token followed each context of the last
//! 0 to `max_order` tokens since the session started (or since it was told to forget), and
//! predicts the next token by blending its orders with PPM-C escape probabilities
//! (interpolated, as in the music-cognition literature's PPM models). [`blend`] mixes that
//! prediction with the LSTM's in the log domain, the memory's share set by the Memory
//! control and by the two models' entropies: the less sure the LSTM is of a step, compared
//! with the memory, the more the memory counts.
//!
//! Orders up to 64 tokens: on a 16th grid with holds, a motif of two bars is 32 tokens, and
//! on the Essen test split longer contexts kept helping (`trainer eval --memory`, see
//! `models/README.md`).
//!
//! Runs on the inference worker, or wherever `trainer` evaluates and generates; never on the
//! audio thread (it allocates as it learns). Bounded: at most `max_nodes` contexts; when
//! full, the least recently seen half is pruned.

use std::collections::HashMap;

/// The longest context the memory counts (tokens).
pub const MAX_ORDER: usize = 64;
/// The most contexts it keeps.
pub const MAX_NODES: usize = 200_000;
/// The memory's share of the blend at Memory 1 when both models are equally sure.
pub const MEMORY_SCALE: f32 = 0.15;
/// The normalised entropy below which a distribution counts as certain.
const ENTROPY_FLOOR: f32 = 0.01;
/// The probability below which a token counts as impossible in the log-domain blend.
const PROBABILITY_FLOOR: f32 = 1e-30;

/// What followed one context: (token id, count) pairs and their total.
#[derive(Debug, Clone, Default)]
struct Node {
    counts: Vec<(u32, u32)>,
    total: u32,
    last_seen: u64,
}

#[derive(Debug, Clone)]
pub struct Memory {
    vocab: usize,
    max_order: usize,
    max_nodes: usize,
    /// Contexts by the hash of their ids.
    nodes: HashMap<u64, Node>,
    /// The last `max_order` tokens, oldest first.
    history: Vec<u32>,
    /// Tokens observed so far (the recency clock for pruning).
    clock: u64,
}

/// The keys of the contexts of orders 0, 1, 2, … (the last 0, 1, 2, … ids of `history`),
/// each built from the one before: one pass over the history.
fn context_keys(history: &[u32]) -> impl Iterator<Item = u64> + '_ {
    let empty = 0xcbf2_9ce4_8422_2325u64;
    std::iter::once(empty).chain(history.iter().rev().scan(empty, |h, &id| {
        *h = (*h ^ (id as u64 + 1)).wrapping_mul(0x0000_0100_0000_01b3);
        *h ^= *h >> 29;
        Some(*h)
    }))
}

impl Memory {
    /// An empty memory over a vocabulary of `vocab` ids, with contexts up to `max_order`
    /// (at most [`MAX_ORDER`]).
    pub fn new(vocab: usize, max_order: usize) -> Memory {
        Memory::with_capacity(vocab, max_order, MAX_NODES)
    }

    /// As [`Memory::new`], keeping at most `max_nodes` contexts.
    pub fn with_capacity(vocab: usize, max_order: usize, max_nodes: usize) -> Memory {
        let max_order = max_order.min(MAX_ORDER);
        Memory {
            vocab,
            max_order,
            max_nodes: max_nodes.max(2),
            nodes: HashMap::new(),
            history: Vec::with_capacity(max_order + 1),
            clock: 0,
        }
    }

    /// Forget everything heard.
    pub fn forget(&mut self) {
        self.nodes.clear();
        self.history.clear();
        self.clock = 0;
    }

    /// Contexts kept now.
    pub fn contexts(&self) -> usize {
        self.nodes.len()
    }

    /// Tokens observed since the last [`Memory::forget`].
    pub fn observed(&self) -> u64 {
        self.clock
    }

    /// Learn that `id` came next, in every context order the history allows.
    pub fn observe(&mut self, id: u32) {
        if id as usize >= self.vocab {
            return;
        }
        self.clock += 1;
        for key in context_keys(&self.history) {
            let node = self.nodes.entry(key).or_default();
            node.total += 1;
            node.last_seen = self.clock;
            match node.counts.iter_mut().find(|(t, _)| *t == id) {
                Some((_, c)) => *c += 1,
                None => node.counts.push((id, 1)),
            }
        }
        if self.max_order > 0 {
            if self.history.len() == self.max_order {
                self.history.remove(0);
            }
            self.history.push(id);
        }
        if self.nodes.len() > self.max_nodes {
            self.prune();
        }
    }

    /// Keep the more recently seen half of the contexts.
    fn prune(&mut self) {
        let mut seen: Vec<u64> = self.nodes.values().map(|n| n.last_seen).collect();
        let middle = seen.len() / 2;
        let (_, &mut cut, _) = seen.select_nth_unstable(middle);
        self.nodes.retain(|_, n| n.last_seen > cut);
    }

    /// The probability of every id coming next, into `out` (`vocab` long). Each order whose
    /// context was seen, highest first, gives its counts c / (n + t) (n occurrences, t
    /// distinct tokens) and passes the rest, its escape probability t / (n + t) (PPM's
    /// method C), down to the orders below it; what the lowest passes on is spread evenly.
    pub fn predict(&self, out: &mut [f32]) {
        assert_eq!(out.len(), self.vocab, "one probability per id");
        out.fill(0.0);
        let mut keys = [0u64; MAX_ORDER + 1];
        let orders = keys.iter_mut().zip(context_keys(&self.history)).map(|(slot, key)| *slot = key).count();
        let mut mass = 1.0f32;
        for key in keys[..orders].iter().rev() {
            let Some(node) = self.nodes.get(key) else { continue };
            let (n, t) = (node.total as f32, node.counts.len() as f32);
            for &(id, c) in &node.counts {
                out[id as usize] += mass * c as f32 / (n + t);
            }
            mass *= t / (n + t);
        }
        let even = mass / self.vocab as f32;
        out.iter_mut().for_each(|p| *p += even);
    }
}

/// Normalised Shannon entropy (0..=1) of a probability distribution.
pub fn entropy_of(probs: &[f32]) -> f32 {
    if probs.len() < 2 {
        return 0.0;
    }
    let h: f32 = probs.iter().filter(|&&p| p > 0.0).map(|&p| -p * p.ln()).sum();
    (h / (probs.len() as f32).ln()).clamp(0.0, 1.0)
}

/// The memory's share of the blend: `weight` (the Memory control, 0..=1) × [`MEMORY_SCALE`],
/// times 2 H_lstm / (H_lstm + H_memory) (1 when both are equally sure), at most 1.
pub fn memory_share(lstm: &[f32], memory: &[f32], weight: f32) -> f32 {
    let weight = weight.clamp(0.0, 1.0);
    if weight == 0.0 {
        return 0.0;
    }
    let (h_lstm, h_memory) = (entropy_of(lstm).max(ENTROPY_FLOOR), entropy_of(memory).max(ENTROPY_FLOOR));
    (weight * MEMORY_SCALE * 2.0 * h_lstm / (h_lstm + h_memory)).min(1.0)
}

/// Mix the LSTM's probabilities with the memory's into `out`, in the log domain:
/// p ∝ p_lstm^(1−s) · p_memory^s with s = [`memory_share`]. `weight` 0 is the LSTM alone.
pub fn blend(lstm: &[f32], memory: &[f32], weight: f32, out: &mut [f32]) {
    let share = memory_share(lstm, memory, weight);
    if share == 0.0 {
        out.copy_from_slice(lstm);
        return;
    }
    let mut total = 0.0;
    for ((o, &l), &m) in out.iter_mut().zip(lstm).zip(memory) {
        *o = ((1.0 - share) * l.max(PROBABILITY_FLOOR).ln() + share * m.max(PROBABILITY_FLOOR).ln()).exp();
        total += *o;
    }
    out.iter_mut().for_each(|o| *o /= total);
}

/// The same blend for a sampler: from the LSTM's `logits` and the memory's probabilities,
/// the blend's logits (unnormalised log-probabilities) into `out`; `lstm` is scratch. Fewer
/// transcendental functions than [`blend`]: this runs on every step of a live answer.
pub fn blend_logits(logits: &[f32], memory: &[f32], weight: f32, lstm: &mut [f32], out: &mut [f32]) {
    // log p_lstm = logit − log Σ exp(logit); the probabilities for the entropy.
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for (p, &l) in lstm.iter_mut().zip(logits) {
        *p = (l - max).exp();
        sum += *p;
    }
    lstm.iter_mut().for_each(|p| *p /= sum);
    let share = memory_share(lstm, memory, weight);
    let log_sum = max + sum.ln();
    for ((o, &l), &m) in out.iter_mut().zip(logits).zip(memory) {
        *o = (1.0 - share) * (l - log_sum) + share * m.max(PROBABILITY_FLOOR).ln();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probs(m: &Memory) -> Vec<f32> {
        let mut p = vec![0.0; m.vocab];
        m.predict(&mut p);
        p
    }

    #[test]
    fn an_empty_memory_predicts_uniformly_and_every_prediction_sums_to_one() {
        let mut m = Memory::new(5, 3);
        assert!(probs(&m).iter().all(|&p| (p - 0.2).abs() < 1e-6));
        for &id in &[1, 2, 3, 1, 2, 3, 1, 2] {
            m.observe(id);
            let sum: f32 = probs(&m).iter().sum();
            assert!((sum - 1.0).abs() < 1e-5, "sum {sum}");
        }
    }

    #[test]
    fn a_repeated_motif_is_predicted() {
        let mut m = Memory::new(6, 4);
        for _ in 0..4 {
            for id in [1, 2, 3, 4] {
                m.observe(id);
            }
        }
        // After ... 1 2 3 4, the motif starts again with 1.
        let p = probs(&m);
        assert!(p[1] > 0.8, "{p:?}");
        m.observe(1);
        assert!(probs(&m)[2] > 0.8);
    }

    #[test]
    fn memory_is_bounded_and_forgets() {
        let mut m = Memory::with_capacity(50, 8, 100);
        for i in 0..5_000u32 {
            m.observe((i * 7 + i / 13) % 50);
            assert!(m.contexts() <= 100);
        }
        m.forget();
        assert_eq!((m.contexts(), m.observed()), (0, 0));
        assert!(probs(&m).iter().all(|&p| (p - 0.02).abs() < 1e-6));
    }

    #[test]
    fn the_blend_follows_the_weight_and_the_surer_model() {
        let unsure = [0.25, 0.25, 0.25, 0.25];
        let sure = [0.97, 0.01, 0.01, 0.01];
        let mut out = [0.0; 4];
        blend(&unsure, &sure, 0.0, &mut out);
        assert_eq!(out, unsure);
        // The memory counts for more where the LSTM is the less sure of the two.
        assert!(memory_share(&unsure, &sure, 0.5) > memory_share(&sure, &unsure, 0.5));
        assert!(memory_share(&unsure, &sure, 1.0) > memory_share(&unsure, &sure, 0.5));
        let mut previous = 0.25;
        for weight in [0.25, 0.5, 1.0] {
            blend(&unsure, &sure, weight, &mut out);
            assert!(out[0] > previous, "{weight}: {out:?}");
            assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            previous = out[0];
            // The sampler's form is the same distribution.
            let logits = unsure.map(f32::ln);
            let (mut scratch, mut blended) = ([0.0; 4], [0.0; 4]);
            blend_logits(&logits, &sure, weight, &mut scratch, &mut blended);
            let mut again = [0.0; 4];
            crate::sampler::softmax(&blended, &mut again);
            assert!(again.iter().zip(&out).all(|(a, b)| (a - b).abs() < 1e-5), "{again:?} vs {out:?}");
        }
    }
}
