//! Humdrum `**kern` in: durations with dots, ties and rational values, rests, chords,
//! bar lines, metre (`*M`), key (`*X:`), tempo (`*MM`), phrase marks, and several spines
//! with split / join / add / exchange / terminate. Runs on the trainer's threads.
//!
//! Times are in beats (quarter notes): a kern duration `N` lasts `4/N` beats, `0` is a
//! breve (8 beats), `00` a longa (16), `N%M` lasts `4·M/N`. Grace notes (`q`, `Q`) have no
//! duration and are left out. Ornament, articulation, beam and stem signifiers are read
//! and ignored; any other character in a note token is an [`ReadProblem::UnsupportedKern`].

use crate::key::Key;
use crate::read_error::{ReadError, ReadProblem};
use crate::score::{Note, Score, TempoChange, TimeSignature};
use std::iter::Peekable;
use std::path::Path;
use std::str::Chars;

/// Signifiers that may appear in a note token and do not change pitch or duration.
const IGNORED: &str = "{}()[]_;LJKk/\\'\"~^`v:,oOxXyYmMtTwWsSRuUzpP&|!?<>$";
/// The velocity given to kern notes, which carry none.
pub const KERN_VELOCITY: u8 = 80;

pub fn read_kern_file(path: &Path) -> Result<Score, ReadError> {
    let bytes = std::fs::read(path).map_err(|e| ReadError::new(path, ReadProblem::Io(e.to_string())))?;
    if bytes.is_empty() {
        return Err(ReadError::new(path, ReadProblem::Empty));
    }
    let text = String::from_utf8_lossy(&bytes);
    parse_kern(&text).map_err(|p| ReadError::new(path, p))
}

#[derive(Debug, Clone)]
struct Spine {
    is_kern: bool,
    voice: u8,
    /// When the event that started last in this spine ends.
    busy_until: f64,
    /// Notes started with `[` (or continued with `_`) waiting for their tie to go on.
    tied: Vec<usize>,
    phrase_start: Option<f64>,
}

/// One parsed note or rest token.
#[derive(Debug, Clone, PartialEq)]
struct Event {
    beats: f64,
    /// `None` for a rest.
    pitch: Option<u8>,
    tie_start: bool,
    tie_continue: bool,
    tie_end: bool,
    phrase_start: bool,
    phrase_end: bool,
    grace: bool,
}

fn unsupported(line: usize, token: &str, why: impl Into<String>) -> ReadProblem {
    ReadProblem::UnsupportedKern { line, token: token.to_string(), why: why.into() }
}

fn parse_duration(digits: &str, dots: usize, rational: Option<&str>) -> Option<f64> {
    let base = if digits.chars().all(|c| c == '0') {
        // 0 = breve, 00 = longa, 000 = maxima.
        8.0 * 2f64.powi(digits.len() as i32 - 1)
    } else {
        let n: f64 = digits.parse().ok()?;
        let m: f64 = match rational {
            Some(m) => m.parse().ok().filter(|&m: &f64| m > 0.0)?,
            None => 1.0,
        };
        4.0 * m / n
    };
    let mut total = base;
    let mut add = base / 2.0;
    for _ in 0..dots {
        total += add;
        add /= 2.0;
    }
    Some(total)
}

/// Parse one token of a `**kern` data field (a note, a rest, or one note of a chord).
fn parse_event(token: &str, line: usize) -> Result<Event, ReadProblem> {
    let mut ev = Event {
        beats: 0.0,
        pitch: None,
        tie_start: false,
        tie_continue: false,
        tie_end: false,
        phrase_start: false,
        phrase_end: false,
        grace: false,
    };
    let mut sig = Signifiers::default();
    let mut chars = token.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '0'..='9' => sig.duration(c, &mut chars).map_err(|why| unsupported(line, token, why))?,
            '.' => sig.dots += 1,
            'a'..='g' | 'A'..='G' => sig.letter(c).map_err(|why| unsupported(line, token, why))?,
            'r' => sig.rest = true,
            '#' => sig.accidental += 1,
            '-' => sig.accidental -= 1,
            'n' => {}
            'q' | 'Q' => ev.grace = true,
            '[' => ev.tie_start = true,
            '_' => ev.tie_continue = true,
            ']' => ev.tie_end = true,
            '{' => ev.phrase_start = true,
            '}' => ev.phrase_end = true,
            c if IGNORED.contains(c) => {}
            c => return Err(unsupported(line, token, format!("unknown signifier {c:?}"))),
        }
    }
    sig.complete(ev).map_err(|why| unsupported(line, token, why))
}

