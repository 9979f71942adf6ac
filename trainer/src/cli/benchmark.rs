//! `trainer eval --model M --corpus C --continuations N`: the continuation benchmark
//! ([`continuo_trainer::continuations`]) on the split's songs, read again from the files the
//! corpus was prepared from (the benchmark needs their metre and bar lines), printed as a
//! table or as JSON.

use continuo_core::continuation::Continuer;
use continuo_core::corpus::{Corpus, Split};
use continuo_core::inference::ContinuationModel;
use continuo_core::key::Key;
use continuo_core::midi::MidiOptions;
use continuo_core::read_music_file;
use continuo_core::sampler::SamplerSettings;
use continuo_core::score::Score;
use continuo_trainer::chord_bench;
use continuo_trainer::continuations::{case_of, report, Distribution, Figures, Report, Table};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// What the benchmark continues, and how.
#[derive(Debug, Clone)]
pub struct Benchmark {
    pub songs: usize,
    pub call_bars: usize,
    pub answer_bars: usize,
    /// `None`: every song.
    pub split: Option<Split>,
    pub settings: SamplerSettings,
    pub random_seed: u64,
}

/// The file a song of the corpus was read from: its path starts with the name of one of the
/// corpus's roots.
fn source_of(corpus: &Corpus, corpus_path: &Path, file: &str) -> Result<PathBuf, String> {
    let (root_name, inside) = file.split_once('/').unwrap_or((file, ""));
    let root = corpus
        .manifest
        .summary
        .roots
        .iter()
        .map(PathBuf::from)
        .find(|r| r.file_name().is_some_and(|n| n.to_string_lossy() == root_name))
        .ok_or_else(|| format!("{}: no corpus root named `{root_name}` for {file}", corpus_path.display()))?;
    // A file prepared on its own is its own root.
    let path = if inside.is_empty() { root.clone() } else { root.join(inside) };
    if !path.is_file() {
        return Err(format!(
            "{}: the song {file} is not at {} (the benchmark reads the files the corpus was prepared from; run it \
             from the folder `trainer prepare` ran in)",
            corpus_path.display(),
            path.display()
        ));
    }
    Ok(path)
}

/// The benchmark split's songs, each file once, read again from the files the corpus was
/// prepared from.
fn split_scores<'a>(
    benchmark: &'a Benchmark,
    corpus_path: &'a Path,
    corpus: &'a Corpus,
) -> impl Iterator<Item = Result<Score, String>> + 'a {
    let mut seen = HashSet::new();
    corpus
        .songs
        .iter()
        .filter(|s| benchmark.split.is_none_or(|split| s.split == split))
        .filter(move |s| seen.insert(s.file.clone()))
        .map(|song| {
            let path = source_of(corpus, corpus_path, &song.file)?;
            read_music_file(&path, &MidiOptions::default()).map_err(|e| e.to_string())
        })
}

pub fn run(
    benchmark: Benchmark,
    corpus_path: &Path,
    corpus: &Corpus,
    model_path: &Path,
    model: ContinuationModel,
    json: bool,
) -> Result<(), String> {
    let mut continuer = Continuer::new(model, benchmark.random_seed);
    let mut cases = Vec::new();
    for score in split_scores(&benchmark, corpus_path, corpus) {
        if cases.len() >= benchmark.songs {
            break;
        }
        let score = score?;
        continuer.forget();
        continuer.reseed(benchmark.random_seed.wrapping_add(cases.len() as u64));
        let case = case_of(&mut continuer, &score, benchmark.call_bars, benchmark.answer_bars, &benchmark.settings)
            .map_err(|e| e.to_string())?;
        cases.extend(case);
    }
    if cases.len() < 2 {
        return Err(format!("{}: fewer than 2 songs long enough to continue", corpus_path.display()));
    }
    let report = report(&cases, benchmark.call_bars, benchmark.answer_bars);
    if json {
        let mut value = serde_json::to_value(&report).map_err(|e| e.to_string())?;
        value["model"] = model_path.display().to_string().into();
        value["corpus"] = corpus_path.display().to_string().into();
        value["settings"] = format!("{:?}", benchmark.settings).into();
        value["random_seed"] = benchmark.random_seed.into();
        println!("{value}");
    } else {
        print_report(&report, model_path, corpus_path);
    }
    Ok(())
}

fn cell(x: Option<f64>) -> String {
    x.map_or("-".into(), |x| format!("{x:.3}"))
}

