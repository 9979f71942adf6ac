//! Corpus import: folders of MIDI and `**kern` files → a prepared corpus on disk, with a
//! summary of what was read and what was skipped and why. One bad file never aborts an
//! import. Runs on the trainer's threads (files are read in parallel).
//!
//! On disk, a prepared corpus is a folder with two files:
//! - `songs.jsonl`: one JSON object a line, one line per song and transposition:
//!   `{"file": "essen-kern/erk/deut0001.krn", "split": "train", "key": "F major",
//!     "key_source": "declared", "shift": -5, "tokens": ["60", "_", "r", …, "/"]}`.
//!   `tokens` are in the key after `shift` semitones; every song ends with `/`.
//! - `corpus.json`: the settings (encoding, grid, key normalisation), the split rule, the
//!   vocabulary built from the training split, and the import summary.
//!
//! The split is by file, never by window: `fnv1a64(path inside its root) % 100`, 0–79 train,
//! 80–89 validation, 90–99 test, so a file keeps its split whatever else is imported.

use crate::abc::{abc_tune_count, read_abc_tune};
use crate::chord::ClassMask;
use crate::encoding::{EncodingKind, Token};
use crate::error::Error;
use crate::grid::Grid;
use crate::key::Key;
use crate::metre::{spans_of, MetreSpan};
use crate::midi::MidiOptions;
use crate::read_error::ReadError;
use crate::reader::{read_music_file, FileKind};
use crate::song::{encode_score, harmony_of_score, shifts_for, song_key, KeyNormalisation, KeySource};
use crate::vocab::Vocabulary;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const CORPUS_FORMAT: &str = "continuo-corpus";
pub const CORPUS_VERSION: u32 = 1;
pub const SONGS_FILE: &str = "songs.jsonl";
pub const MANIFEST_FILE: &str = "corpus.json";
pub const SPLIT_RULE: &str = "by file: fnv1a64(path inside its root) % 100: 0-79 train, 80-89 validation, 90-99 test; \
     files with the same notes as another: one kept, split by fnv1a64(its tokens)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Validation,
    Test,
}

/// FNV-1a, 64 bit: a stable hash (unlike std's) for the split.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3))
}

/// The split of a file, from its path inside its corpus root (with `/` separators), at the
/// default shares.
pub fn split_of(relative_path: &str) -> Split {
    Shares::default().split_of(relative_path)
}

/// Which share of the files (in percent, by the hash of their name) goes to validation and to
/// test; the rest trains. The default is 10 and 10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shares {
    pub validation: u8,
    pub test: u8,
}

impl Default for Shares {
    fn default() -> Self {
        Shares { validation: 10, test: 10 }
    }
}

impl Shares {
    /// At least one percent for validation (training stops on it), and some left to train.
    pub fn new(validation: u8, test: u8) -> Result<Shares, String> {
        if validation == 0 || validation as u32 + test as u32 > 90 {
            return Err(format!(
                "validation {validation} % and test {test} %: validation needs at least 1 %, and together at most 90 %"
            ));
        }
        Ok(Shares { validation, test })
    }

    /// The split of a file, from its path inside its corpus root (with `/` separators).
    pub fn split_of(self, relative_path: &str) -> Split {
        self.split_of_hash(fnv1a64(relative_path.as_bytes()))
    }

    fn split_of_hash(self, hash: u64) -> Split {
        let train = 100 - self.validation as u64 - self.test as u64;
        match hash % 100 {
            b if b < train => Split::Train,
            b if b < train + self.validation as u64 => Split::Validation,
            _ => Split::Test,
        }
    }

    /// The rule as a corpus's manifest and a model's card record it ([`SPLIT_RULE`] at the
    /// default shares).
    pub fn rule(self) -> String {
        let train = 100 - self.validation - self.test;
        let validation_end = train + self.validation;
        let test = if self.test == 0 { String::new() } else { format!(", {validation_end}-99 test") };
        format!(
            "by file: fnv1a64(path inside its root) % 100: 0-{} train, {train}-{} validation{test}; files with the same \
             notes as another: one kept, split by fnv1a64(its tokens)",
            train - 1,
            validation_end - 1
        )
    }
}

