//! Session memory: a short-term model of the piece being played, in the model's token ids.
//! A variable-order Markov model (PPM) counts which token followed each context of the last
//! 0 to `max_order` tokens since the session started (or since it was told to forget), and
//! predicts the next token by blending its orders with PPM-C escape probabilities
//! (interpolated, as in the music-cognition literature's PPM models). [`blend_logits`] mixes that
//! prediction with the LSTM's in the log domain, in two parts. Which onset: the memory's
//! share is set by the Memory control and by the two models' entropies (the less sure the
//! LSTM is of a step, compared with the memory, the more the memory counts). Rhythm (an
//! onset, a hold, a rest): a small fixed share. A memory of a phrase of long notes and rests
//! made a few answers silent when rhythm had the pitch's entropy-led share; at the fixed
//! share the answers keep their density (`trainer eval --continuations`, `models/README.md`)
//! and O'Neill's repeated rhythms are predicted far better.
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
/// The Memory amount a musician gets by default (the plugin's, and `trainer generate`'s):
/// chosen with the continuation benchmark (`models/README.md`, "Session memory").
pub const MEMORY_DEFAULT: f32 = 0.4;
/// The most contexts it keeps.
pub const MAX_NODES: usize = 200_000;
/// The memory's share of the blend at Memory 1 when both models are equally sure.
pub const MEMORY_SCALE: f32 = 0.15;
/// The memory's share of the rhythm (an onset, a hold, a rest or the end) at Memory 1.
pub const RHYTHM_SCALE: f32 = 0.05;
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

/// Mix the LSTM's next-token distribution (its `logits`) with the memory's probabilities,
/// as logits for a sampler, into `out`; `scratch` is as long. Two log-domain blends
/// p ∝ p_lstm^(1−s) · p_memory^s, one for each question a step answers (`onset[id]` says
/// which ids are onsets):
/// - **rhythm**: an onset (any), or which of the other ids (a hold, a rest, the end), with
///   the memory's share r = `weight` × [`RHYTHM_SCALE`];
/// - **which onset**, given one, with the memory's share
///   s = `weight` × [`MEMORY_SCALE`] × 2 H_lstm / (H_lstm + H_memory), at most 1 (H: the
///   normalised entropies of the two models' choices among onsets): more where the LSTM is
///   the less sure of the two.
///
/// `weight` 0 leaves the logits as they are. Runs on every step of a live answer, so it
/// takes one exponential per id for each model and a logarithm only per distinct memory
/// probability and per id that is not an onset.
pub fn blend_logits(logits: &[f32], memory: &[f32], weight: f32, onset: &[bool], scratch: &mut [f32], out: &mut [f32]) {
    out.copy_from_slice(logits);
    let weight = weight.clamp(0.0, 1.0);
    if weight == 0.0 {
        return;
    }
    // exp(logit − max) of every id; the sums over all ids and over the onsets.
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let (mut all, mut on_lstm, mut on_memory, mut onsets) = (0.0f32, 0.0f32, 0.0f32, 0usize);
    for (((e, &l), &m), &is) in scratch.iter_mut().zip(logits).zip(memory).zip(onset) {
        *e = (l - max).exp();
        all += *e;
        if is {
            on_lstm += *e;
            on_memory += m;
            onsets += 1;
        }
    }
    if !(on_lstm > 0.0 && on_memory > 0.0 && onsets > 1 && all.is_finite()) {
        return;
    }
    // The entropies of the two choices among onsets; `out` keeps ln p_memory(x | onset).
    let (log_on_lstm, log_on_memory, norm) = (on_lstm.ln(), on_memory.ln(), (onsets as f32).ln());
    let (mut h_lstm, mut h_memory) = (0.0f32, 0.0f32);
    let mut last = (f32::NAN, 0.0f32);
    for (((o, &e), &l), (&m, _)) in
        out.iter_mut().zip(scratch.iter()).zip(logits).zip(memory.iter().zip(onset)).filter(|(_, (_, &is))| is)
    {
        let q = e / on_lstm;
        h_lstm -= q * (l - max - log_on_lstm);
        if m != last.0 {
            last = (m, m.max(PROBABILITY_FLOOR).ln() - log_on_memory);
        }
        h_memory -= (m / on_memory) * last.1;
        *o = last.1;
    }
    let (h_lstm, h_memory) = ((h_lstm / norm).max(ENTROPY_FLOOR), (h_memory / norm).max(ENTROPY_FLOOR));
    let share = (weight * MEMORY_SCALE * 2.0 * h_lstm / (h_lstm + h_memory)).min(1.0);
    // u = (1 − s) ln p_lstm(x | onset) + s ln p_memory(x | onset), then normalised among
    // the onsets and scaled back to the LSTM's onset mass.
    let mut total = 0.0f32;
    for ((o, &l), _) in out.iter_mut().zip(logits).zip(onset).filter(|(_, &is)| is) {
        *o = (1.0 - share) * (l - max - log_on_lstm) + share * *o;
        total += o.exp();
    }
    let rhythm = Rhythm { share: weight * RHYTHM_SCALE, log_on_lstm: log_on_lstm - all.ln(), on_memory };
    rhythm.blend(logits, max + all.ln(), memory, onset, total.ln(), out);
}

