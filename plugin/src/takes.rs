//! The player's takes: the last phrase and its answer when the player keeps them (the Keep
//! button or parameter), and, when asked, every phrase played, written as Standard MIDI files
//! into the user corpus folder (`$CONTINUO_HOME/takes`, else `~/.local/share/continuo/takes`)
//! that `trainer prepare` reads. Files are named to sort by time and carry the model, tempo,
//! key and settings in their meta events. They are written on a thread of their own, never
//! on the audio thread or the inference worker: a take that cannot be written (a full disk,
//! an unwritable folder) is written into a second folder instead (`unsaved_takes_folder`, in
//! the system's temporary folder), or, when that fails too, stays in memory and is tried again
//! with the next one; the editor says where each went, and that takes only in memory are lost
//! when Continuo closes. Files already written are never touched.

use crate::history::History;
use crate::sync::Locked;
use continuo_core::key::estimate_key;
use continuo_core::midi::write_midi;
use continuo_core::score::{TempoChange, DEFAULT_BPM};
use continuo_core::song::{decode_tokens, ESTIMATION_PROFILE};
use continuo_core::{Grid, Note, Score};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// What a take holds: a phrase the player kept with its answer, or a phrase alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TakeKind {
    Kept,
    Phrase,
    /// Written by the editor's Export into the takes folder's `exports/`.
    Exported,
}

impl TakeKind {
    fn name(self) -> &'static str {
        match self {
            TakeKind::Kept => "kept",
            TakeKind::Phrase => "phrase",
            TakeKind::Exported => "exported",
        }
    }
}

/// One take to write: its music and when it was taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Take {
    pub kind: TakeKind,
    pub score: Score,
    pub at: SystemTime,
}

/// What the editor shows about the takes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TakesStatus {
    pub folder: PathBuf,
    /// Files written since the plugin was loaded, of each kind.
    pub kept: usize,
    pub phrases: usize,
    /// Takes written into the second folder, because the first could not be written.
    pub elsewhere: usize,
    pub second_folder: PathBuf,
    /// Takes not written yet (they are tried again with the next one).
    pub pending: usize,
    /// Why the last write failed, until one succeeds.
    pub error: Option<String>,
}

/// Where takes go when the takes folder cannot be written (a full disk, a folder made
/// read-only): `continuo-unsaved-takes` in the system's temporary folder.
pub fn unsaved_takes_folder() -> PathBuf {
    std::env::temp_dir().join("continuo-unsaved-takes")
}

/// The takes folder: `takes/` in Continuo's per-user data folder.
pub fn takes_folder() -> Option<PathBuf> {
    continuo_core::inference::data_dir().map(|d| d.join("takes"))
}

/// Where the editor's one-click Export writes: the takes folder's `exports/`.
pub fn exports_folder() -> Option<PathBuf> {
    takes_folder().map(|t| t.join("exports"))
}

/// The phrase (voice 0) and the answer (voice 1) of `h` as a score at its tempo, with the
/// velocities played, and the phrase's estimated key.
pub fn history_score(h: &History) -> Score {
    let grid = Grid { steps_per_beat: h.steps_per_beat.max(1) };
    let beats = |step: i64| step as f64 / grid.steps_per_beat as f64;
    let mut notes: Vec<Note> = h
        .phrase
        .iter()
        .map(|p| Note {
            onset: beats(p.step),
            duration: beats(p.steps as i64),
            pitch: p.pitch,
            velocity: p.velocity,
            voice: 0,
        })
        .collect();
    let declared_key = estimate_key(&notes, ESTIMATION_PROFILE).map(|e| e.key);
    let answer = decode_tokens(&h.answer, grid, 12 * h.octave, h.velocity, DEFAULT_BPM, None);
    notes.extend(answer.notes.iter().map(|n| Note { onset: n.onset + beats(h.answer_start), voice: 1, ..*n }));
    let bpm = if h.bpm.is_finite() && h.bpm > 0.0 { h.bpm } else { DEFAULT_BPM };
    let mut score = Score {
        title: Some("Continuo: phrase and answer".into()),
        notes,
        tempi: vec![TempoChange { beat: 0.0, bpm }],
        declared_key,
        ..Score::default()
    };
    score.sort();
    score
}