/// What to import and how to encode it.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub kind: EncodingKind,
    pub grid: Grid,
    pub key_normalisation: KeyNormalisation,
    pub midi: MidiOptions,
    /// `chords`: pitch sets seen fewer times than this in training fall back (see `vocab`).
    pub min_chord_count: u32,
    /// The files' shares of validation and test.
    pub shares: Shares,
    /// Melody: record each step's harmony, the notes under the melody (polyphonic music).
    pub harmony: bool,
    /// Reader threads; 0 means one per core.
    pub threads: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            kind: EncodingKind::Melody,
            grid: Grid::SIXTEENTH,
            key_normalisation: KeyNormalisation::CMajorAMinor,
            midi: MidiOptions::default(),
            min_chord_count: 5,
            shares: Shares::default(),
            harmony: false,
            threads: 0,
        }
    }
}

/// One song (in one transposition) of a prepared corpus.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SongRecord {
    pub file: String,
    pub split: Split,
    pub key: Option<Key>,
    pub key_source: Option<KeySource>,
    /// Semitones the song was transposed by before encoding.
    pub shift: i32,
    pub tokens: Vec<Token>,
    /// Where each token falls in its bar (token index = step); empty in corpora prepared
    /// before metre was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metre: Vec<MetreSpan>,
    /// Each token's harmony: the pitch classes under the melody ([`crate::accompaniment`]),
    /// transposed with the tokens; empty unless the corpus was prepared with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub harmony: Vec<ClassMask>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedFile {
    pub file: String,
    pub reason: String,
}

/// What an import read, skipped and produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportSummary {
    pub roots: Vec<String>,
    /// Music files found (by extension).
    pub files_found: usize,
    pub files_read: usize,
    /// Files that are not music files (other extensions), left alone.
    pub files_ignored: usize,
    /// Skipped files grouped by reason.
    pub skipped: BTreeMap<String, Vec<SkippedFile>>,
    pub songs: BTreeMap<Split, usize>,
    pub tokens: BTreeMap<Split, usize>,
    pub keys_declared: usize,
    pub keys_estimated: usize,
    pub vocabulary_size: usize,
    pub pitch_range: [u8; 2],
}

impl ImportSummary {
    pub fn files_skipped(&self) -> usize {
        self.skipped.values().map(Vec::len).sum()
    }
}

/// Skipped files the summary names for each reason; `corpus.json` keeps them all.
const SKIPPED_SHOWN: usize = 5;

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "corpus: {}", self.roots.join(", "))?;
        writeln!(
            f,
            "files: {} music files found, {} read, {} skipped, {} other files ignored",
            self.files_found,
            self.files_read,
            self.files_skipped(),
            self.files_ignored
        )?;
        for (reason, files) in &self.skipped {
            writeln!(f, "  skipped ({reason}): {}", files.len())?;
            for s in files.iter().take(SKIPPED_SHOWN) {
                writeln!(f, "    {}: {}", s.file, s.reason)?;
            }
            if files.len() > SKIPPED_SHOWN {
                writeln!(f, "    … and {} more (every one is listed in corpus.json)", files.len() - SKIPPED_SHOWN)?;
            }
        }
        let get = |m: &BTreeMap<Split, usize>, s| m.get(&s).copied().unwrap_or(0);
        writeln!(
            f,
            "songs: {} train, {} validation, {} test",
            get(&self.songs, Split::Train),
            get(&self.songs, Split::Validation),
            get(&self.songs, Split::Test)
        )?;
        writeln!(
            f,
            "tokens: {} train, {} validation, {} test",
            get(&self.tokens, Split::Train),
            get(&self.tokens, Split::Validation),
            get(&self.tokens, Split::Test)
        )?;
        writeln!(f, "keys: {} declared, {} estimated", self.keys_declared, self.keys_estimated)?;
        write!(
            f,
            "vocabulary: {} tokens, pitches {}..={}",
            self.vocabulary_size, self.pitch_range[0], self.pitch_range[1]
        )
    }
}

/// `corpus.json`: everything about a prepared corpus except its songs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub encoding: EncodingKind,
    pub steps_per_beat: Grid,
    pub key_normalisation: KeyNormalisation,
    pub min_chord_count: u32,
    pub split: String,
    pub vocabulary: Vec<Token>,
    pub summary: ImportSummary,
}

/// A prepared corpus in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct Corpus {
    pub manifest: Manifest,
    pub songs: Vec<SongRecord>,
}

