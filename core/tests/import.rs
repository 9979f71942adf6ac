//! Corpus import through the public interface: a folder with good, bad and foreign files;
//! the written corpus read back; and the three real corpora.

mod common;

use continuo_core::corpus::{fnv1a64, import, split_of, Corpus, ImportOptions, Split};
use continuo_core::midi::write_midi;
use continuo_core::song::KeyNormalisation;
use continuo_core::{EncodingKind, Note, Score};

fn no_progress(_: usize, _: usize) {}

/// The split rule for a file with a duplicate, by its tokens.
fn split_of_notes(tokens: &str) -> Split {
    match fnv1a64(tokens.as_bytes()) % 100 {
        0..=79 => Split::Train,
        80..=89 => Split::Validation,
        _ => Split::Test,
    }
}

#[test]
fn a_folder_without_music_is_an_error_naming_it() {
    let temp = common::temp_dir("import-none");
    std::fs::write(temp.path().join("notes.txt"), "no music").unwrap();
    std::fs::write(temp.path().join("empty.krn"), "").unwrap();
    let err = import(&[temp.path().to_path_buf()], &ImportOptions::default(), &no_progress).unwrap_err().to_string();
    assert!(err.starts_with(&temp.path().display().to_string()), "{err}");
    assert!(err.contains("no music could be read: 1 music files found (files ending .mid, .midi, .smf, .krn, .kern, .musicxml, .xml, .mxl, .abc), 1 skipped (empty file"), "{err}");
}

#[test]
fn a_kern_file_with_a_byte_order_mark_is_read() {
    let temp = common::temp_dir("import-bom");
    std::fs::write(temp.path().join("bom.krn"), "\u{feff}**kern\n*M2/4\n4c\n4d\n*-\n").unwrap();
    let corpus = import(&[temp.path().to_path_buf()], &ImportOptions::default(), &no_progress).unwrap();
    assert_eq!(corpus.manifest.summary.files_read, 1);
}

#[test]
fn one_bad_file_never_aborts_an_import() {
    let temp = common::temp_dir("import");
    let root = temp.path().join("mixed");
    std::fs::create_dir_all(root.join("deeper/still")).unwrap();
    let tune = Score {
        notes: (0..8)
            .map(|i| Note { onset: i as f64, duration: 1.0, pitch: 62 + (i % 3) as u8 * 2, velocity: 80, voice: 0 })
            .collect(),
        ..Score::default()
    };
    let midi = write_midi(&tune);
    std::fs::write(root.join("tune.mid"), &midi).unwrap();
    std::fs::write(root.join("deeper/still/TUNE.MIDI"), &midi).unwrap();
    std::fs::write(root.join("deeper/cut.mid"), &midi[..midi.len() - 5]).unwrap();
    std::fs::write(root.join("deeper/empty.mid"), b"").unwrap();
    std::fs::write(root.join("song.krn"), "**kern\n*G:\n4g\n4a\n4b\n2g\n*-\n").unwrap();
    std::fs::write(root.join("bad.krn"), "**kern\n4g\n4q@\n*-\n").unwrap();
    std::fs::write(root.join("README.txt"), "not music").unwrap();
    std::fs::write(root.join("CKSUM"), "123").unwrap();

    let corpus = import(std::slice::from_ref(&root), &ImportOptions::default(), &no_progress).unwrap();
    let s = &corpus.manifest.summary;
    assert_eq!((s.files_found, s.files_read, s.files_skipped(), s.files_ignored), (6, 2, 4, 2));
    // TUNE.MIDI holds the same notes as tune.mid: one is kept, split by its notes.
    let duplicate = &s.skipped["duplicate"][0];
    assert_eq!(duplicate.file, "mixed/tune.mid");
    assert_eq!(duplicate.reason, "the same notes as mixed/deeper/still/TUNE.MIDI");
    let kept = corpus.songs.iter().find(|r| r.file == "mixed/deeper/still/TUNE.MIDI").unwrap();
    let notes: Vec<String> = kept.tokens.iter().map(|t| t.to_string()).collect();
    let by_notes = split_of_notes(&notes.join(" "));
    assert_eq!(kept.split, by_notes);
    assert_eq!(s.skipped["truncated file"][0].file, "mixed/deeper/cut.mid");
    assert_eq!(s.skipped["empty file"][0].file, "mixed/deeper/empty.mid");
    assert!(s.skipped["unsupported kern token"][0].reason.contains("line 3"));
    assert_eq!((s.keys_declared, s.keys_estimated), (1, 1));
    let printed = s.to_string();
    assert!(printed.contains("mixed/deeper/cut.mid") && printed.contains("4 skipped"), "{printed}");

    // The kern song in G major, normalised to C major: up five semitones, then `/`.
    let song = corpus.songs.iter().find(|r| r.file == "mixed/song.krn").unwrap();
    let text: Vec<String> = song.tokens.iter().map(|t| t.to_string()).collect();
    assert_eq!(text.join(" "), "72 _ _ _ 74 _ _ _ 76 _ _ _ 72 _ _ _ _ _ _ _ /");
    assert_eq!(song.shift, 5);
    assert_eq!(song.split, split_of("song.krn"));

    // Written and read back, it is the same corpus.
    let out = common::temp_dir("import-out");
    corpus.write(out.path()).unwrap();
    assert_eq!(Corpus::read(out.path()).unwrap(), corpus);
    assert!(Corpus::read(&root).unwrap_err().to_string().contains("corpus.json"));
}

#[test]
fn all_keys_augments_training_songs_only() {
    let temp = common::temp_dir("import-aug");
    let root = temp.path().join("aug");
    std::fs::create_dir_all(&root).unwrap();
    for i in 0..20 {
        // Each file a different tune (as many Cs as its number), so none is a duplicate.
        std::fs::write(root.join(format!("s{i}.krn")), format!("**kern\n*C:\n{}4e\n4g\n*-\n", "4c\n".repeat(i + 1)))
            .unwrap();
    }
    let options = ImportOptions { key_normalisation: KeyNormalisation::AllKeys, ..ImportOptions::default() };
    let corpus = import(&[root], &options, &no_progress).unwrap();
    for i in 0..20 {
        let name = format!("aug/s{i}.krn");
        let versions = corpus.songs.iter().filter(|s| s.file == name).count();
        let expected = if split_of(&format!("s{i}.krn")) == Split::Train { 12 } else { 1 };
        assert_eq!(versions, expected, "{name}");
    }
}

#[test]
fn the_three_corpora_import_completely() {
    for (corpus, kind) in [
        ("essen-kern", EncodingKind::Melody),
        ("oneills-midi", EncodingKind::Melody),
        ("bach-chorales-midi", EncodingKind::Chords),
    ] {
        let Some(dir) = common::data_dir(corpus) else { return };
        let options = ImportOptions { kind, ..ImportOptions::default() };
        let imported = import(&[dir], &options, &no_progress).unwrap();
        let s = &imported.manifest.summary;
        println!("== {corpus} ({kind})\n{s}\n");
        assert_eq!(s.files_read + s.files_skipped(), s.files_found);
        let duplicates = s.skipped.get("duplicate").map_or(0, Vec::len);
        assert!((s.files_read + duplicates) as f64 >= 0.99 * s.files_found as f64);
        assert!(s.skipped.values().flatten().all(|f| !f.reason.is_empty()));
        for split in [Split::Train, Split::Validation, Split::Test] {
            assert!(s.songs.get(&split).copied().unwrap_or(0) > 0, "{corpus}: no {split:?} songs");
        }
    }
}