/// What a token's duration and pitch signifiers said, as they are read.
#[derive(Default)]
struct Signifiers {
    digits: String,
    /// The `%` number of a rational duration (`3%2`).
    rational: Option<String>,
    dots: usize,
    letter: Option<char>,
    /// How often the letter is written (`cc`: an octave up).
    letter_count: i32,
    accidental: i32,
    rest: bool,
}

impl Signifiers {
    /// A duration starting with digit `first`, with the rest of its digits and a `%` number
    /// read from `chars`.
    fn duration(&mut self, first: char, chars: &mut Peekable<Chars>) -> Result<(), &'static str> {
        // Digits after the pitch are allowed only if no duration came before.
        if !self.digits.is_empty() && (self.dots > 0 || self.letter.is_some() || self.rest) {
            return Err("two durations");
        }
        self.digits.push(first);
        while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            self.digits.push(d);
            chars.next();
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            let mut m = String::new();
            while let Some(&d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                m.push(d);
                chars.next();
            }
            if m.is_empty() {
                return Err("`%` without a number after it");
            }
            self.rational = Some(m);
        }
        Ok(())
    }

    /// A pitch letter (repeated for octaves).
    fn letter(&mut self, c: char) -> Result<(), &'static str> {
        if self.letter.is_some_and(|l| l != c) {
            return Err("two different pitches in one token");
        }
        if self.rest {
            return Err("a rest with a pitch");
        }
        self.letter = Some(c);
        self.letter_count += 1;
        Ok(())
    }

    /// `ev` with the duration and pitch read, checked.
    fn complete(&self, mut ev: Event) -> Result<Event, &'static str> {
        if self.letter.is_none() && !self.rest {
            return Err("neither a pitch nor a rest");
        }
        if ev.grace {
            return Ok(ev);
        }
        if self.digits.is_empty() {
            return Err("no duration");
        }
        ev.beats = parse_duration(&self.digits, self.dots, self.rational.as_deref())
            .filter(|b| b.is_finite() && *b > 0.0 && *b <= 1024.0)
            .ok_or("duration out of range")?;
        if let Some(l) = self.letter {
            let pc = crate::note::letter_pitch_class(l.to_ascii_lowercase()).expect("a note letter") as i32;
            let octave = if l.is_ascii_lowercase() { 3 + self.letter_count } else { 4 - self.letter_count };
            let midi = 12 * (octave + 1) + pc + self.accidental;
            if !(0..=127).contains(&midi) {
                return Err("pitch outside MIDI's range");
            }
            ev.pitch = Some(midi as u8);
        }
        Ok(ev)
    }
}

fn malformed(line: usize, why: impl Into<String>) -> ReadProblem {
    ReadProblem::MalformedKern { line, why: why.into() }
}

