//! Corpus import through the public interface: a folder with good, bad and foreign files;
//! the written corpus read back; and the three real corpora.

mod common;

use continuo_core::corpus::{import, split_of, Corpus, ImportOptions, Split};
use continuo_core::midi::write_midi;
use continuo_core::song::KeyNormalisation;
use continuo_core::{EncodingKind, Note, Score};

fn no_progress(_: usize, _: usize) {}

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
    assert_eq!((s.files_found, s.files_read, s.files_skipped(), s.files_ignored), (6, 3, 3, 2));
    assert_eq!(s.skipped["truncated file"][0].file, "mixed/deeper/cut.mid");
    assert_eq!(s.skipped["empty file"][0].file, "mixed/deeper/empty.mid");
    assert!(s.skipped["unsupported kern token"][0].reason.contains("line 3"));
    assert_eq!((s.keys_declared, s.keys_estimated), (1, 2));
    let printed = s.to_string();
    assert!(printed.contains("mixed/deeper/cut.mid") && printed.contains("3 skipped"), "{printed}");

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
        std::fs::write(root.join(format!("s{i}.krn")), "**kern\n*C:\n4c\n4e\n4g\n*-\n").unwrap();
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
        assert!(s.files_read as f64 >= 0.99 * s.files_found as f64);
        assert!(s.skipped.values().flatten().all(|f| !f.reason.is_empty()));
        for split in [Split::Train, Split::Validation, Split::Test] {
            assert!(s.songs.get(&split).copied().unwrap_or(0) > 0, "{corpus}: no {split:?} songs");
        }
    }
}
