//! The SoundFont voice: a General MIDI SoundFont the user already has (found in Debian's
//! `/usr/share/sounds/sf2/`, or chosen in the editor), played with `rustysynth`.
//!
//! Three threads touch it. A loader thread (started by the worker, or by the editor when a
//! file is chosen) reads the file and builds the synthesiser. The ready synthesiser reaches
//! the audio thread through a one-slot lock-free queue ([`Handoff`]), and the one it
//! replaces goes back through another, to be freed by the next loader: the audio thread
//! ([`FontPlayer`]) never allocates or frees. The editor reads what the loader did
//! ([`Loader::state`]).

use crate::error::PluginError;
use crate::events::NoteEvent;
use crate::sync::{Locked, ReadWrite};
use crossbeam_queue::ArrayQueue;
use nice_plug_egui::RepaintNotifier;
use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};
use std::io::Seek;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Where Debian's SoundFont packages put their files.
pub const SF2_FOLDER: &str = "/usr/share/sounds/sf2";
/// The files looked for first in [`SF2_FOLDER`], best first: the system's chosen General
/// MIDI font, then the packages `fluid-soundfont-gm` and `timgm6mb-soundfont`.
const PREFERRED: [&str; 3] = ["default-GM.sf2", "FluidR3_GM.sf2", "TimGM6mb.sf2"];
/// Samples rendered at once into the player's scratch buffers.
pub const CHUNK: usize = 64;
/// Notes the SoundFont synthesiser sounds at once (a GM note may take two voices).
const POLYPHONY: usize = 64;
/// The largest SoundFont read: `rustysynth` holds a font's samples in memory, and the
/// largest General MIDI fonts are about 1 GB.
const MAX_FONT_BYTES: u64 = 2 << 30;
/// Gain of the synthesiser's output, to the level of the other patches' voices: one note
/// at velocity 100 about as loud as the electric piano's.
const FONT_GAIN: f32 = 24.0;

/// A synthesiser built for one sample rate.
struct Loaded {
    synth: Synthesizer,
    sample_rate: u32,
}

/// The SoundFont to play when the user chose none: the first of [`PREFERRED`] in `folder`,
/// else its first `.sf2` file by name.
fn find_default(folder: &Path) -> Option<PathBuf> {
    if let Some(p) = PREFERRED.iter().map(|name| folder.join(name)).find(|p| p.is_file()) {
        return Some(p);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(folder)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("sf2")))
        .collect();
    found.sort();
    found.into_iter().next()
}

/// Read `path` and build its synthesiser for `sample_rate`; the error names the file. Its
/// structure is checked first (`rustysynth` allocates what a chunk claims), and a panic in
/// `rustysynth` is caught and reported as the file's error.
fn load(path: &Path, sample_rate: u32) -> Result<Loaded, PluginError> {
    std::panic::catch_unwind(|| read(path, sample_rate)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        Err(PluginError::SoundFontPanicked { path: path.to_path_buf(), message })
    })
}

fn read(path: &Path, sample_rate: u32) -> Result<Loaded, PluginError> {
    if path.exists() && !continuo_core::is_regular_file(path) {
        return Err(PluginError::NotAFile { path: path.to_path_buf() });
    }
    let mut file = std::fs::File::open(path).map_err(PluginError::io(path))?;
    let len = file.metadata().map_err(PluginError::io(path))?.len();
    if len > MAX_FONT_BYTES {
        let source = std::io::Error::other(format!("{len} bytes, more than Continuo reads ({MAX_FONT_BYTES})"));
        return Err(PluginError::Io { path: path.to_path_buf(), source });
    }
    crate::sf2_file::check(&mut file, len)
        .map_err(|source| PluginError::BrokenSoundFont { path: path.to_path_buf(), source })?;
    file.seek(std::io::SeekFrom::Start(0)).map_err(PluginError::io(path))?;
    let mut reader = std::io::BufReader::new(file);
    let font = SoundFont::new(&mut reader)
        .map_err(|source| PluginError::NotASoundFont { path: path.to_path_buf(), source })?;
    if font.get_presets().is_empty() {
        return Err(PluginError::NoInstruments { path: path.to_path_buf() });
    }
    let mut settings = SynthesizerSettings::new(sample_rate as i32);
    settings.block_size = CHUNK;
    settings.maximum_polyphony = POLYPHONY;
    settings.enable_reverb_and_chorus = false;
    let synth = Synthesizer::new(&Arc::new(font), &settings)
        .map_err(|source| PluginError::Synthesizer { path: path.to_path_buf(), source })?;
    Ok(Loaded { synth, sample_rate })
}