/// The rhythm's blend: the chance of an onset (any) against each id that is not one.
struct Rhythm {
    /// The memory's share.
    share: f32,
    /// ln p_lstm(an onset), and p_memory(an onset).
    log_on_lstm: f32,
    on_memory: f32,
}

impl Rhythm {
    fn mix(&self, log_lstm: f32, memory: f32) -> f32 {
        (1.0 - self.share) * log_lstm + self.share * memory.max(PROBABILITY_FLOOR).ln()
    }

    /// Into `out`, whose onsets hold the blended choice among onsets as unnormalised
    /// log-probabilities (`log_onsets`: the log of their exponentials' sum): the whole
    /// blend as log-probabilities. `logits − log_norm` are the LSTM's log-probabilities.
    fn blend(&self, logits: &[f32], log_norm: f32, memory: &[f32], onset: &[bool], log_onsets: f32, out: &mut [f32]) {
        let log_onset = self.mix(self.log_on_lstm, self.on_memory);
        let mut sum = log_onset.exp();
        for ((o, &l), (&m, _)) in out.iter_mut().zip(logits).zip(memory.iter().zip(onset)).filter(|(_, (_, &is))| !is) {
            *o = self.mix(l - log_norm, m);
            sum += o.exp();
        }
        let (log_sum, onset_shift) = (sum.ln(), log_onset - log_onsets);
        for (o, &is) in out.iter_mut().zip(onset) {
            *o += if is { onset_shift } else { 0.0 } - log_sum;
        }
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

    /// The blend as probabilities.
    fn blended(lstm: &[f32], memory: &[f32], weight: f32, onset: &[bool]) -> Vec<f32> {
        let logits: Vec<f32> = lstm.iter().map(|p| p.ln()).collect();
        let (mut scratch, mut out, mut probs) = (vec![0.0; lstm.len()], vec![0.0; lstm.len()], vec![0.0; lstm.len()]);
        blend_logits(&logits, memory, weight, onset, &mut scratch, &mut out);
        crate::sampler::softmax(&out, &mut probs);
        probs
    }

    #[test]
    fn the_blend_follows_the_weight_and_the_surer_model_and_moves_the_rhythm_by_its_share() {
        // Ids 0 and 1 are a hold and a rest; 2..=5 onsets.
        let onset = [false, false, true, true, true, true];
        let unsure = [0.2, 0.2, 0.15, 0.15, 0.15, 0.15];
        let sure = [0.5, 0.1, 0.38, 0.004, 0.008, 0.008];
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5);
        assert!(close(&blended(&unsure, &sure, 0.0, &onset), &unsure));
        let mut previous = 0.15;
        for weight in [0.25, 0.5, 1.0] {
            let out = blended(&unsure, &sure, weight, &onset);
            assert!(out[2] > previous, "{weight}: {out:?}");
            // The rhythm: ln p(hold) − ln p(rest) moves from the LSTM's towards the memory's
            // by the fixed share weight × RHYTHM_SCALE.
            let r = weight * RHYTHM_SCALE;
            let expected = (1.0 - r) * (unsure[0] / unsure[1]).ln() + r * (sure[0] / sure[1]).ln();
            assert!(((out[0] / out[1]).ln() - expected).abs() < 1e-4, "{weight}: {out:?}");
            assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            // Among the onsets: p ∝ p_lstm^(1−s) p_memory^s for one s in (0, 1).
            let ratio = |p: &[f32]| (p[2] / p[3]).ln();
            let s = (ratio(&out) - ratio(&unsure)) / (ratio(&sure) - ratio(&unsure));
            assert!(s > 0.0 && s <= 1.0, "share {s}");
            previous = out[2];
        }
        // The memory counts for more where the LSTM is the less sure of the two.
        let out = blended(&unsure, &sure, 1.0, &onset);
        let other = blended(&sure, &unsure, 1.0, &onset);
        assert!((out[2] - unsure[2]).abs() > (other[2] - sure[2]).abs());
    }
}
