//! The continuation benchmark: does an answer continue the player? Each test song's first
//! bars (in its own metre, after a pickup) are the call; the model answers with the next
//! bars, as `trainer generate --seed-bars` does; and the answer is measured against the
//! composer's own next bars and against the call replayed, each measured the same way:
//! motif reuse, own-song fit, six pooled distributions, endings (strong beat; tonic or
//! dominant) and in-key rate. Definitions: `models/README.md`, "The continuation
//! benchmark". Plain functions over token sequences on the model's grid; runs on the
//! trainer's thread.

use crate::evaluate::{music_stats, overlap};
use continuo_core::chord::Progression;
use continuo_core::continuation::{continue_score, first_bars, Continuer};
use continuo_core::encoding::decode;
use continuo_core::grid::StepNote;
use continuo_core::inference::ModelError;
use continuo_core::sampler::SamplerSettings;
use continuo_core::score::Score;
use continuo_core::song::encode_score;
use continuo_core::{Key, Token};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// One call and its three continuations, as tokens in the song's own key on the model's
/// grid. `answer`, `composer` and `replayed` start on a bar line.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The call, from its first step (a pickup included).
    pub call: Vec<Token>,
    pub answer: Vec<Token>,
    pub composer: Vec<Token>,
    /// The call's whole bars (after its pickup) again, as long as the answer.
    pub replayed: Vec<Token>,
    pub key: Key,
    pub bar_steps: usize,
    /// The time signature, e.g. (3, 4).
    pub time_signature: (u8, u8),
}

/// A note of a continuation: onset step (from the continuation's start) and length in
/// steps, and pitch.
fn notes(tokens: &[Token]) -> Vec<StepNote> {
    decode(tokens, 80)
}

/// A four-note motif: three intervals (semitones) and three inter-onset times (steps).
type Motif = [i32; 6];

fn motifs(tokens: &[Token]) -> Vec<Motif> {
    let n = notes(tokens);
    n.windows(4)
        .map(|w| {
            let i = |a: usize| w[a + 1].pitch as i32 - w[a].pitch as i32;
            let t = |a: usize| w[a + 1].step as i32 - w[a].step as i32;
            [i(0), i(1), i(2), t(0), t(1), t(2)]
        })
        .collect()
}

/// Motif reuse, pooled over cases: of all four-note motifs in the continuations, the share
/// that also occur in their own call. `None` when no continuation holds a motif.
pub fn motif_reuse(pairs: &[(&[Token], &[Token])]) -> Option<f64> {
    let (mut found, mut total) = (0usize, 0usize);
    for (call, continuation) in pairs {
        let known: HashSet<Motif> = motifs(call).into_iter().collect();
        for m in motifs(continuation) {
            total += 1;
            found += known.contains(&m) as usize;
        }
    }
    (total > 0).then(|| found as f64 / total as f64)
}

/// Onset counts by pitch class relative to the key's tonic (so that songs are told apart
/// by their melodies, not by their keys).
fn pitch_class_profile(tokens: &[Token], key: Key) -> [f64; 12] {
    let mut h = [0.0; 12];
    for p in notes(tokens).iter().map(|n| n.pitch) {
        h[(p as usize + 12 - key.tonic as usize) % 12] += 1.0;
    }
    h
}

/// One minus the overlap (sum of minima) of two normalised histograms: 0 is identical.
fn distance(a: &[f64], b: &[f64]) -> f64 {
    1.0 - overlap(a, b)
}

/// Own-song fit: for each continuation, the share of the other songs whose real
/// continuation its pitch-class profile (relative to the tonic) is further from than from
/// its own song's (ties count half), averaged over songs. Chance is 0.5.
/// `continuations[i]` continues the song in `keys[i]` whose composer's continuation is
/// `real[i]`.
pub fn own_song_fit(continuations: &[&[Token]], real: &[&[Token]], keys: &[Key]) -> Option<f64> {
    let n = continuations.len().min(real.len()).min(keys.len());
    if n < 2 {
        return None;
    }
    let real: Vec<[f64; 12]> = real.iter().zip(keys).map(|(r, k)| pitch_class_profile(r, *k)).collect();
    let mut sum = 0.0;
    for (i, c) in continuations.iter().take(n).enumerate() {
        let c = pitch_class_profile(c, keys[i]);
        let own = distance(&c, &real[i]);
        let wins: f64 = (0..n)
            .filter(|&j| j != i)
            .map(|j| {
                let other = distance(&c, &real[j]);
                if own < other - 1e-12 {
                    1.0
                } else if own <= other + 1e-12 {
                    0.5
                } else {
                    0.0
                }
            })
            .sum();
        sum += wins / (n - 1) as f64;
    }
    Some(sum / n as f64)
}

