//! Listening, on the audio thread: the player's notes placed on the grid (onsets and ends
//! rounded to the nearest step), kept as the current phrase, the recent mean velocity, and
//! the end of a phrase (no onset for a gap, nothing held). The sustain pedal holds notes as a
//! pianist means it: a key released while the pedal is down sounds on until the pedal
//! rises. The player can also end a phrase at once (the "answer now" trigger). Fixed-size
//! storage only.

/// Notes one phrase may hold; older notes of a longer phrase are forgotten.
pub const PHRASE_CAPACITY: usize = 256;

/// A heard note on the grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeardNote {
    /// Absolute grid step of the onset.
    pub step: i64,
    /// Length in steps (at least 1).
    pub steps: u32,
    pub pitch: u8,
    pub velocity: u8,
}

/// A phrase as sent to the inference worker: a fixed array and a length.
#[derive(Debug, Clone, Copy)]
pub struct Phrase {
    pub notes: [HeardNote; PHRASE_CAPACITY],
    pub len: usize,
}

impl Default for Phrase {
    fn default() -> Self {
        Phrase { notes: [HeardNote::default(); PHRASE_CAPACITY], len: 0 }
    }
}

impl Phrase {
    /// A phrase of `notes` (their last `PHRASE_CAPACITY` if there are more).
    pub fn from_notes(notes: &[HeardNote]) -> Phrase {
        let keep = &notes[notes.len().saturating_sub(PHRASE_CAPACITY)..];
        let mut phrase = Phrase::default();
        phrase.notes[..keep.len()].copy_from_slice(keep);
        phrase.len = keep.len();
        phrase
    }

    pub fn notes(&self) -> &[HeardNote] {
        &self.notes[..self.len]
    }
}

#[derive(Debug, Clone)]
pub struct Capture {
    held: [Option<(i64, u8)>; 128],
    /// Pitches whose key was released while the pedal was down.
    sustained: [bool; 128],
    pedal: bool,
    phrase: Phrase,
    last_onset: Option<i64>,
    mean_velocity: f32,
    /// The player ended the phrase at once: no gap is waited for.
    ended_now: bool,
}

impl Default for Capture {
    fn default() -> Self {
        Capture {
            held: [None; 128],
            sustained: [false; 128],
            pedal: false,
            phrase: Phrase::default(),
            last_onset: None,
            mean_velocity: 90.0,
            ended_now: false,
        }
    }
}

impl Capture {
    pub fn note_on(&mut self, step: i64, pitch: u8, velocity: u8) {
        let pitch = pitch.min(127);
        if self.held[pitch as usize].is_some() {
            let _ = self.end_note(step, pitch);
        }
        self.sustained[pitch as usize] = false;
        self.held[pitch as usize] = Some((step, velocity));
        self.last_onset = Some(step);
        self.mean_velocity = 0.8 * self.mean_velocity + 0.2 * velocity as f32;
    }

    /// The key is released: the note ends (it joins the phrase, and is returned), unless
    /// the pedal holds it.
    pub fn note_off(&mut self, step: i64, pitch: u8) -> Option<HeardNote> {
        let pitch = pitch.min(127);
        if self.pedal && self.held[pitch as usize].is_some() {
            self.sustained[pitch as usize] = true;
            return None;
        }
        self.end_note(step, pitch)
    }

    /// The pedal goes down or up. Up ends every note it held; `ended` gets each of them.
    pub fn pedal(&mut self, step: i64, down: bool, mut ended: impl FnMut(HeardNote)) {
        self.pedal = down;
        if down {
            return;
        }
        for pitch in 0..128u8 {
            if std::mem::take(&mut self.sustained[pitch as usize]) {
                if let Some(note) = self.end_note(step, pitch) {
                    ended(note);
                }
            }
        }
    }

    /// End the phrase at `step`, now: every note held (by a key or the pedal) ends there
    /// (`ended` gets each) and the phrase counts as ended without waiting for the gap.
    pub fn end_phrase_now(&mut self, step: i64, mut ended: impl FnMut(HeardNote)) {
        for pitch in 0..128u8 {
            self.sustained[pitch as usize] = false;
            if let Some(note) = self.end_note(step, pitch) {
                ended(note);
            }
        }
        self.ended_now = true;
    }

    /// All Notes Off, All Sound Off: the pedal is up and every note held (by a key or the
    /// pedal) ends at `step` (`ended` gets each); the phrase then ends after its gap as usual.
    pub fn all_notes_off(&mut self, step: i64, mut ended: impl FnMut(HeardNote)) {
        self.pedal = false;
        for pitch in 0..128u8 {
            self.sustained[pitch as usize] = false;
            if let Some(note) = self.end_note(step, pitch) {
                ended(note);
            }
        }
    }

