//! `trainer prepare`: import corpus folders with a progress bar, write the prepared corpus
//! and print the import summary (every skipped file with its reason).

use clap::Args;
use continuo_core::corpus::{import, ImportOptions, Shares, Split};
use continuo_core::midi::MidiOptions;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct PrepareArgs {
    /// Folders to import, read recursively, or single files (.mid, .midi, .smf, .krn, .kern, .musicxml, .xml, .mxl,
    /// .abc: each tune of an ABC tune book is a song of its own).
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
    /// Percent of the files (chosen by the hash of their name) for validation, which training
    /// stops on: raise it for a small corpus.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(1..=90))]
    validation_share: u8,
    /// Percent of the files for the test split, which the figures come from.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=89))]
    test_share: u8,
    /// melody: record under each step the pitch classes of the notes below the melody (the
    /// top voice), for a model that reads the harmony (`train --harmony true`); for
    /// polyphonic music such as the Bach chorales.
    #[arg(long)]
    harmony: bool,
    /// Keep MIDI channel 10 (drums).
    #[arg(long)]
    drums: bool,
    /// Keep only these MIDI tracks (1-based, as a DAW counts them, comma separated).
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u16).range(1..))]
    tracks: Option<Vec<u16>>,
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
    if args.harmony && args.encoding.encoding != continuo_core::EncodingKind::Melody {
        return Err("--harmony is the harmony under a melody: it needs --encoding melody".into());
    }
    for input in &args.inputs {
        if !input.is_dir() && !input.is_file() {
            return Err(format!("{}: no such folder or file", input.display()));
        }
    }
    let options = ImportOptions {
        kind: args.encoding.encoding,
        grid: args.encoding.grid,
        key_normalisation: args.encoding.keys,
        midi: MidiOptions {
            include_drums: args.drums,
            tracks: args.tracks.as_ref().map(|t| t.iter().map(|&k| k as usize - 1).collect()),
            channels: args.channels.as_ref().map(|c| c.iter().map(|x| x - 1).collect()),
            programs: args.programs.as_ref().map(|p| p.iter().map(|x| x - 1).collect()),
        },
        min_chord_count: args.min_chord_count,
        shares: Shares::new(args.validation_share, args.test_share).map_err(|e| format!("--validation-share: {e}"))?,
        harmony: args.harmony,
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
    for warning in split_warnings(&corpus.manifest.summary.songs) {
        println!("warning: {warning}");
    }
    println!(
        "encoding: {}, grid {}, keys {}; written to {}",
        options.kind,
        options.grid,
        options.key_normalisation,
        args.out.display()
    );
    Ok(())
}

/// What a developer should know of a corpus's splits: a split with no songs (training needs
/// validation songs to stop on; the test split gives the figures) or very few.
fn split_warnings(songs: &std::collections::BTreeMap<Split, usize>) -> Vec<String> {
    let mut warnings = Vec::new();
    for (split, what) in [(Split::Train, "training"), (Split::Validation, "validation"), (Split::Test, "test")] {
        let n = songs.get(&split).copied().unwrap_or(0);
        if n < 3 {
            warnings.push(format!(
                "{n} {what} song{}: songs go to a split by their file's name (8 in 10 to training, 1 in 10 each to \
                 validation and test), so a corpus of few files may leave a split empty; `train` needs training and \
                 validation songs. Add files, raise --validation-share (and --test-share), or fine-tune a model on a \
                 few tunes with `trainer finetune`",
                if n == 1 { "" } else { "s" }
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_or_tiny_splits_are_warned_of() {
        let songs = |t, v, e| [(Split::Train, t), (Split::Validation, v), (Split::Test, e)].into_iter().collect();
        assert!(split_warnings(&songs(400, 50, 50)).is_empty());
        let w = split_warnings(&songs(6, 0, 1));
        assert_eq!(w.len(), 2);
        assert!(w[0].starts_with("0 validation songs") && w[1].starts_with("1 test song:"), "{w:?}");
    }
}
