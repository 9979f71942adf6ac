//! Honest evaluation on the test split: NLL, perplexity and next-token accuracy (overall
//! and without HOLD targets, which dominate a 16th-note grid), and continuations of test
//! songs compared with the real ones — pitch-class overlap, in-scale rate, rest ratio,
//! distinct pitches and the longest run of one repeated pitch (a collapsed model repeats
//! one note or chord). Runs on the training thread with the reference forward pass.

use crate::codes::Code;
use crate::network::Model;
use crate::train::{evaluate, special_id, Songs};
use crate::weights::LstmState;
use continuo_core::continuation::Continuer;
use continuo_core::encoding::decode;
use continuo_core::grid::unquantise;
use continuo_core::inference::{ContinuationModel, ModelError};
use continuo_core::memory::{blend_logits, Memory, MAX_ORDER};
use continuo_core::profile::PitchProfile;
use continuo_core::sampler::{softmax, Sampler, SamplerSettings, SpecialIds};
use continuo_core::song::encode_score;
use continuo_core::vocab::Vocabulary;
use continuo_core::{EncodingKind, Grid, Key, Score, Token};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Musical statistics of a token sequence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct MusicStats {
    pub in_scale: f64,
    pub rest_ratio: f64,
    pub distinct_pitches: f64,
    pub longest_repeat: f64,
}

/// Onset pitch classes, counted.
fn pitch_classes(tokens: &[Token]) -> [f64; 12] {
    let mut h = [0.0; 12];
    for t in tokens {
        for &p in t.pitches() {
            h[(p % 12) as usize] += 1.0;
        }
    }
    h
}

/// Overlap of two pitch-class histograms (sum of minima after normalising): 1 is identical.
pub fn histogram_overlap(a: &[Token], b: &[Token]) -> f64 {
    overlap(&pitch_classes(a), &pitch_classes(b))
}

/// The overlap of two histograms after normalising each (the sum of their minima): 1 is
/// identical, 0 disjoint; two empty histograms are identical.
pub fn overlap(a: &[f64], b: &[f64]) -> f64 {
    let (sa, sb): (f64, f64) = (a.iter().sum(), b.iter().sum());
    if sa == 0.0 || sb == 0.0 {
        return if sa == sb { 1.0 } else { 0.0 };
    }
    a.iter().zip(b).map(|(x, y)| (x / sa).min(y / sb)).sum()
}

