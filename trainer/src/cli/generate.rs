//! `trainer generate`: continue a MIDI or `**kern` file with a model and write a MIDI file
//! holding the seed (track 1) and the continuation (track 2).

use clap::Args;
use continuo_core::continuation::{continue_score, first_bars, Continuer};
use continuo_core::inference::ContinuationModel;
use continuo_core::midi::{write_midi_file, MidiOptions};
use continuo_core::read_music_file;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// An exported model (its card NAME.json beside it).
    #[arg(long)]
    model: PathBuf,
    /// The piece to continue (.mid or .krn).
    #[arg(long)]
    seed: PathBuf,
    /// How many bars to add after the seed's end (and the rest of its last bar), in the
    /// metre in force there (4/4 if it has none).
    #[arg(long, default_value_t = 8)]
    bars: usize,
    /// Continue after the seed's first N bars instead of its end, to compare with what the
    /// composer wrote next.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    seed_bars: Option<u64>,
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    sampling: super::shared::SamplingArgs,
    /// The continuation's note velocity (1-127).
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u8).range(1..=127))]
    velocity: u8,
}

pub fn run(args: &GenerateArgs) -> Result<(), String> {
    let model = ContinuationModel::load(&args.model).map_err(|e| e.to_string())?;
    let mut seed = read_music_file(&args.seed, &MidiOptions::default()).map_err(|e| e.to_string())?;
    if let Some(n) = args.seed_bars {
        seed = first_bars(&seed, n as usize)
            .ok_or_else(|| format!("{}: the piece is not longer than {n} bars", args.seed.display()))?;
    }
    let settings = args.sampling.settings();
    let mut continuer = Continuer::new(model, args.sampling.random_seed);
    let continued =
        continue_score(&mut continuer, &seed, args.bars, &settings, args.velocity).map_err(|e| e.to_string())?;
    write_midi_file(&args.out, &continued.score).map_err(|e| format!("{}: {e}", args.out.display()))?;
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
        "continued {} from beat {} by {} bars ({} steps, {added} notes) with {}; wrote {}\nfirst tokens: {}",
        args.seed.display(),
        continued.start,
        args.bars,
        continued.tokens.len(),
        continuer.model.card().name,
        args.out.display(),
        text.join(" ")
    );
    Ok(())
}