/// Apply one line of spine manipulators (`*^`, `*v`, `*-`, `*+`, `*x`) and new exclusive
/// interpretations; returns the spines of the next line.
fn manipulate(
    spines: Vec<Spine>,
    fields: &[&str],
    line: usize,
    next_voice: &mut u8,
) -> Result<Vec<Spine>, ReadProblem> {
    let mut out = Vec::with_capacity(spines.len() + 1);
    let mut i = 0;
    while i < fields.len() {
        let spine = &spines[i];
        match fields[i] {
            "*^" => {
                out.push(spine.clone());
                let mut twin = spine.clone();
                twin.voice = *next_voice;
                twin.tied.clear();
                *next_voice = next_voice.saturating_add(1);
                out.push(twin);
            }
            "*v" => {
                let mut merged = spine.clone();
                while i + 1 < fields.len() && fields[i + 1] == "*v" {
                    i += 1;
                    merged.busy_until = merged.busy_until.max(spines[i].busy_until);
                }
                out.push(merged);
            }
            "*-" => {}
            "*+" => {
                out.push(spine.clone());
                out.push(Spine {
                    is_kern: false,
                    voice: *next_voice,
                    busy_until: 0.0,
                    tied: vec![],
                    phrase_start: None,
                });
                *next_voice = next_voice.saturating_add(1);
            }
            "*x" => {
                if i + 1 >= fields.len() || fields[i + 1] != "*x" {
                    return Err(malformed(line, "`*x` without a partner"));
                }
                out.push(spines[i + 1].clone());
                out.push(spine.clone());
                i += 1;
            }
            f if f.starts_with("**") => {
                let mut s = spine.clone();
                s.is_kern = f == "**kern";
                out.push(s);
            }
            _ => out.push(spine.clone()),
        }
        i += 1;
    }
    Ok(out)
}

/// Parse a whole `**kern` document.
pub fn parse_kern(text: &str) -> Result<Score, ReadProblem> {
    // A byte-order mark, as some editors write it, is not part of the first line.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(ReadProblem::Empty);
    }
    let mut reader = KernReader::default();
    for (index, raw) in text.lines().enumerate() {
        if !reader.line(raw.trim_end_matches('\r'), index + 1)? {
            break;
        }
    }
    reader.finish()
}

/// A `**kern` file being read, line by line.
#[derive(Default)]
struct KernReader {
    score: Score,
    spines: Vec<Spine>,
    next_voice: u8,
    /// The time the next data line starts at.
    t: f64,
    /// The exclusive interpretations (`**kern` …) have been read.
    started: bool,
    /// The latest time any event (note or rest) reaches: the piece's length.
    reached: f64,
}

impl KernReader {
    /// Read one line (`line`: its number from 1); false when the rest of the file is to be
    /// ignored (every spine terminated).
    fn line(&mut self, raw: &str, line: usize) -> Result<bool, ReadProblem> {
        if raw.is_empty() {
            return Ok(true);
        }
        if let Some(title) = raw.strip_prefix("!!!OTL:") {
            self.score.title.get_or_insert_with(|| title.trim().to_string());
            return Ok(true);
        }
        if raw.starts_with('!') && !self.started {
            return Ok(true);
        }
        let fields: Vec<&str> = raw.split('\t').collect();
        if !self.started {
            return self.open_spines(raw, &fields).map(|()| true);
        }
        if raw.starts_with("!!") {
            return Ok(true);
        }
        if self.spines.is_empty() {
            return Ok(false);
        }
        if fields.len() != self.spines.len() {
            let open = self.spines.len();
            return Err(malformed(line, format!("{} fields where {open} spines are open", fields.len())));
        }
        if raw.starts_with('!') {
            return Ok(true);
        }
        if raw.starts_with('*') {
            read_interpretations(&mut self.score, &self.spines, &fields, self.t);
            self.spines = manipulate(std::mem::take(&mut self.spines), &fields, line, &mut self.next_voice)?;
        } else if raw.starts_with('=') {
            if self.score.bar_lines.last().is_none_or(|&b| b < self.t) && !raw.starts_with("==") {
                self.score.bar_lines.push(self.t);
            }
        } else {
            self.data_line(&fields, line)?;
        }
        Ok(true)
    }

    /// The exclusive interpretations: one spine per field; at least one must be `**kern`.
    fn open_spines(&mut self, raw: &str, fields: &[&str]) -> Result<(), ReadProblem> {
        if !raw.starts_with("**") {
            return Err(ReadProblem::NotKern);
        }
        for f in fields {
            let spine = Spine {
                is_kern: *f == "**kern",
                voice: self.next_voice,
                busy_until: 0.0,
                tied: vec![],
                phrase_start: None,
            };
            self.spines.push(spine);
            self.next_voice = self.next_voice.saturating_add(1);
        }
        if !self.spines.iter().any(|s| s.is_kern) {
            return Err(ReadProblem::NotKern);
        }
        self.started = true;
        Ok(())
    }