/// Load `path` as the loader does and play a note of its first preset for a few blocks as
/// the audio thread does: `Ok(true)` when it played, `Ok(false)` when it panicked as it
/// played (caught, as in the plugin). For the tests and the SoundFont fuzz target.
pub fn audition(path: &Path) -> Result<bool, PluginError> {
    let loaded = load(path, 48_000)?;
    let handoff = Arc::new(Handoff::default());
    let mut player = FontPlayer::new(handoff.clone());
    handoff.offer(loaded);
    player.follow(0);
    player.play(NoteEvent::On { sample: 0, channel: 0, pitch: 60, velocity: 100 });
    for _ in 0..8 {
        let _ = player.next(CHUNK);
    }
    player.play(NoteEvent::Off { sample: 0, channel: 0, pitch: 60 });
    let _ = player.next(CHUNK);
    Ok(!handoff.broke.load(Ordering::Acquire))
}

/// What the audio thread and the loader share: lock-free queues and two atomics.
pub struct Handoff {
    /// A synthesiser ready to play (loader → audio thread).
    ready: ArrayQueue<Box<Loaded>>,
    /// Synthesisers replaced, to be freed off the audio thread (audio thread → loader).
    retired: ArrayQueue<Box<Loaded>>,
    /// The sample rate the audio thread wants a synthesiser for (0: none wanted).
    wanted: AtomicU32,
    /// The synthesiser panicked as it played (audio thread → loader): it is never played
    /// again, and no other is asked for until a file is chosen.
    broke: AtomicBool,
}

impl Default for Handoff {
    fn default() -> Handoff {
        Handoff {
            ready: ArrayQueue::new(1),
            retired: ArrayQueue::new(2),
            wanted: AtomicU32::new(0),
            broke: AtomicBool::new(false),
        }
    }
}

impl Handoff {
    /// Free what the audio thread gave back (loader side).
    fn collect(&self) {
        while self.retired.pop().is_some() {}
    }

    /// Offer `loaded` to the audio thread, in place of one it has not taken yet.
    fn offer(&self, loaded: Loaded) {
        let mut loaded = Box::new(loaded);
        while let Err(back) = self.ready.push(loaded) {
            loaded = back;
            drop(self.ready.pop());
        }
    }
}

/// What the loader did last, for the editor.
#[derive(Debug, Clone, PartialEq)]
pub enum FontState {
    /// Not needed yet: the voice is not the SoundFont.
    Idle,
    Loading(PathBuf),
    Ready {
        path: PathBuf,
        instruments: usize,
    },
    /// No file chosen and none in [`SF2_FOLDER`].
    Missing,
    Failed(String),
}