/// The six distributions the benchmark pools over continuations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// Onset pitch class relative to the key's tonic.
    PitchClass,
    /// Semitones between consecutive onsets, clamped to ±12.
    Interval,
    /// Steps between consecutive onsets, clamped to 32.
    InterOnset,
    /// A note's length in steps, clamped to 32.
    Duration,
    /// Onsets in each whole bar, clamped to 16.
    OnsetsPerBar,
    /// An onset's step within its bar, clamped to 47.
    PositionInBar,
}

impl Distribution {
    pub const ALL: [Distribution; 6] = [
        Distribution::PitchClass,
        Distribution::Interval,
        Distribution::InterOnset,
        Distribution::Duration,
        Distribution::OnsetsPerBar,
        Distribution::PositionInBar,
    ];

    /// Add what `tokens` (starting on a bar line, bars of `bar_steps`, in `key`) show to `h`.
    fn count(self, tokens: &[Token], key: Key, bar_steps: usize, h: &mut Vec<f64>) {
        let n = notes(tokens);
        let mut add = |bin: usize| {
            if h.len() <= bin {
                h.resize(bin + 1, 0.0);
            }
            h[bin] += 1.0;
        };
        let bar = bar_steps.max(1);
        match self {
            Distribution::PitchClass => n.iter().for_each(|x| add((x.pitch as usize + 12 - key.tonic as usize) % 12)),
            Distribution::Interval => {
                n.windows(2).for_each(|w| add((w[1].pitch as i32 - w[0].pitch as i32).clamp(-12, 12) as usize + 12))
            }
            Distribution::InterOnset => n.windows(2).for_each(|w| add(((w[1].step - w[0].step) as usize).min(32))),
            Distribution::Duration => n.iter().for_each(|x| add((x.steps as usize).min(32))),
            Distribution::OnsetsPerBar => {
                for b in 0..tokens.len() / bar {
                    let range = (b * bar) as u32..((b + 1) * bar) as u32;
                    add(n.iter().filter(|x| range.contains(&x.step)).count().min(16));
                }
            }
            Distribution::PositionInBar => n.iter().for_each(|x| add((x.step as usize % bar).min(47))),
        }
    }

    /// The pooled histogram of `continuations` (each with its key and bar length).
    fn pooled<'a>(self, continuations: impl Iterator<Item = (&'a [Token], Key, usize)>) -> Vec<f64> {
        let mut h = Vec::new();
        for (tokens, key, bar_steps) in continuations {
            self.count(tokens, key, bar_steps, &mut h);
        }
        h
    }
}

/// Whether an onset `step` steps into a bar of `bar_steps` is on a strong beat: the
/// downbeat, or the middle of a bar whose time signature has an even numerator (4/4, 2/4,
/// 6/8, 12/8, 2/2).
pub fn strong_beat(step: usize, bar_steps: usize, numerator: u32) -> bool {
    let at = step % bar_steps.max(1);
    at == 0 || (numerator.is_multiple_of(2) && bar_steps.is_multiple_of(2) && at == bar_steps / 2)
}

/// The figures of one kind of continuation (the model's, the composer's, the call replayed).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Figures {
    pub motif_reuse: Option<f64>,
    /// `None` for the composer (their continuation is the reference).
    pub own_song_fit: Option<f64>,
    /// Overlap with the composer's continuations, pooled, per distribution.
    pub overlap: BTreeMap<Distribution, f64>,
    /// The pooled counts of each distribution (bins as [`Distribution`] says).
    pub histograms: BTreeMap<Distribution, Vec<f64>>,
    /// Share of continuations whose last note starts on a strong beat.
    pub ends_on_strong_beat: f64,
    /// Share of continuations whose last note is the key's tonic or dominant.
    pub ends_on_tonic_or_dominant: f64,
    /// Mean share of onsets in the key's scale.
    pub in_key: f64,
    /// Mean onsets per continuation.
    pub notes: f64,
}

/// Which continuation of a case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Answer,
    Composer,
    Replayed,
}

impl Case {
    pub fn continuation(&self, kind: Kind) -> &[Token] {
        match kind {
            Kind::Answer => &self.answer,
            Kind::Composer => &self.composer,
            Kind::Replayed => &self.replayed,
        }
    }
}