/// Every file below `root`, sorted, following no symbolic links out of it.
fn walk(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    if root.is_file() {
        return Ok(vec![root.to_path_buf()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The outcome of reading one file.
enum FileResult {
    Songs(Vec<SongRecord>, KeySource),
    Skipped(SkippedFile, &'static str),
}

fn import_file(job: &Job, options: &ImportOptions) -> FileResult {
    let (path, name, split) = (&job.path, job.name.clone(), job.split);
    let read = std::panic::catch_unwind(|| match job.tune {
        Some(tune) => read_abc_tune(path, tune),
        None => read_music_file(path, &options.midi),
    });
    let score = match read {
        Ok(Ok(score)) => score,
        Ok(Err(ReadError { problem, .. })) => {
            return FileResult::Skipped(SkippedFile { file: name, reason: problem.to_string() }, problem.category())
        }
        Err(_) => {
            return FileResult::Skipped(
                SkippedFile { file: name, reason: "the reader panicked (a bug: please report this file)".into() },
                "reader bug",
            )
        }
    };
    let key = song_key(&score);
    let shifts = shifts_for(key.map(|k| k.0), options.key_normalisation, split == Split::Train);
    let songs = shifts
        .into_iter()
        .filter(|&s| score.can_transpose(s))
        .map(|shift| SongRecord {
            file: name.clone(),
            split,
            key: key.map(|k| k.0),
            key_source: key.map(|k| k.1),
            shift,
            tokens: encode_score(&score, options.grid, options.kind, shift),
            metre: spans_of(&score, options.grid),
            harmony: if options.harmony { harmony_of_score(&score, options.grid, shift) } else { Vec::new() },
        })
        .collect();
    FileResult::Songs(songs, key.map_or(KeySource::Estimated, |k| k.1))
}

/// The notes of a file's songs as a stable hash (its first song: the file as read, in its
/// normalised key).
fn notes_hash(songs: &[SongRecord]) -> Option<u64> {
    let first = songs.first()?;
    let text: Vec<String> = first.tokens.iter().map(Token::to_string).collect();
    Some(fnv1a64(text.join(" ").as_bytes()))
}

/// Files whose notes are identical to another's (the same tune under two paths) would land
/// in two splits: keep the first, skip the others naming it, and split the kept one by its
/// notes, so that the split does not depend on which copy was found.
fn without_duplicates(results: Vec<FileResult>, shares: Shares) -> Vec<FileResult> {
    let hashes: Vec<Option<u64>> =
        results.iter().map(|r| if let FileResult::Songs(s, _) = r { notes_hash(s) } else { None }).collect();
    let mut copies: HashMap<u64, usize> = HashMap::new();
    for h in hashes.iter().flatten() {
        *copies.entry(*h).or_default() += 1;
    }
    let mut first: HashMap<u64, String> = HashMap::new();
    results
        .into_iter()
        .zip(hashes)
        .map(|(result, hash)| match (result, hash) {
            (FileResult::Songs(mut songs, source), Some(h)) if copies[&h] > 1 => {
                if let Some(kept) = first.get(&h) {
                    let file = songs[0].file.clone();
                    let reason = format!("the same notes as {kept}");
                    return FileResult::Skipped(SkippedFile { file, reason }, "duplicate");
                }
                first.insert(h, songs[0].file.clone());
                songs.iter_mut().for_each(|s| s.split = shares.split_of_hash(h));
                FileResult::Songs(songs, source)
            }
            (result, _) => result,
        })
        .collect()
}

/// Import every music file below each root. `progress(done, total)` is called after each
/// file, from the reader threads. Fails if a root cannot be listed or no file holds music.
pub fn import(
    roots: &[PathBuf],
    options: &ImportOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Corpus, Error> {
    let mut summary = ImportSummary::default();
    let jobs = music_files(roots, options.shares, &mut summary)?;
    let results = read_in_parallel(&jobs, options, progress);
    let mut songs = Vec::new();
    for result in without_duplicates(results, options.shares) {
        match result {
            FileResult::Songs(s, source) => {
                summary.files_read += 1;
                match source {
                    KeySource::Declared => summary.keys_declared += 1,
                    KeySource::Estimated => summary.keys_estimated += 1,
                }
                songs.extend(s);
            }
            FileResult::Skipped(s, category) => summary.skipped.entry(category.to_string()).or_default().push(s),
        }
    }
    if songs.is_empty() {
        let mut why = format!(
            "no music could be read: {} music files found (files ending {})",
            summary.files_found,
            crate::reader::FileKind::EXTENSIONS
        );
        for (reason, files) in &summary.skipped {
            why += &format!(", {} skipped ({reason}, e.g. {}: {})", files.len(), files[0].file, files[0].reason);
        }
        let path = roots.first().cloned().unwrap_or_default();
        return Err(Error::Corpus { path, why });
    }
    Ok(Corpus { manifest: manifest_of(&songs, options, summary), songs })
}

/// A piece to read: a file, or one tune of an ABC tune book (split on its own, as a tune).
struct Job {
    path: PathBuf,
    /// The tune of an ABC file, from 0; `None`: the file is one piece.
    tune: Option<usize>,
    /// The root folder and the path inside it (and `#N`, the tune's number from 1).
    name: String,
    split: Split,
}

/// Every piece under `roots`: each music file (by extension), each tune of an ABC file that
/// holds several; the summary counts them and the files ignored.
fn music_files(roots: &[PathBuf], shares: Shares, summary: &mut ImportSummary) -> Result<Vec<Job>, Error> {
    let mut jobs = Vec::new();
    for root in roots {
        let files = walk(root).map_err(Error::io(root))?;
        let root_name =
            root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| root.display().to_string());
        summary.roots.push(root.display().to_string());
        for path in files {
            if FileKind::of(&path).is_none() {
                summary.files_ignored += 1;
                continue;
            }
            let inside = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
            // A file given as a root is named by itself.
            let name = if inside.is_empty() { root_name.clone() } else { format!("{root_name}/{inside}") };
            let key = if inside.is_empty() { root_name.clone() } else { inside };
            jobs.extend(pieces(path, name, &key, shares));
        }
    }
    summary.files_found = jobs.len();
    Ok(jobs)
}

/// Each file read (on `options.threads` threads, 0: one per core), in the order of `jobs`.
/// The pieces of one music file: the file, or each tune of an ABC tune book (an ABC file
/// that cannot be read is one piece, and its reading says why).
fn pieces(path: PathBuf, name: String, key: &str, shares: Shares) -> Vec<Job> {
    let abc = FileKind::of(&path) == Some(FileKind::Abc);
    let tunes = if abc { abc_tune_count(&path).unwrap_or(1) } else { 1 };
    if tunes <= 1 {
        return vec![Job { tune: abc.then_some(0), split: shares.split_of(key), path, name }];
    }
    (0..tunes)
        .map(|t| Job {
            path: path.clone(),
            tune: Some(t),
            name: format!("{name}#{}", t + 1),
            split: shares.split_of(&format!("{key}#{}", t + 1)),
        })
        .collect()
}

fn read_in_parallel(
    jobs: &[Job],
    options: &ImportOptions,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Vec<FileResult> {
    let threads = if options.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        options.threads
    };
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let mut results: Vec<Option<FileResult>> = (0..jobs.len()).map(|_| None).collect();
    let chunks: Vec<Vec<(usize, FileResult)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(i) else { break };
                        mine.push((i, import_file(job, options)));
                        progress(done.fetch_add(1, Ordering::Relaxed) + 1, jobs.len());
                    }
                    mine
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("import workers catch panics")).collect()
    });
    for (i, r) in chunks.into_iter().flatten() {
        results[i] = Some(r);
    }
    results.into_iter().flatten().collect()
}

/// The corpus's manifest: its encoding, the vocabulary of its training songs, and the
/// summary with the songs and tokens of each split.
fn manifest_of(songs: &[SongRecord], options: &ImportOptions, mut summary: ImportSummary) -> Manifest {
    for s in songs {
        *summary.songs.entry(s.split).or_default() += 1;
        *summary.tokens.entry(s.split).or_default() += s.tokens.len();
    }
    let vocabulary = Vocabulary::build(
        songs.iter().filter(|s| s.split == Split::Train).map(|s| s.tokens.as_slice()),
        options.min_chord_count as usize,
    );
    summary.vocabulary_size = vocabulary.len();
    let (lo, hi) = vocabulary.pitch_range();
    summary.pitch_range = [lo, hi];
    Manifest {
        format: CORPUS_FORMAT.into(),
        version: CORPUS_VERSION,
        encoding: options.kind,
        steps_per_beat: options.grid,
        key_normalisation: options.key_normalisation,
        min_chord_count: options.min_chord_count,
        split: options.shares.rule(),
        vocabulary: vocabulary.tokens().to_vec(),
        summary,
    }
}

impl Corpus {
    /// Write `songs.jsonl` and `corpus.json` into `dir` (created if missing).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!("{SONGS_FILE}.tmp"));
        let mut out = BufWriter::new(std::fs::File::create(&tmp)?);
        for song in &self.songs {
            serde_json::to_writer(&mut out, song)?;
            out.write_all(b"\n")?;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(tmp, dir.join(SONGS_FILE))?;
        let manifest = serde_json::to_string_pretty(&self.manifest)?;
        std::fs::write(dir.join(MANIFEST_FILE), manifest)
    }

    /// Read a prepared corpus; errors name the file and line.
    pub fn read(dir: &Path) -> Result<Corpus, Error> {
        let manifest_path = dir.join(MANIFEST_FILE);
        let bad = |path: &Path, why: String| Error::Corpus { path: path.to_path_buf(), why };
        if !manifest_path.is_file() {
            let why = format!(
                "not a prepared corpus (no {MANIFEST_FILE}): make one with `trainer prepare --input MUSIC_FOLDER --out {}`",
                dir.display()
            );
            return Err(bad(dir, why));
        }
        let text = std::fs::read_to_string(&manifest_path).map_err(Error::io(&manifest_path))?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| bad(&manifest_path, e.to_string()))?;
        if manifest.format != CORPUS_FORMAT {
            return Err(bad(&manifest_path, "not a prepared Continuo corpus".into()));
        }
        let songs_path = dir.join(SONGS_FILE);
        let file = std::fs::File::open(&songs_path).map_err(Error::io(&songs_path))?;
        let mut songs = Vec::new();
        for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(Error::io(&songs_path))?;
            if line.trim().is_empty() {
                continue;
            }
            songs.push(serde_json::from_str(&line).map_err(|e| bad(&songs_path, format!("line {}: {e}", i + 1)))?);
        }
        Ok(Corpus { manifest, songs })
    }

    pub fn vocabulary(&self) -> Result<Vocabulary, Error> {
        Ok(Vocabulary::from_tokens(self.manifest.vocabulary.clone())?)
    }

    pub fn split(&self, split: Split) -> impl Iterator<Item = &SongRecord> {
        self.songs.iter().filter(move |s| s.split == split)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_a_few_skipped_files_and_counts_the_rest() {
        let mut summary = ImportSummary::default();
        let dup = |k: usize| SkippedFile { file: format!("tunes/{k}.krn"), reason: "the same as tunes/0.krn".into() };
        summary.skipped.insert("duplicate".into(), (1..=7).map(dup).collect());
        let printed = summary.to_string();
        assert!(printed.contains("skipped (duplicate): 7") && printed.contains("tunes/5.krn"), "{printed}");
        assert!(
            !printed.contains("tunes/6.krn") && printed.contains("… and 2 more (every one is listed in corpus.json)")
        );
    }

    #[test]
    fn split_is_stable_and_roughly_80_10_10() {
        // Pinned: a changed hash would move songs between splits and void every figure.
        let splits: Vec<Split> = (0..5).map(|i| split_of(&format!("dir/song{i}.krn"))).collect();
        assert_eq!(splits, [Split::Train, Split::Train, Split::Test, Split::Validation, Split::Test]);
        let mut counts = BTreeMap::new();
        for i in 0..10_000 {
            *counts.entry(split_of(&format!("dir/song{i}.krn"))).or_insert(0usize) += 1;
        }
        assert!((7_700..8_300).contains(&counts[&Split::Train]), "{counts:?}");
        assert!((800..1_200).contains(&counts[&Split::Test]), "{counts:?}");
    }

    #[test]
    fn shares_move_the_split_and_say_so() {
        assert_eq!(Shares::default().rule(), SPLIT_RULE);
        let shares = Shares::new(30, 0).unwrap();
        assert!(shares.rule().contains("0-69 train, 70-99 validation;"), "{}", shares.rule());
        let mut counts = BTreeMap::new();
        for i in 0..10_000 {
            *counts.entry(shares.split_of(&format!("dir/song{i}.krn"))).or_insert(0usize) += 1;
        }
        assert!((2_700..3_300).contains(&counts[&Split::Validation]) && !counts.contains_key(&Split::Test));
        // A file's split at the default shares keeps to its side of a larger validation share.
        for i in 0..1_000 {
            let name = format!("dir/song{i}.krn");
            if split_of(&name) == Split::Validation {
                assert_eq!(Shares::new(20, 10).unwrap().split_of(&name), Split::Validation);
            }
        }
        assert!(Shares::new(0, 10).is_err() && Shares::new(50, 41).is_err());
    }
}
