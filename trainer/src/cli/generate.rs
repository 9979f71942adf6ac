//! `trainer generate`: continue a MIDI, `**kern` or MusicXML file with a model and write a MIDI file
//! holding the seed (the track named "seed") and the continuation ("answer"), over a chord
//! progression if one is given ("chords", in block chords); one file or several samples.

use super::shared::Defaults;
use clap::Args;
use continuo_core::chord::{contains, Chord, Progression};
use continuo_core::continuation::{continue_score, first_bars, Continued, Continuer};
use continuo_core::inference::ContinuationModel;
use continuo_core::midi::{write_midi_named, MidiOptions};
use continuo_core::note::Note;
use continuo_core::read_music_file;
use continuo_core::score::Score;
use continuo_trainer::export::check_weights_finite;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// An exported model (its card NAME.json beside it).
    #[arg(long)]
    model: PathBuf,
    /// The piece to continue (MIDI, **kern or MusicXML).
    #[arg(long)]
    seed: PathBuf,
    /// How many bars to add after the seed's end (and the rest of its last bar), in the
    /// metre in force there (4/4 if it has none).
    #[arg(long, default_value_t = 8, value_parser = super::shared::at_least_one)]
    bars: usize,
    /// Continue after the seed's first N bars instead of its end, to compare with what the
    /// composer wrote next.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    seed_bars: Option<u64>,
    #[arg(long)]
    out: PathBuf,
    /// Chords for the continuation, one a bar from its first bar line, again from the first
    /// when they run out: `"C Am F G"`, `"Dm7 | G7 | Cmaj7"`, `"C/E"`.
    #[arg(long, value_parser = parse_progression, conflicts_with = "chords_file")]
    chords: Option<Progression>,
    /// The chords from a MIDI, `**kern` or MusicXML file instead: each bar's notes make its chord (a
    /// bar without notes keeps the chord before).
    #[arg(long, value_name = "FILE")]
    chords_file: Option<PathBuf>,
    #[command(flatten)]
    sampling: super::shared::SamplingArgs,
    /// Write only the continuation (and the chords), not the seed.
    #[arg(long)]
    answer_only: bool,
    /// How many continuations to write, each with the next random seed: NAME-1.mid,
    /// NAME-2.mid, ... beside --out (one: --out itself).
    #[arg(long, default_value_t = 1, value_parser = super::shared::at_least_one)]
    samples: usize,
    /// The continuation's note velocity, 1-127 (default: the seed's mean velocity).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=127))]
    velocity: Option<u8>,
}

/// The velocity an answer to `seed` plays at: the seed's mean (90 for a seed of no notes).
fn seed_velocity(seed: &Score) -> u8 {
    if seed.notes.is_empty() {
        return 90;
    }
    let sum: f64 = seed.notes.iter().map(|n| n.velocity as f64).sum();
    (sum / seed.notes.len() as f64).round().clamp(1.0, 127.0) as u8
}

pub fn run(args: &GenerateArgs) -> Result<(), String> {
    let same = |a: &std::path::Path, b: &std::path::Path| {
        std::fs::canonicalize(a).ok().is_some_and(|a| std::fs::canonicalize(b).ok() == Some(a))
    };
    if (1..=args.samples).any(|k| same(&sample_path(&args.out, k, args.samples), &args.seed)) {
        return Err(format!("--out {} is the seed: it would be overwritten; write elsewhere", args.out.display()));
    }
    super::shared::make_parent(&args.out)?;
    check_weights_finite(&args.model).map_err(|e| e.to_string())?;
    let model = ContinuationModel::load(&args.model).map_err(|e| e.to_string())?;
    let mut seed = read_music_file(&args.seed, &MidiOptions::default()).map_err(|e| e.to_string())?;
    if let Some(n) = args.seed_bars {
        seed = first_bars(&seed, n as usize)
            .ok_or_else(|| format!("{}: the piece is not longer than {n} bars", args.seed.display()))?;
    }
    let chords = match (&args.chords, &args.chords_file) {
        (Some(chords), _) => chords.clone(),
        (None, Some(file)) => chords_of_file(file)?,
        (None, None) => Progression::default(),
    };
    let first_seed = args.sampling.random_seed(Defaults::Plugin);
    let mut continuer = Continuer::new(model, first_seed);
    for k in 1..=args.samples {
        let random_seed = first_seed.wrapping_add(k as u64 - 1);
        continuer.reseed(random_seed);
        continuer.forget();
        sample(args, &mut continuer, &seed, &chords, (k, random_seed))?;
    }
    Ok(())
}