/// The figures of `kind` over `cases`.
pub fn figures(cases: &[Case], kind: Kind) -> Figures {
    let pairs: Vec<(&[Token], &[Token])> = cases.iter().map(|c| (&c.call[..], c.continuation(kind))).collect();
    let continuations: Vec<&[Token]> = cases.iter().map(|c| c.continuation(kind)).collect();
    let real: Vec<&[Token]> = cases.iter().map(|c| &c.composer[..]).collect();
    let keys: Vec<Key> = cases.iter().map(|c| c.key).collect();
    let (mut overlaps, mut histograms) = (BTreeMap::new(), BTreeMap::new());
    for d in Distribution::ALL {
        let mine = d.pooled(cases.iter().map(|c| (c.continuation(kind), c.key, c.bar_steps)));
        let composers = d.pooled(cases.iter().map(|c| (&c.composer[..], c.key, c.bar_steps)));
        overlaps.insert(d, overlap(&mine, &composers));
        histograms.insert(d, mine);
    }
    let (mut strong, mut tonic_dominant, mut in_key, mut count) = (0usize, 0usize, 0.0, 0.0);
    for c in cases {
        let tokens = c.continuation(kind);
        let n = notes(tokens);
        count += n.len() as f64;
        in_key += music_stats(tokens, c.key).in_scale;
        if let Some(last) = n.last() {
            strong += strong_beat(last.step as usize, c.bar_steps, c.time_signature.0 as u32) as usize;
            let degree = (last.pitch as i32 - c.key.tonic as i32).rem_euclid(12);
            tonic_dominant += (degree == 0 || degree == 7) as usize;
        }
    }
    let d = cases.len().max(1) as f64;
    Figures {
        motif_reuse: motif_reuse(&pairs),
        own_song_fit: if kind == Kind::Composer { None } else { own_song_fit(&continuations, &real, &keys) },
        overlap: overlaps,
        histograms,
        ends_on_strong_beat: strong as f64 / d,
        ends_on_tonic_or_dominant: tonic_dominant as f64 / d,
        in_key: in_key / d,
        notes: count / d,
    }
}

/// The composers against themselves: each distribution's overlap between the composer's
/// continuations of the even-numbered cases and those of the odd-numbered ones.
pub fn composer_halves(cases: &[Case]) -> BTreeMap<Distribution, f64> {
    let half = |parity: usize| cases.iter().enumerate().filter(move |(i, _)| i % 2 == parity).map(|(_, c)| c);
    Distribution::ALL
        .iter()
        .map(|&d| {
            let a = d.pooled(half(0).map(|c| (&c.composer[..], c.key, c.bar_steps)));
            let b = d.pooled(half(1).map(|c| (&c.composer[..], c.key, c.bar_steps)));
            (d, overlap(&a, &b))
        })
        .collect()
}

/// The benchmark's table over a set of cases.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    pub cases: usize,
    pub model: Figures,
    pub composer: Figures,
    pub replayed: Figures,
    pub composer_halves: BTreeMap<Distribution, f64>,
}

pub fn table(cases: &[Case]) -> Table {
    Table {
        cases: cases.len(),
        model: figures(cases, Kind::Answer),
        composer: figures(cases, Kind::Composer),
        replayed: figures(cases, Kind::Replayed),
        composer_halves: composer_halves(cases),
    }
}

/// The benchmark's report: all cases, and the cases of each metre with at least
/// [`METRE_MIN_CASES`] of them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub call_bars: usize,
    pub answer_bars: usize,
    pub all: Table,
    pub by_metre: BTreeMap<String, Table>,
}

/// A metre's own table needs this many cases.
pub const METRE_MIN_CASES: usize = 5;

pub fn report(cases: &[Case], call_bars: usize, answer_bars: usize) -> Report {
    let mut metres: BTreeMap<String, Vec<Case>> = BTreeMap::new();
    for c in cases {
        let (numerator, denominator) = c.time_signature;
        metres.entry(format!("{numerator}/{denominator}")).or_default().push(c.clone());
    }
    Report {
        call_bars,
        answer_bars,
        all: table(cases),
        by_metre: metres.into_iter().filter(|(_, c)| c.len() >= METRE_MIN_CASES).map(|(m, c)| (m, table(&c))).collect(),
    }
}