/// The loader's side (worker and editor): which file, and what happened to it.
pub struct Loader {
    /// The chosen file (empty: [`find_default`] in [`SF2_FOLDER`]); saved with the plugin's state.
    path: Arc<RwLock<String>>,
    state: Arc<Mutex<FontState>>,
    /// The sample rate last loaded for (0: load again when wanted).
    requested: AtomicU32,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Loader {
    pub fn new(path: Arc<RwLock<String>>) -> Loader {
        Loader {
            path,
            state: Arc::new(Mutex::new(FontState::Idle)),
            requested: AtomicU32::new(0),
            thread: Mutex::new(None),
        }
    }

    pub fn state(&self) -> FontState {
        self.state.locked().clone()
    }

    /// The file to load: the chosen one, else the standard place's.
    fn file(&self) -> Option<PathBuf> {
        let chosen = self.path.reading().clone();
        if chosen.is_empty() {
            find_default(Path::new(SF2_FOLDER))
        } else {
            Some(PathBuf::from(chosen))
        }
    }

    /// Play `path` from now on (the editor's choice): loaded at once if the voice wants it.
    pub fn choose(&self, path: &Path, handoff: &Arc<Handoff>, repaint: &RepaintNotifier) {
        *self.path.writing() = path.to_string_lossy().into_owned();
        self.requested.store(0, Ordering::Release);
        handoff.broke.store(false, Ordering::Release);
        self.follow(handoff, repaint);
    }

    /// Start a loader thread if the audio thread wants a synthesiser for a sample rate not
    /// yet loaded for (the worker calls this when it wakes); the editor redraws when it ends.
    pub fn follow(&self, handoff: &Arc<Handoff>, repaint: &RepaintNotifier) {
        if handoff.broke.load(Ordering::Acquire) {
            let mut state = self.state.locked();
            if let FontState::Ready { path, .. } = &*state {
                *state = FontState::Failed(format!(
                    "{}: the SoundFont failed as it played, so the electric piano plays (choose another file)",
                    path.display()
                ));
                repaint.request_repaint();
            }
            return;
        }
        let rate = handoff.wanted.load(Ordering::Acquire);
        if rate == 0 || rate == self.requested.load(Ordering::Acquire) {
            return;
        }
        let mut thread = self.thread.locked();
        if thread.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        self.requested.store(rate, Ordering::Release);
        let Some(path) = self.file() else {
            *self.state.locked() = FontState::Missing;
            return repaint.request_repaint();
        };
        *self.state.locked() = FontState::Loading(path.clone());
        let (state, handoff, repaint) = (self.state.clone(), handoff.clone(), repaint.clone());
        let spawned = std::thread::Builder::new().name("continuo-soundfont".into()).spawn(move || {
            handoff.collect();
            let result = load(&path, rate);
            let mut state = state.locked();
            *state = match result {
                Ok(loaded) => {
                    let instruments = loaded.synth.get_sound_font().get_presets().len();
                    handoff.offer(loaded);
                    FontState::Ready { path, instruments }
                }
                // The synthesiser playing, if any, stays.
                Err(why) => FontState::Failed(why.to_string()),
            };
            drop(state);
            repaint.request_repaint();
        });
        match spawned {
            Ok(handle) => *thread = Some(handle),
            Err(e) => *self.state.locked() = FontState::Failed(e.to_string()),
        }
    }

    /// Wait for the loader thread, if one runs.
    pub fn wait(&self) {
        let thread = self.thread.locked().take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

impl Drop for Loader {
    /// Closing waits for a loader thread, never longer than `closing` allows.
    fn drop(&mut self) {
        if let Some(thread) = self.thread.locked().take() {
            crate::closing::join_within(thread, crate::closing::CLOSING_WAIT);
        }
    }
}

/// The audio thread's side: the synthesiser playing and its scratch buffers.
pub struct FontPlayer {
    handoff: Arc<Handoff>,
    current: Option<Box<Loaded>>,
    /// A synthesiser that panicked when the retired queue had no room: never played, freed
    /// with the player (off the audio thread).
    broken: Option<Box<Loaded>>,
    sample_rate: u32,
    /// The GM program (0..=127) the synthesiser plays, as last set.
    program: u8,
    left: [f32; CHUNK],
    right: [f32; CHUNK],
}

impl FontPlayer {
    pub fn new(handoff: Arc<Handoff>) -> FontPlayer {
        FontPlayer {
            handoff,
            current: None,
            broken: None,
            sample_rate: 48_000,
            program: 0,
            left: [0.0; CHUNK],
            right: [0.0; CHUNK],
        }
    }

    pub fn set_sample_rate(&mut self, sample_rate: f32) {
        self.sample_rate = sample_rate.round() as u32;
    }

    /// Take a synthesiser the loader made ready, and ask for one at this sample rate if
    /// none plays: true when one plays. Called at the start of a block that wants the
    /// SoundFont; never allocates or frees.
    pub fn follow(&mut self, program: u8) -> bool {
        // The one replaced goes back through `retired`: take a new one only when it has room
        // (only this thread pushes there).
        if !self.handoff.retired.is_full() {
            if let Some(new) = self.handoff.ready.pop() {
                if let Some(old) = self.current.replace(new) {
                    let _ = self.handoff.retired.push(old);
                }
                self.program = u8::MAX;
            }
        }
        if self.handoff.broke.load(Ordering::Acquire) {
            return false;
        }
        match self.current.as_ref().filter(|l| l.sample_rate == self.sample_rate) {
            None => {
                self.handoff.wanted.store(self.sample_rate, Ordering::Release);
                false
            }
            Some(_) => {
                if program != self.program {
                    self.program = program.min(127);
                    let program = self.program as i32;
                    self.guarded(|synth| synth.process_midi_message(0, 0xC0, program, 0));
                }
                self.current.is_some()
            }
        }
    }

    /// Run `f` on the synthesiser playing, if any. `rustysynth` may panic on a damaged file
    /// that passed every check (an index past its samples): the panic is caught here, so it
    /// never unwinds into the host, and that synthesiser is never played again. Catching
    /// costs nothing until a panic; the panic itself allocates (its message), once.
    fn guarded(&mut self, f: impl FnOnce(&mut Synthesizer)) {
        let Some(loaded) = self.current.as_mut() else { return };
        let synth = &mut loaded.synth;
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(synth))).is_err() {
            let broken = self.current.take().expect("it played");
            if let Err(broken) = self.handoff.retired.push(broken) {
                self.broken = Some(broken);
            }
            self.handoff.broke.store(true, Ordering::Release);
        }
    }

    /// Play a note event now (the answer and the player's notes all on the first channel,
    /// with the chosen program). Off events reach it whatever plays, so no note hangs.
    pub fn play(&mut self, event: NoteEvent) {
        match event {
            NoteEvent::On { pitch, velocity, .. } => self.guarded(|s| s.note_on(0, pitch as i32, velocity as i32)),
            NoteEvent::Off { pitch, .. } => self.guarded(|s| s.note_off(0, pitch as i32)),
            NoteEvent::Midi { .. } => {}
        }
    }

    /// Every note fades out with its release.
    pub fn release_all(&mut self) {
        self.guarded(|s| s.note_off_all(false));
    }

    /// The synthesiser's next `n` samples (at most [`CHUNK`]), left and right, at the level
    /// of the other patches (silence if none plays).
    pub fn next(&mut self, n: usize) -> (&[f32], &[f32]) {
        let n = n.min(CHUNK);
        let (mut left, mut right) = (self.left, self.right);
        self.guarded(|s| s.render(&mut left[..n], &mut right[..n]));
        (self.left, self.right) = (left, right);
        if self.current.is_some() {
            for x in self.left[..n].iter_mut().chain(self.right[..n].iter_mut()) {
                *x *= FONT_GAIN;
            }
        } else {
            self.left[..n].fill(0.0);
            self.right[..n].fill(0.0);
        }
        (&self.left[..n], &self.right[..n])
    }
}

/// The General MIDI instruments, by program (0..=127), as the SoundFont voice's instrument
/// parameter names them.
const GM_PROGRAMS: [&str; 128] = [
    "Acoustic Grand Piano",
    "Bright Acoustic Piano",
    "Electric Grand Piano",
    "Honky-tonk Piano",
    "Electric Piano 1",
    "Electric Piano 2",
    "Harpsichord",
    "Clavinet",
    "Celesta",
    "Glockenspiel",
    "Music Box",
    "Vibraphone",
    "Marimba",
    "Xylophone",
    "Tubular Bells",
    "Dulcimer",
    "Drawbar Organ",
    "Percussive Organ",
    "Rock Organ",
    "Church Organ",
    "Reed Organ",
    "Accordion",
    "Harmonica",
    "Tango Accordion",
    "Acoustic Guitar (nylon)",
    "Acoustic Guitar (steel)",
    "Electric Guitar (jazz)",
    "Electric Guitar (clean)",
    "Electric Guitar (muted)",
    "Overdriven Guitar",
    "Distortion Guitar",
    "Guitar Harmonics",
    "Acoustic Bass",
    "Electric Bass (finger)",
    "Electric Bass (pick)",
    "Fretless Bass",
    "Slap Bass 1",
    "Slap Bass 2",
    "Synth Bass 1",
    "Synth Bass 2",
    "Violin",
    "Viola",
    "Cello",
    "Contrabass",
    "Tremolo Strings",
    "Pizzicato Strings",
    "Orchestral Harp",
    "Timpani",
    "String Ensemble 1",
    "String Ensemble 2",
    "Synth Strings 1",
    "Synth Strings 2",
    "Choir Aahs",
    "Voice Oohs",
    "Synth Voice",
    "Orchestra Hit",
    "Trumpet",
    "Trombone",
    "Tuba",
    "Muted Trumpet",
    "French Horn",
    "Brass Section",
    "Synth Brass 1",
    "Synth Brass 2",
    "Soprano Sax",
    "Alto Sax",
    "Tenor Sax",
    "Baritone Sax",
    "Oboe",
    "English Horn",
    "Bassoon",
    "Clarinet",
    "Piccolo",
    "Flute",
    "Recorder",
    "Pan Flute",
    "Blown Bottle",
    "Shakuhachi",
    "Whistle",
    "Ocarina",
    "Lead 1 (square)",
    "Lead 2 (sawtooth)",
    "Lead 3 (calliope)",
    "Lead 4 (chiff)",
    "Lead 5 (charang)",
    "Lead 6 (voice)",
    "Lead 7 (fifths)",
    "Lead 8 (bass + lead)",
    "Pad 1 (new age)",
    "Pad 2 (warm)",
    "Pad 3 (polysynth)",
    "Pad 4 (choir)",
    "Pad 5 (bowed)",
    "Pad 6 (metallic)",
    "Pad 7 (halo)",
    "Pad 8 (sweep)",
    "FX 1 (rain)",
    "FX 2 (soundtrack)",
    "FX 3 (crystal)",
    "FX 4 (atmosphere)",
    "FX 5 (brightness)",
    "FX 6 (goblins)",
    "FX 7 (echoes)",
    "FX 8 (sci-fi)",
    "Sitar",
    "Banjo",
    "Shamisen",
    "Koto",
    "Kalimba",
    "Bagpipe",
    "Fiddle",
    "Shanai",
    "Tinkle Bell",
    "Agogo",
    "Steel Drums",
    "Woodblock",
    "Taiko Drum",
    "Melodic Tom",
    "Synth Drum",
    "Reverse Cymbal",
    "Guitar Fret Noise",
    "Breath Noise",
    "Seashore",
    "Bird Tweet",
    "Telephone Ring",
    "Helicopter",
    "Applause",
    "Gunshot",
];

/// A program as a musician reads it: "1 Acoustic Grand Piano" (GM numbers count from 1).
pub fn program_text(program: i32) -> String {
    let i = program.clamp(0, 127) as usize;
    format!("{} {}", i + 1, GM_PROGRAMS[i])
}

/// A program from text: its GM number (1..=128, maybe followed by its name), or its name.
pub fn program_from_text(text: &str) -> Option<i32> {
    let text = text.trim();
    let number: String = text.chars().take_while(char::is_ascii_digit).collect();
    if let Ok(n) = number.parse::<i32>() {
        return (1..=128).contains(&n).then_some(n - 1);
    }
    GM_PROGRAMS.iter().position(|name| name.eq_ignore_ascii_case(text)).map(|i| i as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_font_is_the_preferred_one_else_the_first_by_name() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(find_default(dir.path()), None);
        std::fs::write(dir.path().join("zither.sf2"), b"").unwrap();
        std::fs::write(dir.path().join("Brass.SF2"), b"").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"").unwrap();
        assert_eq!(find_default(dir.path()), Some(dir.path().join("Brass.SF2")));
        std::fs::write(dir.path().join("TimGM6mb.sf2"), b"").unwrap();
        assert_eq!(find_default(dir.path()), Some(dir.path().join("TimGM6mb.sf2")));
        assert_eq!(find_default(&dir.path().join("absent")), None);
    }