/// The file of sample `k` of `samples`: `--out` itself for one, `NAME-k.mid` for more.
fn sample_path(out: &std::path::Path, k: usize, samples: usize) -> PathBuf {
    if samples == 1 {
        return out.to_path_buf();
    }
    let stem = out.file_stem().map_or("continued".into(), |s| s.to_string_lossy().into_owned());
    out.with_file_name(format!("{stem}-{k}.mid"))
}

/// One continuation of `seed` (sample `k`, drawn with `random_seed`), written and described.
fn sample(
    args: &GenerateArgs,
    continuer: &mut Continuer,
    seed: &Score,
    chords: &Progression,
    (k, random_seed): (usize, u64),
) -> Result<(), String> {
    let settings = args.sampling.settings(Defaults::Plugin);
    let velocity = args.velocity.unwrap_or_else(|| seed_velocity(seed));
    let mut continued =
        continue_score(continuer, seed, args.bars, chords, &settings, velocity).map_err(|e| e.to_string())?;
    add_chord_track(&mut continued, chords);
    if args.answer_only {
        continued.score.notes.retain(|n| n.voice != 0);
    }
    let out = sample_path(&args.out, k, args.samples);
    let names = |voice: u8| ["seed", "answer", "chords"].get(voice as usize).map(|n| n.to_string());
    std::fs::write(&out, write_midi_named(&continued.score, &names)).map_err(|e| format!("{}: {e}", out.display()))?;
    let key = &continued.key;
    if let (true, Some(declared), Some(followed)) = (key.followed_notes, key.declared, key.key) {
        println!("the seed declares {declared}, but its notes are in {followed}: following the notes");
    }
    if continuer.guarded() > 0 {
        println!(
            "the model did not know the music at {} of {} steps (near-uniform): the guard kept those in key at half \
             the temperature",
            continuer.guarded(),
            continued.tokens.len()
        );
    }
    let added = continued.score.notes.iter().filter(|n| n.voice == 1).count();
    let text: Vec<String> = continued.tokens.iter().take(64).map(|t| t.to_string()).collect();
    println!(
        "continued {} from beat {} by {} bars ({} steps, {added} notes) with {}, random seed {random_seed}; wrote \
         {}\nfirst tokens: {}",
        args.seed.display(),
        continued.start,
        args.bars,
        continued.tokens.len(),
        continuer.model.card().name,
        out.display(),
        text.join(" ")
    );
    Ok(())
}

fn parse_progression(s: &str) -> Result<Progression, String> {
    s.parse()
}

/// The chords of a file, a bar each: the notes that sound in each bar of its metre.
fn chords_of_file(path: &std::path::Path) -> Result<Progression, String> {
    let score = read_music_file(path, &MidiOptions::default()).map_err(|e| e.to_string())?;
    let (mut chords, mut bar) = (Vec::new(), 0.0);
    while bar < score.end_beat() - 1e-9 {
        let end = bar + score.time_signature_at(bar).bar_beats();
        let sounding = score.notes.iter().filter(|n| n.onset < end - 1e-9 && n.end() > bar + 1e-9).map(|n| n.pitch);
        // A bar without notes keeps the chord before (the first bars wait for one).
        if let Some(chord) = Chord::recognise(sounding).or(chords.last().copied()) {
            chords.push(chord);
        }
        bar = end;
    }
    if chords.is_empty() {
        return Err(format!("{}: no notes, so no chords", path.display()));
    }
    Ok(Progression(chords))
}

/// The chords under the continuation as block chords (voice 2), as `continue_score` plays
/// over them: the bar the continuation starts in and its first whole bar take the first.
fn add_chord_track(continued: &mut Continued, chords: &Progression) {
    let score = &mut continued.score;
    let (start, end) = (continued.start, score.end());
    let ts = score.time_signature_at(start);
    let bar_beats = ts.bar_beats();
    let first_bar_line = start + (bar_beats - (start - ts.beat()).rem_euclid(bar_beats)) % bar_beats;
    // (onset, end, bar) of each stretch under one chord.
    let mut stretches = vec![(start, first_bar_line, 0)];
    stretches.extend(
        (0..)
            .map(|k| first_bar_line + k as f64 * bar_beats)
            .take_while(|&b| b < end - 1e-9)
            .enumerate()
            .map(|(k, b)| (b, (b + bar_beats).min(end), k)),
    );
    for (onset, until, bar) in stretches.into_iter().filter(|s| s.1 > s.0 + 1e-9) {
        let Some(chord) = chords.at_bar(bar) else { return };
        let bass = 48 + chord.bass;
        for pitch in (bass..bass + 12).filter(|&p| contains(chord.tones, p)) {
            score.notes.push(Note { onset, duration: until - onset, pitch, velocity: 70, voice: 2 });
        }
    }
    score.sort();
}