/// The case of one song: its first `call_bars` bars continued by `answer_bars` bars with
/// `continuer`, beside what the composer wrote next. `None` when the song is shorter than
/// `call_bars + answer_bars` bars or changes metre within them.
pub fn case_of(
    continuer: &mut Continuer,
    score: &Score,
    call_bars: usize,
    answer_bars: usize,
    settings: &SamplerSettings,
) -> Result<Option<Case>, ModelError> {
    let card = continuer.model.card().clone();
    let (grid, kind) = (card.grid(), card.encoding.kind);
    let (Some(call), Some(whole)) = (first_bars(score, call_bars), first_bars(score, call_bars + answer_bars)) else {
        return Ok(None);
    };
    let start = call.end();
    let ts = score.time_signature_at(start);
    if score.time_signature_at(0.0) != ts || score.time_signature_at(whole.end() - 1e-6) != ts {
        return Ok(None);
    }
    let continued = continue_score(continuer, &call, answer_bars, &Progression::default(), settings, 90)?;
    let Some(key) = continued.key.key else { return Ok(None) };
    let step = |beat: f64| (beat / grid.step_beats()).round() as usize;
    let bar_steps = step(ts.bar_beats());
    let mut call_tokens = encode_score(&call, grid, kind, 0);
    call_tokens.pop();
    call_tokens.resize(step(start), Token::Rest);
    let mut composer = encode_score(&whole, grid, kind, 0);
    composer.pop();
    composer.resize(step(whole.end()), Token::Rest);
    let composer = composer[step(start)..].to_vec();
    let answer: Vec<Token> = continued.tokens.iter().take(composer.len()).cloned().collect();
    let pickup = call_tokens.len().saturating_sub(call_bars * bar_steps);
    let mut replayed = call_tokens[pickup..].to_vec();
    replayed.resize(composer.len(), Token::Hold);
    if replayed.first() == Some(&Token::Hold) {
        replayed[0] = Token::Rest;
    }
    Ok(Some(Case {
        call: call_tokens,
        answer,
        composer,
        replayed,
        key,
        bar_steps,
        time_signature: (ts.numerator, ts.denominator),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Token> {
        s.split_whitespace().map(|t| t.parse().unwrap()).collect()
    }

    #[test]
    fn motifs_are_found_transposed_but_not_in_another_rhythm() {
        let call = toks("60 62 64 65 _ _ _");
        // The same motif a fifth up, and then in another rhythm.
        assert_eq!(motif_reuse(&[(&call, &toks("67 69 71 72"))]), Some(1.0));
        assert_eq!(motif_reuse(&[(&call, &toks("67 _ 69 71 72"))]), Some(0.0));
        assert_eq!(motif_reuse(&[(&call, &toks("67 69 71 72 74"))]), Some(0.5));
        assert_eq!(motif_reuse(&[(&call, &toks("60 62"))]), None);
    }

    #[test]
    fn own_song_fit_tells_songs_apart_by_their_pitches() {
        let (a, b) = (toks("60 64 67"), toks("61 66 68"));
        let c = [Key::C_MAJOR; 2];
        assert_eq!(own_song_fit(&[&a, &b], &[&a, &b], &c), Some(1.0));
        assert_eq!(own_song_fit(&[&b, &a], &[&a, &b], &c), Some(0.0));
        assert_eq!(own_song_fit(&[&a, &a], &[&a, &a], &c), Some(0.5));
        // Songs are told apart by their melodies, not their keys: the same melody in two
        // keys is one song.
        let d = toks("62 66 69");
        let keys = [Key::new(2, continuo_core::key::Mode::Major), Key::C_MAJOR];
        assert_eq!(own_song_fit(&[&d, &a], &[&d, &a], &keys), Some(0.5));
    }

    #[test]
    fn strong_beats_follow_the_metre() {
        assert!(strong_beat(0, 16, 4) && strong_beat(8, 16, 4) && !strong_beat(4, 16, 4));
        assert!(strong_beat(12, 12, 3) && !strong_beat(6, 12, 3));
        assert!(strong_beat(6, 12, 6));
    }

    #[test]
    fn distributions_count_bars_and_positions() {
        let t = toks("60 _ _ _ 62 _ _ _ _ _ _ _ 64 _ _ _ 65 _ _ _ r _ _ _");
        let mut h = Vec::new();
        Distribution::OnsetsPerBar.count(&t, Key::C_MAJOR, 12, &mut h);
        assert_eq!(h, vec![0.0, 0.0, 2.0]);
        let mut h = Vec::new();
        Distribution::PositionInBar.count(&t, Key::C_MAJOR, 12, &mut h);
        assert_eq!((h[0], h[4]), (2.0, 2.0));
        let mut h = Vec::new();
        Distribution::PitchClass.count(&t, Key::new(2, continuo_core::key::Mode::Major), 12, &mut h);
        assert_eq!((h[10], h[0], h[2], h[3]), (1.0, 1.0, 1.0, 1.0));
    }
}