    #[test]
    fn a_bad_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("broken.sf2");
        std::fs::write(&bad, b"RIFF\x04\0\0\0sfbk").unwrap();
        let Err(why) = load(&bad, 48_000).map_err(|e| e.to_string()) else { panic!("a broken SoundFont loaded") };
        assert!(why.starts_with(&bad.display().to_string()) && why.contains("a damaged SoundFont"), "{why}");
        std::fs::write(&bad, b"MThd").unwrap();
        let Err(why) = load(&bad, 48_000).map_err(|e| e.to_string()) else { panic!("a MIDI file loaded") };
        assert!(why.contains("not a RIFF `sfbk` file"), "{why}");
        let Err(why) = load(&dir.path().join("absent.sf2"), 48_000).map_err(|e| e.to_string()) else {
            panic!("an absent file loaded")
        };
        assert!(why.contains("absent.sf2"), "{why}");
    }

    /// A SoundFont larger than any General MIDI font is an error before it is read (a sparse
    /// 3 GB file here; issue #24).
    #[test]
    fn a_huge_soundfont_is_an_error_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let huge = dir.path().join("huge.sf2");
        std::fs::File::create(&huge).unwrap().set_len(3 << 30).unwrap();
        let why = load(&huge, 48_000).map(|_| ()).unwrap_err().to_string();
        assert!(why.contains("huge.sf2") && why.contains("more than Continuo reads"), "{why}");
    }

    /// A SoundFont path that is a FIFO is an error at once: the loader never blocks on it
    /// (issue #24).
    #[cfg(unix)]
    #[test]
    fn a_fifo_for_a_soundfont_is_an_error_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("font.sf2");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let (done, result) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || done.send(load(&path, 48_000).map(|_| ()).map_err(|e| e.to_string())));
        let outcome = result.recv_timeout(std::time::Duration::from_secs(10)).expect("the loader blocked on a FIFO");
        assert!(outcome.unwrap_err().contains("not a regular file"));
    }

    /// A player with `loaded` playing, as the audio thread has it after a load.
    fn playing(loaded: Loaded) -> (FontPlayer, Arc<Handoff>) {
        let handoff = Arc::new(Handoff::default());
        let mut player = FontPlayer::new(handoff.clone());
        player.set_sample_rate(loaded.sample_rate as f32);
        handoff.offer(loaded);
        assert!(player.follow(0), "the loaded font plays");
        (player, handoff)
    }

    /// Every byte of a small SoundFont changed (three ways) and the file cut at every length:
    /// each loads or is an error naming the file, and a font that loads plays a note through
    /// the audio thread's player without a panic escaping it (the audit's two-byte edit made
    /// `rustysynth` panic, and the editor said "Loading" for ever; issue #24).
    #[test]
    fn damaged_soundfonts_are_errors_or_play_and_no_panic_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("font.sf2");
        let font = crate::sf2_file::tiny_font();
        // (loaded and played, refused, broke as it played)
        let mut tried = [0usize; 3];
        let attempt = |bytes: &[u8], tried: &mut [usize; 3]| {
            std::fs::write(&path, bytes).unwrap();
            match audition(&path) {
                Ok(played) => tried[if played { 0 } else { 2 }] += 1,
                Err(why) => {
                    assert!(why.to_string().starts_with(&path.display().to_string()), "{why}");
                    tried[1] += 1;
                }
            }
        };
        attempt(&font, &mut tried);
        assert_eq!(tried, [1, 0, 0], "the font itself loads and plays");
        for at in 0..font.len() {
            for change in [0x01u8, 0x80, 0xff] {
                let mut bytes = font.clone();
                bytes[at] ^= change;
                attempt(&bytes, &mut tried);
            }
            attempt(&font[..at], &mut tried);
        }
        eprintln!("damaged fonts: {} played, {} refused, {} broke as they played", tried[0] - 1, tried[1], tried[2]);
    }

    /// A synthesiser that panics as it plays is never played again, the electric piano plays
    /// instead, and the editor says so; choosing a file asks for a synthesiser again.
    #[test]
    fn a_synthesiser_that_panics_as_it_plays_is_put_aside() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("font.sf2");
        std::fs::write(&path, crate::sf2_file::tiny_font()).unwrap();
        let (mut player, handoff) = playing(load(&path, 48_000).unwrap());
        player.guarded(|_| panic!("an index past the samples"));
        assert!(player.current.is_none() && handoff.broke.load(Ordering::Acquire));
        assert!(!player.follow(0), "it is not played again");
        assert_eq!(handoff.wanted.load(Ordering::Acquire), 0, "no other is asked for");
        assert!(player.next(CHUNK).0.iter().all(|x| *x == 0.0));
        let loader = Loader::new(Arc::new(RwLock::new(path.to_string_lossy().into_owned())));
        *loader.state.locked() = FontState::Ready { path: path.clone(), instruments: 1 };
        let repaint = RepaintNotifier::new();
        loader.follow(&handoff, &repaint);
        let FontState::Failed(why) = loader.state() else { panic!("{:?}", loader.state()) };
        assert!(why.contains("font.sf2") && why.contains("failed as it played"), "{why}");
        loader.choose(&path, &handoff, &repaint);
        assert!(!handoff.broke.load(Ordering::Acquire));
        assert!(!player.follow(0) && handoff.wanted.load(Ordering::Acquire) == 48_000, "a synthesiser is asked for");
    }

    #[test]
    fn a_new_synthesiser_replaces_the_old_which_goes_back_to_be_freed() {
        let path = Path::new(SF2_FOLDER).join("TimGM6mb.sf2");
        assert!(path.is_file(), "{} is missing: run scripts/setup.sh", path.display());
        let handoff = Arc::new(Handoff::default());
        let mut player = FontPlayer::new(handoff.clone());
        assert!(!player.follow(0), "nothing plays yet");
        assert_eq!(handoff.wanted.load(Ordering::Acquire), 48_000, "the player asks for its sample rate");
        handoff.offer(load(&path, 48_000).unwrap());
        assert!(player.follow(0));
        // Two more: the second replaces the first, which the player never took.
        handoff.offer(load(&path, 48_000).unwrap());
        handoff.offer(load(&path, 48_000).unwrap());
        assert_eq!(handoff.ready.len(), 1);
        assert!(player.follow(5));
        assert_eq!((handoff.ready.len(), handoff.retired.len()), (0, 1), "the old one goes back");
        // Another sample rate: the one loaded does not play, and the player asks again.
        player.set_sample_rate(44_100.0);
        assert!(!player.follow(5));
        assert_eq!(handoff.wanted.load(Ordering::Acquire), 44_100);
        handoff.collect();
        assert!(handoff.retired.is_empty(), "the loader frees what came back");
    }

    #[test]
    fn programs_read_back_from_their_text() {
        for p in 0..128 {
            assert_eq!(program_from_text(&program_text(p)), Some(p), "{}", program_text(p));
        }
        assert_eq!(program_text(0), "1 Acoustic Grand Piano");
        assert_eq!(program_from_text("violin"), Some(40));
        assert_eq!(program_from_text("129"), None);
        assert_eq!(program_from_text("kazoo"), None);
    }
}
