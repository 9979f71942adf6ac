//! `**kern` reading through the public interface: bad files are typed errors that name the
//! file and the line; several spines read without error.

mod common;

use continuo_core::midi::MidiOptions;
use continuo_core::{read_music_file, ReadProblem};

fn read(name: &str, text: &[u8]) -> Result<continuo_core::Score, continuo_core::ReadError> {
    let dir = common::temp_dir("kern");
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    read_music_file(&path, &MidiOptions::default())
}

/// A file's name, its bytes, and the problem it must be read as.
type BadFile = (&'static str, &'static [u8], fn(&ReadProblem) -> bool);

#[test]
fn bad_kern_files_are_typed_errors_naming_file_and_line() {
    let cases: [BadFile; 8] = [
        ("empty.krn", b"", |p| *p == ReadProblem::Empty),
        ("blank.krn", b"\n\n  \n", |p| *p == ReadProblem::Empty),
        ("no-spine.krn", b"!! a comment\n4c\n", |p| *p == ReadProblem::NotKern),
        ("text-only.krn", b"**text\nla\n*-\n", |p| *p == ReadProblem::NotKern),
        ("bad-token.krn", b"**kern\n4c\n4c@\n*-\n", |p| matches!(p, ReadProblem::UnsupportedKern { line: 3, .. })),
        ("no-duration.krn", b"**kern\n4c\ncc\n*-\n", |p| matches!(p, ReadProblem::UnsupportedKern { line: 3, .. })),
        ("fields.krn", b"**kern\t**kern\n4c\t4e\n4d\n*-\t*-\n", |p| {
            matches!(p, ReadProblem::MalformedKern { line: 3, .. })
        }),
        ("rests-only.krn", b"**kern\n4r\n4r\n*-\n", |p| *p == ReadProblem::NoNotes),
    ];
    for (name, text, check) in cases {
        let err = read(name, text).expect_err(name);
        assert!(check(&err.problem), "{name}: {:?}", err.problem);
        assert!(err.to_string().contains(name), "{err} does not name the file");
    }
    let endless = format!("**kern\n{}*-\n", "000c\n".repeat(4000));
    assert!(matches!(read("endless.krn", endless.as_bytes()).unwrap_err().problem, ReadProblem::TooLong { .. }));
    // A lone *x, and binary garbage with a .krn name.
    assert!(read("x.krn", b"**kern\t**kern\n*x\t*\n*-\t*-\n").is_err());
    assert!(read("garbage.krn", &[0xff, 0x00, 0x13, 0x37, b'\n', 0x80]).is_err());
}

#[test]
fn spine_manipulation_keeps_time() {
    // A split into two voices of different rhythm, a join, an added spine, an exchange.
    let text = "**kern\n*M2/4\n*^\n8c\t4e\n8d\t.\n*v\t*v\n4e\n*+\n*\t**kern\n4f\t4a\n*x\t*x\n4g\t4b\n*-\t*-\n";
    let s = read("spines.krn", text.as_bytes()).unwrap();
    let got: Vec<(f64, u8)> = s.notes.iter().map(|n| (n.onset, n.pitch)).collect();
    assert_eq!(got, vec![(0.0, 60), (0.0, 64), (0.5, 62), (1.0, 64), (2.0, 65), (2.0, 69), (3.0, 67), (3.0, 71)]);
}

#[test]
fn every_essen_file_reads_or_is_reported() {
    let Some(dir) = common::data_dir("essen-kern") else { return };
    let mut problems = Vec::new();
    let files = common::files(&dir, &["krn"]);
    for f in &files {
        if let Err(e) = read_music_file(f, &MidiOptions::default()) {
            assert!(matches!(e.problem, ReadProblem::UnsupportedKern { .. }), "{e}");
            problems.push(e.to_string());
        }
    }
    println!("essen-kern: {} files, {} not read:\n{}", files.len(), problems.len(), problems.join("\n"));
    assert!(problems.len() <= 10);
}