pub fn music_stats(tokens: &[Token], key: Key) -> MusicStats {
    let scale = key.scale();
    let onsets: Vec<&Token> = tokens.iter().filter(|t| !t.pitches().is_empty()).collect();
    let notes: usize = onsets.iter().map(|t| t.pitches().len()).sum();
    let in_scale = onsets.iter().flat_map(|t| t.pitches()).filter(|p| scale.contains(&(*p % 12))).count();
    let mut distinct: Vec<u8> = onsets.iter().flat_map(|t| t.pitches().iter().copied()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    let (mut longest, mut run) = (0usize, 0usize);
    for w in 0..onsets.len() {
        run = if w > 0 && onsets[w] == onsets[w - 1] { run + 1 } else { 1 };
        longest = longest.max(run);
    }
    MusicStats {
        in_scale: if notes == 0 { 0.0 } else { in_scale as f64 / notes as f64 },
        rest_ratio: tokens.iter().filter(|t| **t == Token::Rest).count() as f64 / tokens.len().max(1) as f64,
        distinct_pitches: distinct.len() as f64,
        longest_repeat: longest as f64,
    }
}

/// Continue `seed` (input codes) by `steps` tokens with the reference forward pass (the
/// tokens it plays are fed without their metre).
pub fn sample_continuation(
    model: &Model,
    seed: &[Code],
    steps: usize,
    sampler: &mut Sampler,
    settings: &SamplerSettings,
    special: SpecialIds,
) -> Vec<u32> {
    let w = model.inference_weights();
    let mut state = LstmState::zeros(w.num_layers(), w.hidden);
    let mut logits = vec![0.0; w.vocab];
    for &code in std::iter::once(&(special.song_end as Code)).chain(seed) {
        w.step(code, &mut state, &mut logits);
    }
    let settings = SamplerSettings { allow_song_end: false, ..*settings };
    let mut out = Vec::with_capacity(steps);
    for _ in 0..steps {
        let id = sampler.sample(&logits, &settings, special);
        out.push(id);
        w.step(id as Code, &mut state, &mut logits);
    }
    out
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContinuationExample {
    pub seed: Vec<Token>,
    pub generated: Vec<Token>,
    pub real: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Flat figures, copied into the model card by `trainer export`.
    pub figures: BTreeMap<String, f64>,
    pub test_songs: usize,
    pub test_tokens: usize,
    pub continued_songs: usize,
    pub seed_steps: usize,
    pub continuation_steps: usize,
    pub sampling: String,
    pub example: Option<ContinuationExample>,
}

/// Which continuations `evaluate_model` samples: the first `max_songs` test songs long enough
/// for `seed_steps + steps` tokens, seeded with their first `seed_steps` tokens.
#[derive(Debug, Clone)]
pub struct Continuations {
    pub seed_steps: usize,
    pub steps: usize,
    pub max_songs: usize,
    pub settings: SamplerSettings,
    pub random_seed: u64,
}

/// Evaluate on the test split: NLL and accuracy of every song, and musical statistics of
/// sampled continuations beside the real ones.
pub fn evaluate_model(
    model: &mut Model,
    vocab: &Vocabulary,
    songs: &Songs,
    keys: &[Key],
    continuations: &Continuations,
) -> Report {
    let Continuations { seed_steps, steps, max_songs, ref settings, random_seed } = *continuations;
    let (hold, song_end) = (special_id(vocab, Token::Hold), special_id(vocab, Token::SongEnd));
    let special = SpecialIds { rest: special_id(vocab, Token::Rest), song_end };
    // Every test song from a zero state: up to 64 songs side by side, state not carried.
    let mut stats = crate::network::Stats::default();
    for chunk in songs.test.chunks(64) {
        stats.add(&evaluate(model, chunk, chunk.len(), 64, hold, song_end));
    }
    let mut figures = BTreeMap::new();
    let nll = stats.mean_nll();
    figures.insert("test_nll_nats".into(), nll);
    figures.insert("test_perplexity".into(), nll.exp());
    figures.insert("test_accuracy".into(), stats.correct as f64 / stats.count.max(1) as f64);
    figures.insert("test_accuracy_no_hold".into(), stats.correct_no_hold as f64 / stats.count_no_hold.max(1) as f64);

    let mut sampler = Sampler::new(vocab.len(), random_seed);
    let (mut gen_sum, mut real_sum) = (MusicStats::default(), MusicStats::default());
    let mut overlap = 0.0;
    let mut n = 0usize;
    let mut example = None;
    for (song, key) in songs.test.iter().zip(keys) {
        if n >= max_songs || song.len() < seed_steps + steps + 1 {
            continue;
        }
        let seed = &song[..seed_steps];
        let generated = vocab
            .decode(&sample_continuation(model, seed, steps, &mut sampler, settings, special))
            .expect("ids from the model");
        let ids: Vec<u32> = song.iter().map(|&c| crate::codes::token(c)).collect();
        let real = vocab.decode(&ids[seed_steps..seed_steps + steps]).expect("ids from the vocabulary");
        let (g, r) = (music_stats(&generated, *key), music_stats(&real, *key));
        for (sum, s) in [(&mut gen_sum, g), (&mut real_sum, r)] {
            sum.in_scale += s.in_scale;
            sum.rest_ratio += s.rest_ratio;
            sum.distinct_pitches += s.distinct_pitches;
            sum.longest_repeat += s.longest_repeat;
        }
        overlap += histogram_overlap(&generated, &real);
        if example.is_none() {
            example =
                Some(ContinuationExample { seed: vocab.decode(&ids[..seed_steps]).expect("ids"), generated, real });
        }
        n += 1;
    }
    let d = n.max(1) as f64;
    for (prefix, s) in [("generated", gen_sum), ("real", real_sum)] {
        figures.insert(format!("{prefix}_in_scale"), s.in_scale / d);
        figures.insert(format!("{prefix}_rest_ratio"), s.rest_ratio / d);
        figures.insert(format!("{prefix}_distinct_pitches"), s.distinct_pitches / d);
        figures.insert(format!("{prefix}_longest_repeat"), s.longest_repeat / d);
    }
    figures.insert("pitch_class_overlap".into(), overlap / d);
    Report {
        figures,
        test_songs: songs.test.len(),
        test_tokens: stats.count,
        continued_songs: n,
        seed_steps,
        continuation_steps: steps,
        sampling: format!("{settings:?}, random seed {random_seed}"),
        example,
    }
}

/// Test-split figures of an exported model, as the plugin runs it (ONNX Runtime), song by
/// song from a fresh state, optionally blended with a session memory that hears each song
/// from its start (a listener meeting the song for the first time).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelFigures {
    pub songs: usize,
    pub tokens: usize,
    /// Mean −ln p(next token), nats.
    pub nll_nats: f64,
    /// e^nll_nats.
    pub perplexity: f64,
    pub accuracy: f64,
    pub accuracy_no_hold: f64,
    /// Note onsets among the targets.
    pub onsets: usize,
    /// The songs' whole NLL (every token: onsets, holds, rests, song ends) per note onset,
    /// nats: what each note costs with its timing.
    pub nll_per_onset: f64,
    /// −log2 p(pitch | an onset) averaged over onsets, bits: the pitch alone, comparable with
    /// published per-note figures.
    pub pitch_bits_per_note: f64,
}

/// Evaluate `model` on `songs` (input codes, [`crate::codes`], in the model's vocabulary,
/// each ending with `/`; a metre-aware model gets each token's metre), with the memory
/// blended in at `memory` (0: the model alone). The memory is forgotten at every song and
/// learns each token after it was predicted.
pub fn model_figures(
    model: &mut ContinuationModel,
    songs: &[Vec<Code>],
    memory: f32,
) -> Result<ModelFigures, ModelError> {
    let vocab = model.vocab().clone();
    let (v, hold, song_end) = (vocab.len(), special_id(&vocab, Token::Hold), special_id(&vocab, Token::SongEnd));
    let mut short_term = Memory::new(v, MAX_ORDER);
    let mut profile = PitchProfile::new(&vocab);
    let onset: Vec<bool> = vocab.tokens().iter().map(|t| !t.pitches().is_empty()).collect();
    let (mut lstm, mut remembered, mut mixed, mut scratch) =
        (vec![0.0f32; v], vec![0.0f32; v], vec![0.0f32; v], vec![0.0f32; v]);
    let (mut nll, mut tokens, mut correct, mut counted_no_hold, mut correct_no_hold) = (0.0f64, 0, 0, 0, 0);
    let (mut onsets, mut pitch_nats) = (0, 0.0f64);
    for song in songs.iter().filter(|s| !s.is_empty()) {
        model.reset();
        short_term.forget();
        profile.forget();
        // The input at each step is the token before it; a song starts after `/`.
        let inputs: Vec<Code> =
            std::iter::once(song_end as Code).chain(song[..song.len() - 1].iter().copied()).collect();
        let ids: Vec<u32> = inputs.iter().map(|&c| crate::codes::token(c)).collect();
        let metre: Vec<[u32; 2]> = inputs.iter().map(|&c| crate::codes::rows(c)).collect();
        let harmony: Vec<_> = inputs.iter().map(|&c| crate::codes::harmony(c)).collect();
        let logits = model.feed_all_over(&ids, &metre, &harmony)?;
        for (row, target) in logits.chunks(v).zip(song.iter().map(|&c| crate::codes::token(c))) {
            // The same blend as the plugin's, as probabilities.
            if memory > 0.0 {
                short_term.predict(&mut remembered);
            }
            blend_logits(row, &remembered, memory, &onset, &mut scratch, &mut mixed);
            profile.shape(&mut mixed, &onset, memory);
            softmax(&mixed, &mut lstm);
            let p = &lstm;
            let best = (0..v).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0) as u32;
            nll -= (p[target as usize] as f64).ln();
            tokens += 1;
            correct += (best == target) as usize;
            if target != hold {
                counted_no_hold += 1;
                correct_no_hold += (best == target) as usize;
            }
            if onset[target as usize] {
                let p_onset: f64 = p.iter().zip(&onset).filter(|(_, &o)| o).map(|(&x, _)| x as f64).sum();
                pitch_nats -= (p[target as usize] as f64 / p_onset).ln();
                onsets += 1;
            }
            short_term.observe(target);
            profile.observe(target);
        }
    }
    Ok(ModelFigures {
        songs: songs.len(),
        tokens,
        nll_nats: nll / tokens as f64,
        perplexity: (nll / tokens as f64).exp(),
        accuracy: correct as f64 / tokens as f64,
        accuracy_no_hold: correct_no_hold as f64 / counted_no_hold as f64,
        onsets,
        nll_per_onset: nll / onsets as f64,
        pitch_bits_per_note: pitch_nats / onsets as f64 / std::f64::consts::LN_2,
    })
}

