//! `trainer generate`: continue a MIDI or `**kern` file with a model and write a MIDI file
//! holding the seed (track 1) and the continuation (track 2).

use clap::Args;
use continuo_core::continuation::{continue_score, Continuer};
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
    /// How many bars to add (bars of the seed's metre, 4/4 if it has none).
    #[arg(long, default_value_t = 8)]
    bars: usize,
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
    let seed = read_music_file(&args.seed, &MidiOptions::default()).map_err(|e| e.to_string())?;
    let grid = model.card().grid();
    let bar_beats = seed.time_signatures.first().map_or(4.0, |t| t.bar_beats());
    let steps = (args.bars as f64 * bar_beats * grid.steps_per_beat as f64).round() as usize;
    let settings = args.sampling.settings();
    let mut continuer = Continuer::new(model, args.sampling.random_seed);
    let (tokens, score) =
        continue_score(&mut continuer, &seed, steps, &settings, args.velocity).map_err(|e| e.to_string())?;
    write_midi_file(&args.out, &score).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let added = score.notes.iter().filter(|n| n.voice == 1).count();
    let text: Vec<String> = tokens.iter().take(64).map(|t| t.to_string()).collect();
    println!(
        "continued {} by {} bars ({steps} steps, {added} notes) with {}; wrote {}\nfirst tokens: {}",
        args.seed.display(),
        args.bars,
        continuer.model.card().name,
        args.out.display(),
        text.join(" ")
    );
    Ok(())
}