    /// A line of notes and rests; the next line starts when the earliest still-sounding
    /// event ends.
    fn data_line(&mut self, fields: &[&str], line: usize) -> Result<(), ReadProblem> {
        read_data_line(&mut self.score, &mut self.spines, fields, self.t, line)?;
        self.reached = self.spines.iter().map(|s| s.busy_until).fold(self.reached, f64::max);
        if let Some(next) = self.spines.iter().map(|s| s.busy_until).filter(|&b| b > self.t + 1e-9).reduce(f64::min) {
            self.t = next;
        }
        Ok(())
    }

    /// The score read, its events in order.
    fn finish(self) -> Result<Score, ReadProblem> {
        let mut score = self.score;
        if !self.started {
            return Err(ReadProblem::NotKern);
        }
        if score.notes.is_empty() {
            return Err(ReadProblem::NoNotes);
        }
        score.sort();
        score.phrases.sort_by(|a, b| a.0.total_cmp(&b.0));
        score.phrases.dedup();
        score.time_signatures.dedup();
        score.tempi.dedup_by(|a, b| a.beat == b.beat);
        score.length = Some(self.reached);
        score.check_length()?;
        Ok(score)
    }
}

fn read_interpretations(score: &mut Score, spines: &[Spine], fields: &[&str], t: f64) {
    for (spine, field) in spines.iter().zip(fields) {
        if !spine.is_kern {
            continue;
        }
        if let Some(mm) = field.strip_prefix("*MM") {
            if let Ok(bpm) = mm.trim().parse::<f64>() {
                if (6.0..=6000.0).contains(&bpm) {
                    score.tempi.push(TempoChange { beat: t, bpm });
                }
            }
        } else if let Some(metre) = field.strip_prefix("*M") {
            let metre = metre.trim_start_matches(|c: char| c.is_ascii_alphabetic());
            if let Some((n, d)) = metre.split_once('/') {
                let d: String = d.chars().take_while(char::is_ascii_digit).collect();
                if let (Ok(n), Ok(d)) = (n.parse::<u8>(), d.parse::<u8>()) {
                    if n > 0 && d.is_power_of_two() && d <= 64 {
                        let ts =
                            TimeSignature { beat_milli: (t * 1000.0).round() as i64, numerator: n, denominator: d };
                        // One metre per position: a later one at the same beat replaces it.
                        match score.time_signatures.last_mut() {
                            Some(last) if last.beat_milli == ts.beat_milli => *last = ts,
                            _ => score.time_signatures.push(ts),
                        }
                    }
                }
            }
        } else if let Some(key) = field.strip_prefix('*').and_then(|k| k.strip_suffix(':')) {
            if score.declared_key.is_none() {
                score.declared_key = Key::from_kern(key);
            }
        }
    }
}

