//! Choosing the next token from a model's logits: temperature, entropy-adaptive temperature
//! (the Essen study's: the temperature scaled by the normalised entropy of each
//! distribution), a bias on the REST logit, optional top-p, and a seeded RNG so a result can
//! be reproduced. Shared by `trainer generate` and the plugin's inference worker; a
//! `Sampler` allocates only when it is made, never per token.

use crate::steering::Steering;
use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// How to sample. `Default` is plain sampling at temperature 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplerSettings {
    /// 0 takes the most likely token; 1 samples the model's distribution; higher is wilder.
    pub temperature: f32,
    /// 0..=1: how much the temperature follows the distribution's normalised entropy
    /// (1: T · H/ln V, so confident steps are sampled more conservatively).
    pub entropy_adaptive: f32,
    /// Added to the REST logit: negative values discourage rests.
    pub rest_bias: f32,
    /// Nucleus sampling: keep the most likely tokens whose probabilities add up to this
    /// (1 keeps all).
    pub top_p: f32,
    /// Whether the song-end token `/` may be chosen (off for live continuation).
    pub allow_song_end: bool,
    /// 0..=1: how much the session memory's prediction is blended in ([`crate::memory`]);
    /// read by [`crate::continuation::Continuer`], which owns the memory.
    pub memory: f32,
    /// 0..=1: how often an answer's bar takes up an earlier bar of the call
    /// ([`crate::develop`]); read by the continuer.
    pub develop: f32,
    /// 0..=1: how closely the answer fits the chord that sounds ([`crate::harmony`]), where
    /// the continuer is told one; read by the continuer.
    pub follow_chords: f32,
    /// Whether an answer of known length closes on a cadence ([`crate::cadence`]); read
    /// by the continuer.
    pub cadence: bool,
    /// Density, register, step / leap, repetition and scale lock ([`crate::steering`]),
    /// applied by the continuer before sampling.
    pub steering: Steering,
    /// Whether the continuer guards against near-uniform steps (see
    /// [`crate::continuation::GUARD_ENTROPY`]).
    pub guard: bool,
}

impl Default for SamplerSettings {
    fn default() -> Self {
        SamplerSettings {
            temperature: 1.0,
            entropy_adaptive: 0.0,
            rest_bias: 0.0,
            top_p: 1.0,
            allow_song_end: true,
            memory: 0.0,
            develop: 0.0,
            follow_chords: crate::harmony::FOLLOW_CHORDS_DEFAULT,
            cadence: true,
            steering: Steering::default(),
            guard: true,
        }
    }
}

/// The ids the sampler treats specially (from the model card's vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialIds {
    pub rest: u32,
    pub song_end: u32,
}

pub struct Sampler {
    rng: Pcg64Mcg,
    probs: Vec<f32>,
    order: Vec<u32>,
}

/// The softmax of `logits` into `out`.
pub fn softmax(logits: &[f32], out: &mut [f32]) {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for (o, &l) in out.iter_mut().zip(logits) {
        *o = (l - max).exp();
        sum += *o;
    }
    out.iter_mut().for_each(|o| *o /= sum);
}