/// A continuation whose onsets are less than this share in key is noise.
pub const NOISE_IN_SCALE: f64 = 0.6;

/// How continuations hold up when the seed is played faster or slower than written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpeedFigures {
    /// 2: every duration of the seed halved (double speed); 0.5: doubled.
    pub speed: f64,
    pub continuations: usize,
    /// Mean share of the continuations' onset pitches in the song's key.
    pub in_scale: f64,
    /// Share of continuations with fewer than [`NOISE_IN_SCALE`] of their onsets in key.
    pub noise_share: f64,
    /// Share of steps the sampling guard took over (the model near-uniform).
    pub guarded_share: f64,
    /// The reference: the same figures for what the songs themselves play after the seed
    /// (the composer's continuation, as long as the model's, at the written speed).
    pub real_in_scale: f64,
    pub real_noise_share: f64,
}

/// `tokens` (no `/`) played `speed` times as fast: every onset and duration divided by
/// `speed`, quantised again to `grid` (notes that fall on one step keep the top one).
pub fn at_speed(tokens: &[Token], speed: f64, grid: Grid, kind: EncodingKind) -> Vec<Token> {
    let mut notes = unquantise(&decode(tokens, 80), grid);
    for n in &mut notes {
        n.onset /= speed;
        n.duration /= speed;
    }
    let mut out = encode_score(&Score { notes, ..Score::default() }, grid, kind, 0);
    out.pop(); // the `/`
    out
}