    fn end_note(&mut self, step: i64, pitch: u8) -> Option<HeardNote> {
        let (start, velocity) = self.held.get_mut(pitch.min(127) as usize).and_then(Option::take)?;
        if self.phrase.len == PHRASE_CAPACITY {
            self.phrase.notes.copy_within(1.., 0);
            self.phrase.len -= 1;
        }
        let steps = (step - start).max(1) as u32;
        let note = HeardNote { step: start, steps, pitch, velocity };
        self.phrase.notes[self.phrase.len] = note;
        self.phrase.len += 1;
        Some(note)
    }

    pub fn holding(&self) -> bool {
        self.held.iter().any(Option::is_some)
    }

    /// The recent mean velocity of the player.
    pub fn velocity(&self) -> u8 {
        self.mean_velocity.round().clamp(1.0, 127.0) as u8
    }

    /// The phrase has ended at `step`: it has notes, nothing is held, and no onset came for
    /// `gap` steps (or the player ended it at once).
    pub fn phrase_ended(&self, step: i64, gap: u32) -> bool {
        let waited = self.ended_now || self.last_onset.is_some_and(|o| step - o >= gap as i64);
        self.phrase.len > 0 && !self.holding() && waited
    }

    /// Copy the phrase into `out`.
    pub fn copy_phrase(&self, out: &mut Phrase) {
        *out = self.phrase;
    }

    /// Forget the phrase (it has been handed over) and listen for a new one.
    pub fn start_new_phrase(&mut self) {
        self.phrase.len = 0;
        self.last_onset = None;
        self.ended_now = false;
    }

    /// Forget everything (transport jumps, mode changes).
    pub fn clear(&mut self) {
        let (velocity, pedal) = (self.mean_velocity, self.pedal);
        *self = Capture::default();
        self.mean_velocity = velocity;
        self.pedal = pedal;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// All Notes Off ends a key held and a note held by the pedal, and lifts the pedal, so
    /// the phrase ends after its gap (issue #24).
    #[test]
    fn all_notes_off_ends_held_keys_and_lifts_the_pedal() {
        let mut c = Capture::default();
        c.note_on(0, 60, 100);
        c.pedal(1, true, |_| {});
        c.note_on(2, 64, 100);
        assert_eq!(c.note_off(3, 64), None, "the pedal holds 64");
        let mut ended = Vec::new();
        c.all_notes_off(6, |n| ended.push((n.pitch, n.steps)));
        assert_eq!(ended, [(60, 6), (64, 4)]);
        assert!(!c.holding() && c.phrase_ended(14, 8));
        // The pedal is up: a key released now ends its note.
        c.note_on(20, 67, 100);
        assert!(c.note_off(22, 67).is_some());
    }

    #[test]
    fn phrases_end_after_a_gap_with_nothing_held() {
        let mut c = Capture::default();
        c.note_on(0, 60, 100);
        assert_eq!(c.note_off(2, 60), Some(HeardNote { step: 0, steps: 2, pitch: 60, velocity: 100 }));
        c.note_on(4, 62, 60);
        assert!(!c.phrase_ended(10, 8));
        assert!(!c.phrase_ended(12, 8)); // 62 is still held
        let _ = c.note_off(6, 62);
        assert!(c.phrase_ended(12, 8));
        let mut p = Phrase::default();
        c.copy_phrase(&mut p);
        c.start_new_phrase();
        assert_eq!(
            p.notes(),
            &[
                HeardNote { step: 0, steps: 2, pitch: 60, velocity: 100 },
                HeardNote { step: 4, steps: 2, pitch: 62, velocity: 60 }
            ]
        );
        assert!(!c.phrase_ended(40, 8));
        assert!(c.velocity() < 90);
    }

    #[test]
    fn a_phrase_ended_now_ends_its_held_notes_and_waits_for_no_gap() {
        let mut c = Capture::default();
        assert!(!c.phrase_ended(0, 8));
        c.pedal(0, true, |_| {});
        c.note_on(0, 60, 100);
        assert_eq!(c.note_off(1, 60), None);
        c.note_on(2, 64, 100);
        let mut ended = Vec::new();
        c.end_phrase_now(3, |n| ended.push(n.pitch));
        assert_eq!(ended, vec![60, 64]);
        assert!(!c.holding() && c.phrase_ended(3, 8));
        // The key released later is no note of the phrase.
        assert_eq!(c.note_off(5, 64), None);
        c.start_new_phrase();
        c.note_on(10, 62, 90);
        let _ = c.note_off(11, 62);
        assert!(!c.phrase_ended(12, 8), "a new phrase waits for its gap again");
    }

    #[test]
    fn the_pedal_holds_released_notes_until_it_rises() {
        let mut c = Capture::default();
        c.pedal(0, true, |_| {});
        c.note_on(0, 60, 100);
        assert_eq!(c.note_off(1, 60), None);
        assert!(c.holding() && !c.phrase_ended(20, 8));
        let mut ended = Vec::new();
        c.pedal(6, false, |n| ended.push(n));
        assert_eq!(ended, vec![HeardNote { step: 0, steps: 6, pitch: 60, velocity: 100 }]);
        assert!(c.phrase_ended(20, 8));
    }
}