fn read_data_line(
    score: &mut Score,
    spines: &mut [Spine],
    fields: &[&str],
    t: f64,
    line: usize,
) -> Result<(), ReadProblem> {
    for (spine, field) in spines.iter_mut().zip(fields) {
        if !spine.is_kern || *field == "." {
            continue;
        }
        let mut field_beats: Option<f64> = None;
        let mut still_tied = Vec::new();
        for token in field.split(' ').filter(|s| !s.is_empty()) {
            if token == "." {
                continue;
            }
            let ev = parse_event(token, line)?;
            if ev.grace {
                continue;
            }
            field_beats = Some(field_beats.map_or(ev.beats, |b| b.min(ev.beats)));
            if ev.phrase_start {
                spine.phrase_start = Some(t);
            }
            if ev.phrase_end {
                if let Some(start) = spine.phrase_start.take() {
                    score.phrases.push((start, t + ev.beats));
                }
            }
            let Some(pitch) = ev.pitch else { continue };
            let continues = ev.tie_continue || ev.tie_end;
            let tied_index = spine.tied.iter().position(|&i| score.notes[i].pitch == pitch);
            match (continues, tied_index) {
                (true, Some(k)) => {
                    let i = spine.tied.remove(k);
                    score.notes[i].duration = t + ev.beats - score.notes[i].onset;
                    if ev.tie_continue {
                        still_tied.push(i);
                    }
                }
                _ => {
                    score.notes.push(Note {
                        onset: t,
                        duration: ev.beats,
                        pitch,
                        velocity: KERN_VELOCITY,
                        voice: spine.voice,
                    });
                    if ev.tie_start || ev.tie_continue {
                        still_tied.push(score.notes.len() - 1);
                    }
                }
            }
        }
        spine.tied.extend(still_tied);
        if let Some(b) = field_beats {
            spine.busy_until = t + b;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let d = |s: &str| parse_event(s, 1).unwrap().beats;
        assert_eq!(d("4c"), 1.0);
        assert_eq!(d("4.c"), 1.5);
        assert_eq!(d("4..c"), 1.75);
        assert_eq!(d("8r"), 0.5);
        assert_eq!(d("0c"), 8.0);
        assert_eq!(d("00c"), 16.0);
        assert!((d("12c") - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(d("3%2c"), 8.0 / 3.0);
    }

    #[test]
    fn pitches() {
        let p = |s: &str| parse_event(s, 1).unwrap().pitch;
        assert_eq!(p("4c"), Some(60));
        assert_eq!(p("4cc"), Some(72));
        assert_eq!(p("4C"), Some(48));
        assert_eq!(p("4CC"), Some(36));
        assert_eq!(p("4b-"), Some(70));
        assert_eq!(p("4f#"), Some(66));
        assert_eq!(p("4ffx#"), Some(78));
        assert_eq!(p("4B--"), Some(57));
        assert_eq!(p("4r"), None);
    }

    #[test]
    fn unsupported_tokens_are_typed_errors() {
        for bad in ["4cd", "c", "4c@", "4", "4%c", "4rc"] {
            let err = parse_event(bad, 7).unwrap_err();
            assert!(matches!(err, ReadProblem::UnsupportedKern { line: 7, .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn ties_and_phrases() {
        let s = parse_kern("**kern\n*M3/4\n*G:\n{[4g\n=1\n4g]\n8a\n8b}\n*-\n").unwrap();
        assert_eq!(s.notes.len(), 3);
        assert_eq!(s.notes[0].duration, 2.0);
        assert_eq!(s.notes[2].onset, 2.5);
        assert_eq!(s.phrases, vec![(0.0, 3.0)]);
        assert_eq!(s.bar_lines, vec![1.0]);
        assert_eq!(s.declared_key, Some(Key::new(7, crate::key::Mode::Major)));
        assert_eq!(s.time_signatures[0].numerator, 3);
    }

    #[test]
    fn several_spines_chords_and_splits() {
        let text = "**kern\t**kern\t**text\n\
                    *M4/4\t*M4/4\t*\n\
                    2C\t4c 4e 4g\tla\n\
                    .\t4d\tli\n\
                    *\t*^\t*\n\
                    2G\t4e\t2g\tlo\n\
                    .\t4f\t.\t.\n\
                    *\t*v\t*v\t*\n\
                    1C\t1c\t.\n\
                    *-\t*-\t*-\n";
        let s = parse_kern(text).unwrap();
        let onsets: Vec<(f64, u8)> = s.notes.iter().map(|n| (n.onset, n.pitch)).collect();
        assert_eq!(
            onsets,
            vec![
                (0.0, 48),
                (0.0, 60),
                (0.0, 64),
                (0.0, 67),
                (1.0, 62),
                (2.0, 55),
                (2.0, 64),
                (2.0, 67),
                (3.0, 65),
                (4.0, 48),
                (4.0, 60)
            ]
        );
    }
}