/// Continue the start (`seed_steps`) of each song (tokens in the model's key frame, with the
/// song's key in that frame) at each speed, `steps` steps each, and measure how much of
/// what the model plays is in key, beside what the songs themselves play next.
pub fn speed_robustness(
    continuer: &mut Continuer,
    songs: &[(Vec<Token>, Key)],
    speeds: &[f64],
    continuations: &Continuations,
) -> Result<Vec<SpeedFigures>, ModelError> {
    let card = continuer.model.card().clone();
    let (grid, kind) = (card.grid(), card.encoding.kind);
    let chosen: Vec<&(Vec<Token>, Key)> =
        songs.iter().filter(|(t, _)| t.len() > continuations.seed_steps).take(continuations.max_songs).collect();
    // The reference: each song's own next `steps` steps.
    let real: Vec<MusicStats> = chosen
        .iter()
        .map(|(tokens, key)| {
            let end = (continuations.seed_steps + continuations.steps).min(tokens.len());
            music_stats(&tokens[continuations.seed_steps..end], *key)
        })
        .collect();
    let real_n = real.len().max(1) as f64;
    let real_in_scale = real.iter().map(|r| r.in_scale).sum::<f64>() / real_n;
    let real_noise_share = real.iter().filter(|r| r.in_scale < NOISE_IN_SCALE).count() as f64 / real_n;
    let mut out = Vec::new();
    for &speed in speeds {
        let (mut in_scale, mut noise, mut guarded, mut n) = (0.0, 0, 0, 0);
        for (i, (tokens, key)) in chosen.iter().enumerate() {
            let seed = at_speed(&tokens[..continuations.seed_steps], speed, grid, kind);
            continuer.reseed(continuations.random_seed.wrapping_add(i as u64));
            continuer.prime(&seed, 0)?;
            let before = continuer.guarded();
            let played: Vec<Token> =
                (0..continuations.steps).map(|_| continuer.next(&continuations.settings)).collect::<Result<_, _>>()?;
            guarded += continuer.guarded() - before;
            let stats = music_stats(&played, *key);
            in_scale += stats.in_scale;
            noise += (stats.in_scale < NOISE_IN_SCALE) as usize;
            n += 1;
        }
        let d = n.max(1) as f64;
        out.push(SpeedFigures {
            speed,
            continuations: n,
            in_scale: in_scale / d,
            noise_share: noise as f64 / d,
            guarded_share: guarded as f64 / (d * continuations.steps.max(1) as f64),
            real_in_scale,
            real_noise_share,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Token> {
        s.split_whitespace().map(|t| t.parse().unwrap()).collect()
    }

    #[test]
    fn music_statistics() {
        let t = toks("60 _ 62 r 61 61 61 r");
        let s = music_stats(&t, Key::C_MAJOR);
        assert!((s.in_scale - 2.0 / 5.0).abs() < 1e-9);
        assert_eq!(s.rest_ratio, 0.25);
        assert_eq!(s.distinct_pitches, 3.0);
        assert_eq!(s.longest_repeat, 3.0);
        assert_eq!(histogram_overlap(&toks("60 62"), &toks("62 60 _")), 1.0);
        assert_eq!(histogram_overlap(&toks("60"), &toks("61")), 0.0);
    }
}
