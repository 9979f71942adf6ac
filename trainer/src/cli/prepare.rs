//! `trainer prepare`: import corpus folders with a progress bar, write the prepared corpus
//! and print the import summary (every skipped file with its reason).

use clap::Args;
use continuo_core::corpus::{import, ImportOptions};
use continuo_core::midi::MidiOptions;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct PrepareArgs {
    /// Folders to import, read recursively (.mid, .midi, .krn, .kern).
    #[arg(long = "input", short, required = true)]
    inputs: Vec<PathBuf>,
    /// Where to write songs.jsonl and corpus.json.
    #[arg(long, short)]
    out: PathBuf,
    #[command(flatten)]
    encoding: super::shared::EncodingArgs,
    /// chords: keep pitch sets seen at least this often in training; rarer ones fall back.
    #[arg(long, default_value_t = 5)]
    min_chord_count: u32,
    /// Keep MIDI channel 10 (drums).
    #[arg(long)]
    drums: bool,
    /// Keep only these MIDI tracks (0-based, comma separated).
    #[arg(long, value_delimiter = ',')]
    tracks: Option<Vec<usize>>,
    /// Keep only these MIDI channels (1-based, as musicians count, comma separated).
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u8).range(1..=16))]
    channels: Option<Vec<u8>>,
    /// Keep only notes of these General MIDI programs (1-based: 1-8 are pianos).
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u8).range(1..=128))]
    programs: Option<Vec<u8>>,
    /// Reader threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

pub fn run(args: &PrepareArgs) -> Result<(), String> {
    for dir in &args.inputs {
        if !dir.is_dir() {
            return Err(format!("{}: not a folder", dir.display()));
        }
    }
    let options = ImportOptions {
        kind: args.encoding.encoding,
        grid: args.encoding.grid,
        key_normalisation: args.encoding.keys,
        midi: MidiOptions {
            include_drums: args.drums,
            tracks: args.tracks.clone(),
            channels: args.channels.as_ref().map(|c| c.iter().map(|x| x - 1).collect()),
            programs: args.programs.as_ref().map(|p| p.iter().map(|x| x - 1).collect()),
        },
        min_chord_count: args.min_chord_count,
        threads: args.threads,
    };
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{spinner} reading {pos}/{len} files [{bar:30}] {per_sec} ETA {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let corpus = import(&args.inputs, &options, &|done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    corpus.write(&args.out).map_err(|e| format!("{}: cannot write the corpus: {e}", args.out.display()))?;
    println!("{}", corpus.manifest.summary);
    println!(
        "encoding: {}, grid {}, keys {}; written to {}",
        options.kind,
        options.grid,
        options.key_normalisation,
        args.out.display()
    );
    Ok(())
}