/// Normalised Shannon entropy (0..=1) of the softmax of `logits`.
pub fn normalised_entropy(logits: &[f32]) -> f32 {
    if logits.len() < 2 {
        return 0.0;
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = logits.iter().map(|&l| (l - max).exp()).sum();
    let mut h = 0.0f32;
    for &l in logits {
        let p = (l - max).exp() / sum;
        if p > 0.0 {
            h -= p * p.ln();
        }
    }
    (h / (logits.len() as f32).ln()).clamp(0.0, 1.0)
}

impl Sampler {
    pub fn new(vocab_len: usize, seed: u64) -> Sampler {
        Sampler {
            rng: Pcg64Mcg::seed_from_u64(seed),
            probs: vec![0.0; vocab_len],
            order: (0..vocab_len as u32).collect(),
        }
    }

    /// Start again from a seed.
    pub fn reseed(&mut self, seed: u64) {
        self.rng = Pcg64Mcg::seed_from_u64(seed);
    }

    /// Pick a token id from `logits` (one per vocabulary entry).
    pub fn sample(&mut self, logits: &[f32], settings: &SamplerSettings, special: SpecialIds) -> u32 {
        let n = logits.len().min(self.probs.len());
        let probs = &mut self.probs[..n];
        probs.copy_from_slice(&logits[..n]);
        if let Some(rest) = probs.get_mut(special.rest as usize) {
            *rest += settings.rest_bias;
        }
        if !settings.allow_song_end {
            if let Some(end) = probs.get_mut(special.song_end as usize) {
                *end = f32::NEG_INFINITY;
            }
        }
        let adaptive = settings.entropy_adaptive.clamp(0.0, 1.0);
        let temperature = if adaptive > 0.0 {
            settings.temperature * (1.0 - adaptive + adaptive * normalised_entropy(probs))
        } else {
            settings.temperature
        };
        if temperature <= 1e-4 || !temperature.is_finite() {
            return argmax(probs);
        }
        // Softmax at the temperature.
        let max = probs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        if !max.is_finite() {
            return argmax(probs);
        }
        let mut sum = 0.0;
        for p in probs.iter_mut() {
            *p = ((*p - max) / temperature).exp();
            sum += *p;
        }
        for p in probs.iter_mut() {
            *p /= sum;
        }
        let mut u = uniform(&mut self.rng);
        if settings.top_p < 1.0 {
            let order = &mut self.order[..n];
            for (i, o) in order.iter_mut().enumerate() {
                *o = i as u32;
            }
            order.sort_unstable_by(|&a, &b| probs[b as usize].total_cmp(&probs[a as usize]));
            let mut kept = 0.0;
            let mut cut = n;
            for (k, &i) in order.iter().enumerate() {
                kept += probs[i as usize];
                if kept >= settings.top_p.max(1e-6) {
                    cut = k + 1;
                    break;
                }
            }
            u *= kept.min(1.0);
            for &i in &order[..cut] {
                u -= probs[i as usize];
                if u <= 0.0 {
                    return i;
                }
            }
            return order[cut - 1];
        }
        for (i, &p) in probs.iter().enumerate() {
            u -= p;
            if u <= 0.0 {
                return i as u32;
            }
        }
        argmax(probs)
    }
}

/// A uniform number in [0, 1).
fn uniform(rng: &mut Pcg64Mcg) -> f32 {
    (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32
}

fn argmax(values: &[f32]) -> u32 {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECIAL: SpecialIds = SpecialIds { rest: 1, song_end: 0 };

    fn histogram(logits: &[f32], settings: SamplerSettings, draws: usize) -> Vec<f64> {
        let mut s = Sampler::new(logits.len(), 7);
        let mut h = vec![0.0; logits.len()];
        for _ in 0..draws {
            h[s.sample(logits, &settings, SPECIAL) as usize] += 1.0 / draws as f64;
        }
        h
    }

    #[test]
    fn temperature_one_follows_the_distribution() {
        let logits = [0.0f32, (2.0f32).ln(), (3.0f32).ln(), (4.0f32).ln()]; // 1:2:3:4
        let h = histogram(&logits, SamplerSettings::default(), 100_000);
        for (i, want) in [0.1, 0.2, 0.3, 0.4].iter().enumerate() {
            assert!((h[i] - want).abs() < 0.01, "{h:?}");
        }
    }

    #[test]
    fn zero_temperature_is_greedy_and_bias_moves_rests() {
        let logits = [0.0f32, 2.0, 1.0, 1.5];
        let greedy = SamplerSettings { temperature: 0.0, ..Default::default() };
        assert!(histogram(&logits, greedy, 10)[1] > 0.999);
        let no_rests = SamplerSettings { temperature: 0.0, rest_bias: -1.0, ..Default::default() };
        assert!(histogram(&logits, no_rests, 10)[3] > 0.999);
        let h = histogram(&logits, SamplerSettings { rest_bias: -20.0, ..Default::default() }, 10_000);
        assert_eq!(h[1], 0.0);
    }

    #[test]
    fn song_end_can_be_forbidden_and_top_p_cuts_the_tail() {
        let logits = [5.0f32, 0.0, 0.0, 0.0];
        let h = histogram(&logits, SamplerSettings { allow_song_end: false, ..Default::default() }, 1000);
        assert_eq!(h[0], 0.0);
        let logits = [0.0f32, 3.0, 2.9, -5.0];
        let h = histogram(&logits, SamplerSettings { top_p: 0.9, ..Default::default() }, 10_000);
        assert_eq!(h[3], 0.0);
        assert_eq!(h[0], 0.0);
    }

    #[test]
    fn entropy_adaptive_sharpens_confident_steps() {
        assert!(normalised_entropy(&[0.0; 8]) > 0.999);
        assert!(normalised_entropy(&[10.0, 0.0, 0.0, 0.0]) < 0.01);
        let logits = [3.0f32, 0.0, 0.0, 0.0, 0.0, 0.0];
        let plain = histogram(&logits, SamplerSettings::default(), 20_000)[0];
        let adaptive = histogram(&logits, SamplerSettings { entropy_adaptive: 1.0, ..Default::default() }, 20_000)[0];
        assert!(adaptive > plain + 0.05, "{plain} {adaptive}");
    }

    #[test]
    fn the_same_seed_gives_the_same_tokens() {
        let logits = [0.3f32, 0.1, 0.7, 0.2, 0.5];
        let run = |seed| {
            let mut s = Sampler::new(5, seed);
            (0..50).map(|_| s.sample(&logits, &SamplerSettings::default(), SPECIAL)).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }
}