/// The take of `h`: with its answer when kept, else the phrase alone; `None` when there is
/// nothing to keep. The title meta event names the model and the settings.
pub fn take_of(h: &History, kind: TakeKind, at: SystemTime) -> Option<Take> {
    let mut score = history_score(h);
    if kind == TakeKind::Phrase {
        score.notes.retain(|n| n.voice == 0);
    }
    if score.notes.is_empty() {
        return None;
    }
    let key = score.declared_key.map_or("unknown".into(), |k| k.to_string());
    score.title = Some(format!(
        "Continuo {}: model {}; tempo {:.1} BPM; key {key}; {}",
        kind.name(),
        if h.model.is_empty() { "none" } else { &h.model },
        h.bpm,
        h.settings
    ));
    Some(Take { kind, score, at })
}

/// `YYYYMMDD-HHMMSS-mmm-NNNN-kind.mid` (UTC; NNNN counts the takes of this session, so two
/// in one millisecond differ): names that sort by time.
pub fn file_name(at: SystemTime, count: usize, kind: TakeKind) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}-{:03}-{count:04}-{}.mid",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_millis(),
        kind.name()
    )
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

/// Write `bytes` as the new file `path`, through a temporary file of this writer's own in the
/// same folder (named by the process and a per-process count, so another instance's never
/// collides), flushed to the disk, then linked into place only if no file has the name yet:
/// a failed write leaves no partial take, and a take is never replaced (`AlreadyExists`).
/// On a file system without hard links, it is renamed into place if the name is free. The
/// folder is flushed after, so that the name survives a power cut too.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = continuo_core::durable::temporary_beside(path);
    let flushed = std::fs::File::create_new(&temporary).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    let placed = flushed.and_then(|()| match std::fs::hard_link(&temporary, path) {
        Err(e) if e.kind() != ErrorKind::AlreadyExists && !path.exists() => std::fs::rename(&temporary, path),
        linked => linked,
    });
    let _ = std::fs::remove_file(&temporary);
    placed?;
    // The new name survives a power cut too.
    continuo_core::durable::sync_folder_of(path)
}

/// Write `take` as a new file in `folder`, named by its time and the next free count after
/// `count` (which it advances): another instance writing into the folder in the same
/// millisecond takes another name, never this one's.
fn write_take(folder: &Path, take: &Take, count: &mut usize) -> std::io::Result<PathBuf> {
    let named = |e: std::io::Error, path: &Path| std::io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    std::fs::create_dir_all(folder).map_err(|e| named(e, folder))?;
    let bytes = write_midi(&take.score);
    loop {
        *count += 1;
        let path = folder.join(file_name(take.at, *count, take.kind));
        match write_new(&path, &bytes) {
            Err(e) if e.kind() == ErrorKind::AlreadyExists && *count < 1_000_000 => continue,
            Err(e) => {
                *count -= 1;
                return Err(named(e, &path));
            }
            Ok(()) => return Ok(path),
        }
    }
}

/// The writer thread's handle: takes go in, files come out in `folder`.
pub struct TakeWriter {
    sender: Mutex<Sender<Take>>,
    pub status: Arc<Mutex<TakesStatus>>,
}

impl TakeWriter {
    /// Start the writer thread for `folder` (made when the first take is written), with
    /// [`unsaved_takes_folder`] as the second folder.
    pub fn start(folder: PathBuf) -> std::io::Result<TakeWriter> {
        TakeWriter::start_with(folder, unsaved_takes_folder())
    }