fn print_table(table: &Table) {
    let rows: [(&str, &Figures); 3] =
        [("model", &table.model), ("composer", &table.composer), ("call replayed", &table.replayed)];
    println!(
        "  {:14} {:>7} {:>7} {:>7} {:>7} {:>7} {:>6}   overlaps: {}",
        "",
        "reuse",
        "fit",
        "strong",
        "I or V",
        "in key",
        "notes",
        Distribution::ALL.map(|d| format!("{d:?}")).join(" ")
    );
    for (name, f) in rows {
        let overlaps: Vec<String> = f.overlap.values().map(|o| format!("{o:.3}")).collect();
        println!(
            "  {name:14} {:>7} {:>7} {:>7.3} {:>7.3} {:>7.3} {:>6.1}   {}",
            cell(f.motif_reuse),
            cell(f.own_song_fit),
            f.ends_on_strong_beat,
            f.ends_on_tonic_or_dominant,
            f.in_key,
            f.notes,
            overlaps.join(" ")
        );
    }
    let halves: Vec<String> = table.composer_halves.values().map(|o| format!("{o:.3}")).collect();
    println!("  {:14} {:>55}   {}", "composer halves", "", halves.join(" "));
}

fn print_report(report: &Report, model: &Path, corpus: &Path) {
    println!(
        "{}: {} calls of {} bars from {}, answered by {} bars",
        model.display(),
        report.all.cases,
        report.call_bars,
        corpus.display(),
        report.answer_bars
    );
    print_table(&report.all);
    for (metre, table) in &report.by_metre {
        println!("in {metre} ({} calls):", table.cases);
        print_table(table);
    }
}

/// The split's calls for the chord benchmark, in `key`: each song's first bars, where they
/// are in 4/4 and a major key ([`chord_bench::call_in`]).
fn chord_calls(benchmark: &Benchmark, corpus_path: &Path, corpus: &Corpus, key: Key) -> Result<Vec<Score>, String> {
    let mut calls = Vec::new();
    for score in split_scores(benchmark, corpus_path, corpus) {
        if calls.len() >= benchmark.songs {
            break;
        }
        calls.extend(chord_bench::call_in(&score?, key));
    }
    if calls.is_empty() {
        return Err(format!("{}: no song in 4/4 and a major key to call with", corpus_path.display()));
    }
    Ok(calls)
}

/// `trainer eval --chords N`: N answers per key and progression, each without and with
/// following the chords (at the settings' Follow chords), from the same random seeds.
pub fn run_chords(
    benchmark: Benchmark,
    corpus_path: &Path,
    corpus: &Corpus,
    model_path: &Path,
    model: ContinuationModel,
    json: bool,
) -> Result<(), String> {
    let mut continuer = Continuer::new(model, benchmark.random_seed);
    let follow = benchmark.settings.follow_chords;
    let mut rows = Vec::new();
    for (name, numerals) in chord_bench::PROGRESSIONS {
        let (mut ignoring, mut following) = (Vec::new(), Vec::new());
        for key in chord_bench::KEYS {
            let calls = chord_calls(&benchmark, corpus_path, corpus, key)?;
            let chords = chord_bench::progression_in(&numerals, key);
            for k in 0..benchmark.songs {
                for (amount, cases) in [(0.0, &mut ignoring), (follow, &mut following)] {
                    continuer.forget();
                    continuer.reseed(benchmark.random_seed.wrapping_add(k as u64));
                    let settings = SamplerSettings { follow_chords: amount, ..benchmark.settings };
                    let call = &calls[k % calls.len()];
                    cases.push(
                        chord_bench::answer(&mut continuer, call, key, &chords, &settings)
                            .map_err(|e| e.to_string())?,
                    );
                }
            }
        }
        rows.push((name, chord_bench::figures(&ignoring), chord_bench::figures(&following)));
    }
    if json {
        let rows: Vec<serde_json::Value> = rows
            .iter()
            .map(|(name, ignoring, following)| serde_json::json!({"progression": name, "follow_0": ignoring, "follow": following}))
            .collect();
        let value = serde_json::json!({"model": model_path.display().to_string(), "corpus": corpus_path.display().to_string(),
            "follow_chords": follow, "random_seed": benchmark.random_seed, "rows": rows});
        println!("{value}");
        return Ok(());
    }
    println!(
        "{} on {}: chord following, {} answers of {} bars per key (C, G, F, D major) and progression",
        model_path.display(),
        corpus_path.display(),
        benchmark.songs,
        chord_bench::ANSWER_BARS
    );
    println!(
        "  {:12} {:>16} {:>16} {:>16} {:>16}",
        "",
        "on 1 & 3 (0)",
        format!("on 1 & 3 ({follow})"),
        "in scale (0)",
        format!("in scale ({follow})")
    );
    for (name, a, b) in rows {
        println!(
            "  {name:12} {:>16.3} {:>16.3} {:>16.3} {:>16.3}   ({} and {} notes on 1 & 3, {} and {} in all)",
            a.strong_chord_tones,
            b.strong_chord_tones,
            a.in_chord_scale,
            b.in_chord_scale,
            a.strong_notes,
            b.strong_notes,
            a.notes,
            b.notes
        );
    }
    Ok(())
}