    /// Start the writer thread for `folder`, and `second` for takes `folder` cannot take.
    pub fn start_with(folder: PathBuf, second: PathBuf) -> std::io::Result<TakeWriter> {
        let (sender, receiver) = channel();
        let status = TakesStatus { folder: folder.clone(), second_folder: second.clone(), ..TakesStatus::default() };
        let status = Arc::new(Mutex::new(status));
        let s = status.clone();
        let folders = [folder, second];
        std::thread::Builder::new()
            .name("continuo-takes".into())
            .spawn(move || write_takes(&folders, &receiver, &s))?;
        Ok(TakeWriter { sender: Mutex::new(sender), status })
    }

    /// Hand a take to the writer thread (never waits for the write).
    pub fn send(&self, take: Take) {
        let _ = self.sender.locked().send(take);
    }

    pub fn status(&self) -> TakesStatus {
        self.status.locked().clone()
    }
}

/// The writer thread: every take received is written, after any still pending, into the
/// first of `folders` that takes it; one that neither takes stays pending. Ends when the
/// sending side is dropped.
fn write_takes(folders: &[PathBuf; 2], takes: &Receiver<Take>, status: &Mutex<TakesStatus>) {
    let mut pending: Vec<Take> = Vec::new();
    let mut counts = [0usize; 2];
    while let Ok(take) = takes.recv() {
        pending.push(take);
        let mut error = None;
        pending.retain(|take| {
            let first = write_take(&folders[0], take, &mut counts[0]);
            let written = first.as_ref().err().map(|e| (e.to_string(), write_take(&folders[1], take, &mut counts[1])));
            let mut st = status.locked();
            match written {
                None if take.kind == TakeKind::Kept => st.kept += 1,
                None => st.phrases += 1,
                Some((why, Ok(_))) => {
                    st.elsewhere += 1;
                    error = Some(why);
                }
                Some((why, Err(_))) => {
                    error = Some(why);
                    return true;
                }
            }
            false
        });
        let mut st = status.locked();
        st.pending = pending.len();
        st.error = error;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::HeardNote;
    use continuo_core::midi::{parse_midi, MidiOptions};
    use continuo_core::Token;
    use std::time::Duration;

    fn history() -> History {
        History {
            phrase: vec![
                HeardNote { step: 0, steps: 4, pitch: 60, velocity: 100 },
                HeardNote { step: 4, steps: 4, pitch: 62, velocity: 50 },
            ],
            answer: "64 _ _ _ r 65 _ _".split(' ').map(|t| t.parse::<Token>().unwrap()).collect(),
            answer_start: 10,
            bar_position: 10,
            origin_step: 0,
            steps_per_beat: 4,
            bpm: 97.0,
            velocity: 90,
            octave: 0,
            model: "essen-melody".into(),
            settings: "temperature 1.00".into(),
            chords: Vec::new(),
        }
    }

    #[test]
    fn a_take_holds_the_phrase_its_answer_tempo_velocities_and_settings() {
        let s = history_score(&history());
        let got: Vec<(f64, f64, u8, u8, u8)> =
            s.notes.iter().map(|n| (n.onset, n.duration, n.pitch, n.velocity, n.voice)).collect();
        assert_eq!(
            got,
            vec![(0.0, 1.0, 60, 100, 0), (1.0, 1.0, 62, 50, 0), (2.5, 1.0, 64, 90, 1), (3.75, 0.75, 65, 90, 1)]
        );
        let take = take_of(&history(), TakeKind::Kept, UNIX_EPOCH).unwrap();
        let back = parse_midi(&write_midi(&take.score), &MidiOptions::default()).unwrap();
        assert_eq!(back.notes.len(), 4);
        assert!((back.initial_bpm() - 97.0).abs() < 0.01, "{}", back.initial_bpm());
        let title = back.title.unwrap();
        assert!(title.contains("model essen-melody") && title.contains("temperature 1.00"), "{title}");
        let phrase = take_of(&history(), TakeKind::Phrase, UNIX_EPOCH).unwrap();
        assert_eq!(phrase.score.notes.len(), 2);
        assert!(take_of(&History::default(), TakeKind::Kept, UNIX_EPOCH).is_none(), "nothing to keep");
    }

    #[test]
    fn names_sort_by_time() {
        let at = |s: u64| UNIX_EPOCH + Duration::from_millis(s);
        assert_eq!(file_name(at(0), 1, TakeKind::Kept), "19700101-000000-000-0001-kept.mid");
        // 2026-11-29 03:04:05.678 UTC
        let t = at(1_795_921_445_678);
        assert_eq!(file_name(t, 12, TakeKind::Phrase), "20261129-030405-678-0012-phrase.mid");
        let mut names: Vec<String> = (0..5).rev().map(|k| file_name(at(k * 86_400_123), 1, TakeKind::Kept)).collect();
        names.sort();
        assert_eq!(names[0], file_name(at(0), 1, TakeKind::Kept));
    }

    #[test]
    fn an_unwritable_folder_keeps_the_take_and_says_why() {
        let temp = tempfile::tempdir().unwrap();
        let blocker = temp.path().join("not-a-folder");
        std::fs::write(&blocker, b"a file where the folder should be").unwrap();
        let writer = TakeWriter::start_with(blocker.join("takes"), blocker.join("second")).unwrap();
        writer.send(take_of(&history(), TakeKind::Kept, SystemTime::now()).unwrap());
        let status = wait_for(&writer, |s| s.error.is_some());
        assert_eq!(status.pending, 1);
        assert!(status.error.unwrap().contains("not-a-folder"));

        // With a second folder that can be written, the take is written there, and the
        // status says why the first could not be (issue #24: a take only in memory was lost
        // when the plugin closed).
        let second = temp.path().join("unsaved");
        let writer = TakeWriter::start_with(blocker.join("takes"), second.clone()).unwrap();
        writer.send(take_of(&history(), TakeKind::Kept, SystemTime::now()).unwrap());
        let status = wait_for(&writer, |s| s.elsewhere == 1);
        assert_eq!((status.pending, status.kept), (0, 0));
        assert!(status.error.unwrap().contains("not-a-folder"));
        let kept: Vec<_> = std::fs::read_dir(&second).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(kept.len() == 1 && kept[0].to_string_lossy().ends_with("-kept.mid"), "{kept:?}");

        // A writable folder: takes are written, in order, and nothing is pending.
        let folder = temp.path().join("takes");
        let writer = TakeWriter::start(folder.clone()).unwrap();
        writer.send(take_of(&history(), TakeKind::Phrase, SystemTime::now()).unwrap());
        writer.send(take_of(&history(), TakeKind::Kept, SystemTime::now()).unwrap());
        let status = wait_for(&writer, |s| s.kept + s.phrases == 2);
        assert_eq!((status.kept, status.phrases, status.pending, status.error), (1, 1, 0, None));
        let mut files: Vec<String> =
            std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        files.sort();
        assert!(files[0].ends_with("-0001-phrase.mid") && files[1].ends_with("-0002-kept.mid"), "{files:?}");
    }

    /// Two instances keeping takes in one folder at the same moment never overwrite each
    /// other's (issue #24): each takes the next free name.
    #[test]
    fn two_writers_in_one_folder_never_overwrite_a_take() {
        let temp = tempfile::tempdir().unwrap();
        let folder = temp.path().join("takes");
        let (first, second) = (TakeWriter::start(folder.clone()).unwrap(), TakeWriter::start(folder.clone()).unwrap());
        let at = SystemTime::now();
        for _ in 0..5 {
            first.send(take_of(&history(), TakeKind::Kept, at).unwrap());
            second.send(take_of(&history(), TakeKind::Kept, at).unwrap());
        }
        wait_for(&first, |s| s.kept == 5);
        wait_for(&second, |s| s.kept == 5);
        let files: Vec<String> =
            std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        assert_eq!(files.len(), 10, "{files:?}");
        assert!(files.iter().all(|f| f.ends_with("-kept.mid")), "no temporary file is left: {files:?}");
    }

    fn wait_for(writer: &TakeWriter, done: impl Fn(&TakesStatus) -> bool) -> TakesStatus {
        for _ in 0..500 {
            let status = writer.status();
            if done(&status) {
                return status;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("the writer did not get there: {:?}", writer.status());
    }
}
