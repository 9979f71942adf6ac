//! The music of an ABC tune, for [`crate::abc`]: its lines read into events (sounds with
//! their MIDI pitches and lengths in quarter notes, bar lines, repeats and endings, changes
//! of metre and tempo), then played out (repeats taken, first and second endings chosen).
//! A voice's state (unit note length, metre, key signature, the bar's own accidentals, a
//! tuplet or broken rhythm under way) lives in [`Voice`]. Plain functions, any thread.

use crate::abc_key::key_field;
use crate::key::Key;

/// The largest number a length, tuplet or bar count may have (digits beyond are an error,
/// never an overflow).
const MAX_NUMBER: u32 = 9999;
/// The most repeats played out (each `:|` jumps back once; this only bounds broken input).
const MAX_JUMPS: usize = 10_000;

/// What the music says, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Notes sounding together (none: a rest) for `beats` quarter notes; `tie`: held on
    /// into the next sound of the same pitches.
    Sound {
        pitches: Vec<u8>,
        beats: f64,
        tie: bool,
    },
    /// A bar line: whether it ends a repeat (`:|`) and starts one (`|:`), and a section's
    /// end (`||`, `|]`).
    Bar {
        repeat_end: bool,
        repeat_start: bool,
        section_end: bool,
    },
    /// A first, second (…) ending starts.
    Ending(u8),
    Meter(u8, u8),
    /// Quarter notes a minute.
    Tempo(f64),
}

/// A voice being read: its events and what the next note needs.
#[derive(Debug, Clone)]
pub struct Voice {
    pub events: Vec<Event>,
    pub declared_key: Option<Key>,
    /// The unit note length in quarter notes (`L:`), once given.
    unit: Option<f64>,
    meter: (u8, u8),
    signature: [i8; 7],
    /// Accidentals met in this bar: (letter, octave) → alteration.
    bar: Vec<((usize, i32), i8)>,
    /// A tuplet under way: the factor, and the notes it still takes.
    tuplet: Option<(f64, u32)>,
    /// A broken rhythm's factor for the next sound.
    broken: Option<f64>,
    /// The first voice's name (`V:`), and whether another voice's music is being skipped.
    first_voice: Option<String>,
    skipping: bool,
}

impl Default for Voice {
    fn default() -> Self {
        Voice {
            events: Vec::new(),
            declared_key: None,
            unit: None,
            meter: (4, 4),
            signature: [0; 7],
            bar: Vec::new(),
            tuplet: None,
            broken: None,
            first_voice: None,
            skipping: false,
        }
    }
}

impl Voice {
    /// The unit note length: `L:`, else 1/16 in a metre under 3/4, else 1/8.
    fn unit(&self) -> f64 {
        self.unit.unwrap_or(if (self.meter.0 as f64) / (self.meter.1 as f64) < 0.75 { 0.25 } else { 0.5 })
    }

    /// A field, in the header, on a line of its own, or inline (`[K:D]`).
    pub fn field(&mut self, name: char, value: &str) -> Result<(), String> {
        match name {
            'K' => {
                let (key, signature) = key_field(value)?;
                self.signature = signature;
                self.declared_key = self.declared_key.or(key);
            }
            'M' => {
                self.meter = meter_field(value)?;
                self.events.push(Event::Meter(self.meter.0, self.meter.1));
            }
            'L' => self.unit = Some(fraction(value).ok_or_else(|| format!("`L:{value}` is not a length"))? * 4.0),
            'Q' => {
                if let Some(bpm) = tempo_field(value, self.unit()) {
                    self.events.push(Event::Tempo(bpm));
                }
            }
            'V' => self.voice(value),
            _ => {}
        }
        Ok(())
    }

    /// `V:`: the first voice named is read, the others skipped.
    fn voice(&mut self, value: &str) {
        let name = value.split_whitespace().next().unwrap_or("").to_string();
        let first = self.first_voice.get_or_insert_with(|| name.clone());
        self.skipping = *first != name;
    }
}

/// `M:` as (numerator, denominator): `6/8`, `C` (4/4), `C|` (2/2), `none` (4/4, unmarked).
fn meter_field(value: &str) -> Result<(u8, u8), String> {
    let v = value.trim();
    match v {
        "C" => return Ok((4, 4)),
        "C|" => return Ok((2, 2)),
        "" | "none" => return Ok((4, 4)),
        _ => {}
    }
    let (n, d) = v.split_once('/').ok_or_else(|| format!("`M:{value}` is not a metre"))?;
    // A sum such as 2+3+2/8 counts as its total.
    let n: u32 = n.split('+').map(|p| p.trim().parse::<u32>().ok()).sum::<Option<u32>>().unwrap_or(0);
    let d: u32 = d.trim().parse().unwrap_or(0);
    if !(1..=64).contains(&n) || ![1, 2, 4, 8, 16, 32, 64].contains(&d) {
        return Err(format!("`M:{value}` is not a metre"));
    }
    Ok((n as u8, d as u8))
}

/// `Q:`: `1/4=120`, `3/8=100` (the last such, after any text), or a plain number of unit
/// lengths a minute; quarter notes a minute, when it is one.
fn tempo_field(value: &str, unit: f64) -> Option<f64> {
    let word = value.split_whitespace().rev().find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
    let bpm = match word.split_once('=') {
        Some((beat, n)) => {
            let beat: f64 = beat.split_whitespace().filter_map(fraction).sum();
            n.parse::<f64>().ok()? * beat * 4.0
        }
        None => word.parse::<f64>().ok()? * unit,
    };
    (bpm.is_finite() && (6.0..=6000.0).contains(&bpm)).then_some(bpm)
}

/// `a/b` (or a whole number) as a fraction of a whole note.
fn fraction(text: &str) -> Option<f64> {
    let (a, b) = text.trim().split_once('/').unwrap_or((text.trim(), "1"));
    let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
    (a > 0 && b > 0 && a <= MAX_NUMBER && b <= MAX_NUMBER).then(|| a as f64 / b as f64)
}

/// A line of music: its notes, rests, chords and bar lines into `voice`'s events.
pub fn music_line(line: &str, voice: &mut Voice) -> Result<(), String> {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        i = symbol(&chars, i, voice)?;
    }
    Ok(())
}

/// The symbol at `i`; where the next one starts.
fn symbol(c: &[char], i: usize, voice: &mut Voice) -> Result<usize, String> {
    let skip_to = |close: char| c[i + 1..].iter().position(|&x| x == close).map_or(c.len(), |p| i + 2 + p);
    Ok(match c[i] {
        ' ' | '\t' | '`' | 'y' | '\\' | ')' | '.' | '~' | 'H' | 'L' | 'M' | 'O' | 'P' | 'S' | 'T' | 'u' | 'v' => i + 1,
        '"' => skip_to('"'),
        '!' => skip_to('!'),
        '+' => skip_to('+'),
        '{' => skip_to('}'),
        '(' if c.get(i + 1).is_some_and(char::is_ascii_digit) => tuplet(c, i + 1, voice)?,
        '(' => i + 1,
        '>' | '<' => broken(c, i, voice),
        '-' => {
            tie_last(voice);
            i + 1
        }
        '|' | ':' => bar(c, i, voice),
        '[' => bracket(c, i, voice)?,
        'z' | 'x' | 'Z' | 'X' => rest(c, i, voice)?,
        '^' | '_' | '=' | 'A'..='G' | 'a'..='g' => note_or_chord(c, i, voice, false)?,
        '&' => return Err("`&` (a voice overlay) is not read".into()),
        other => return Err(format!("`{other}` is not ABC music")),
    })
}

/// `(p`, `(p:q`, `(p:q:r`: the next r notes take the time of q.
fn tuplet(c: &[char], mut i: usize, voice: &mut Voice) -> Result<usize, String> {
    let mut numbers = [0u32; 3];
    for (k, slot) in numbers.iter_mut().enumerate() {
        if k > 0 {
            if c.get(i) != Some(&':') {
                break;
            }
            i += 1;
        }
        let (n, next) = number(c, i)?;
        *slot = n.unwrap_or(0);
        i = next;
    }
    let [p, q, r] = numbers;
    if !(2..=9).contains(&p) {
        return Err(format!("a tuplet of {p} notes"));
    }
    let compound = voice.meter.0.is_multiple_of(3) && voice.meter.0 > 3;
    let q = if q > 0 {
        q
    } else {
        match p {
            3 | 6 => 2,
            2 | 4 | 8 => 3,
            _ if compound => 3,
            _ => 2,
        }
    };
    voice.tuplet = Some((q as f64 / p as f64, if r > 0 { r } else { p }));
    Ok(i)
}

/// Digits at `i` (none: `None`), and where they end.
fn number(c: &[char], mut i: usize) -> Result<(Option<u32>, usize), String> {
    let start = i;
    while c.get(i).is_some_and(char::is_ascii_digit) {
        i += 1;
    }
    if i == start {
        return Ok((None, i));
    }
    let text: String = c[start..i].iter().collect();
    match text.parse::<u32>() {
        Ok(n) if n <= MAX_NUMBER => Ok((Some(n), i)),
        _ => Err(format!("the number {text} is too large")),
    }
}

/// A length after a note: `2`, `/2`, `/`, `//`, `3/2`; its factor of the unit.
fn length(c: &[char], i: usize) -> Result<(f64, usize), String> {
    let (num, mut i) = number(c, i)?;
    let mut factor = num.unwrap_or(1) as f64;
    while c.get(i) == Some(&'/') {
        let (den, next) = number(c, i + 1)?;
        factor /= den.unwrap_or(2).max(1) as f64;
        i = next;
    }
    Ok((factor, i))
}

/// `>`, `>>`, `<`…: the sound before is longer (or shorter) and the next one the other way.
fn broken(c: &[char], i: usize, voice: &mut Voice) -> usize {
    let sign = c[i];
    let n = c[i..].iter().take_while(|&&x| x == sign).count().min(3);
    let part = 1.0 / f64::powi(2.0, n as i32);
    let (before, after) = if sign == '>' { (2.0 - part, part) } else { (part, 2.0 - part) };
    if let Some(Event::Sound { beats, .. }) = voice.events.iter_mut().rev().find(|e| matches!(e, Event::Sound { .. })) {
        *beats *= before;
    }
    voice.broken = Some(after);
    i + n
}

fn tie_last(voice: &mut Voice) {
    if let Some(Event::Sound { tie, pitches, .. }) = voice.events.last_mut() {
        *tie = !pitches.is_empty();
    }
}

/// A bar line (`|`, `||`, `|]`, `|:`, `:|`, `::`, `:|:`), a first or second ending after
/// it (`|1`, `:|2`).
fn bar(c: &[char], i: usize, voice: &mut Voice) -> usize {
    let mut end = i;
    while end < c.len() && matches!(c[end], '|' | ':' | ']') {
        end += 1;
    }
    let run: String = c[i..end].iter().collect();
    let event = Event::Bar {
        repeat_end: run.starts_with(':'),
        repeat_start: run.ends_with(':') && run.len() > 1,
        section_end: run.contains("||") || run.contains("|]"),
    };
    voice.bar.clear();
    if !voice.skipping {
        voice.events.push(event);
    }
    ending(c, end, voice)
}

/// Digits right after a bar line (or `[`): an ending.
fn ending(c: &[char], i: usize, voice: &mut Voice) -> usize {
    let mut end = i;
    while end < c.len() && (c[end].is_ascii_digit() || (end > i && matches!(c[end], ',' | '-'))) {
        end += 1;
    }
    if end > i && !voice.skipping {
        voice.events.push(Event::Ending(c[i].to_digit(10).unwrap_or(1) as u8));
    }
    end
}

/// `[`: an inline field (`[K:D]`), an ending (`[1`), a bar line (`[|`) or a chord.
fn bracket(c: &[char], i: usize, voice: &mut Voice) -> Result<usize, String> {
    match (c.get(i + 1), c.get(i + 2)) {
        (Some(letter), Some(':')) if letter.is_ascii_alphabetic() => {
            let close = c[i..].iter().position(|&x| x == ']').map_or(c.len(), |p| i + p);
            let value: String = c[(i + 3).min(close)..close].iter().collect();
            voice.field(*letter, value.trim())?;
            Ok(close + 1)
        }
        (Some(d), _) if d.is_ascii_digit() => Ok(ending(c, i + 1, voice)),
        (Some('|'), _) => Ok(bar(c, i + 1, voice)),
        _ => note_or_chord(c, i, voice, true),
    }
}

/// A rest: `z` and `x` for a length, `Z` and `X` for whole bars.
fn rest(c: &[char], i: usize, voice: &mut Voice) -> Result<usize, String> {
    let (factor, next) = length(c, i + 1)?;
    let beats = if matches!(c[i], 'Z' | 'X') {
        factor * voice.meter.0 as f64 * 4.0 / voice.meter.1 as f64
    } else {
        factor * voice.unit()
    };
    sound(voice, Vec::new(), beats);
    Ok(next)
}

/// A note (`^c'2`), or a chord (`[CEG]2`, its notes' own lengths ignored but the first's).
fn note_or_chord(c: &[char], i: usize, voice: &mut Voice, chord: bool) -> Result<usize, String> {
    if !chord {
        let (pitch, next) = pitch(c, i, voice)?;
        let (factor, next) = length(c, next)?;
        sound(voice, vec![pitch], factor * voice.unit());
        return Ok(next);
    }
    let mut pitches = Vec::new();
    let (mut first, mut j) = (None, i + 1);
    while j < c.len() && c[j] != ']' {
        if matches!(c[j], '^' | '_' | '=' | 'A'..='G' | 'a'..='g') {
            let (p, next) = pitch(c, j, voice)?;
            let (factor, next) = length(c, next)?;
            pitches.push(p);
            first.get_or_insert(factor);
            j = next;
        } else {
            j += 1;
        }
    }
    let (factor, next) = length(c, (j + 1).min(c.len()))?;
    sound(voice, pitches, first.unwrap_or(1.0) * factor * voice.unit());
    Ok(next)
}

/// A pitch with its accidental and octave marks: its MIDI number.
fn pitch(c: &[char], mut i: usize, voice: &mut Voice) -> Result<(u8, usize), String> {
    let mut accidental: Option<i8> = None;
    while let Some(&a) = c.get(i).filter(|a| matches!(a, '^' | '_' | '=')) {
        let step = match a {
            '^' => 1,
            '_' => -1,
            _ => 0,
        };
        accidental = Some(if a == '=' { 0 } else { accidental.unwrap_or(0) + step });
        if accidental.is_some_and(|a| a.abs() > 2) {
            return Err("more accidentals than a double sharp or flat".into());
        }
        i += 1;
    }
    let letter = *c.get(i).filter(|l| l.is_ascii_alphabetic()).ok_or("an accidental without a note")?;
    let index = "CDEFGAB".find(letter.to_ascii_uppercase()).ok_or_else(|| format!("`{letter}` is not a note"))?;
    let mut octave: i32 = if letter.is_ascii_lowercase() { 5 } else { 4 };
    i += 1;
    while let Some(&mark) = c.get(i).filter(|m| matches!(m, '\'' | ',')) {
        octave += if mark == '\'' { 1 } else { -1 };
        i += 1;
    }
    let alter = match accidental {
        Some(a) => {
            voice.bar.retain(|(k, _)| *k != (index, octave));
            voice.bar.push(((index, octave), a));
            a
        }
        None => voice.bar.iter().find(|(k, _)| *k == (index, octave)).map_or(voice.signature[index], |&(_, a)| a),
    };
    let midi = 12 * (octave + 1) + [0, 2, 4, 5, 7, 9, 11][index] + alter as i32;
    let midi =
        u8::try_from(midi).ok().filter(|m| *m <= 127).ok_or_else(|| format!("`{letter}` is out of MIDI's range"))?;
    Ok((midi, i))
}

/// A sound of `beats`, after any tuplet and broken rhythm under way.
fn sound(voice: &mut Voice, pitches: Vec<u8>, beats: f64) {
    let mut beats = beats;
    if let Some((factor, left)) = voice.tuplet {
        beats *= factor;
        voice.tuplet = (left > 1).then_some((factor, left - 1));
    }
    if let Some(factor) = voice.broken.take() {
        beats *= factor;
    }
    if !voice.skipping {
        voice.events.push(Event::Sound { pitches, beats, tie: false });
    }
}

/// The events played out: each repeat twice, a first ending the first time and a second
/// the second.
pub fn unfold(events: &[Event]) -> Vec<Event> {
    let mut out = Vec::new();
    let (mut start, mut pass, mut skipping, mut jumps, mut i) = (0, 1, false, 0, 0);
    while i < events.len() {
        let event = &events[i];
        match *event {
            Event::Ending(n) => skipping = pass == 2 && n == 1,
            Event::Bar { repeat_end: true, .. } if !skipping && pass == 1 && jumps < MAX_JUMPS => {
                out.push(event.clone());
                (pass, jumps, i) = (2, jumps + 1, start);
                continue;
            }
            Event::Bar { repeat_end, repeat_start, section_end } => {
                if repeat_end || repeat_start || section_end {
                    skipping = false;
                }
                if repeat_end {
                    (pass, start) = (1, i + 1);
                }
                if repeat_start {
                    (pass, start) = (1, i + 1);
                }
            }
            _ => {}
        }
        if !skipping {
            out.push(event.clone());
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(repeat_end: bool, repeat_start: bool) -> Event {
        Event::Bar { repeat_end, repeat_start, section_end: false }
    }

    fn note(p: u8) -> Event {
        Event::Sound { pitches: vec![p], beats: 1.0, tie: false }
    }

    fn played(events: &[Event]) -> Vec<u8> {
        unfold(events)
            .iter()
            .filter_map(|e| match e {
                Event::Sound { pitches, .. } => pitches.first().copied(),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn repeats_and_endings_are_played_out() {
        // A |: B [1 C :| [2 D | E
        let events = [
            note(1),
            bar(false, true),
            note(2),
            Event::Ending(1),
            note(3),
            bar(true, false),
            Event::Ending(2),
            note(4),
            bar(false, false),
            note(5),
        ];
        assert_eq!(played(&events), [1, 2, 3, 2, 4, 5]);
        // With no |:, a repeat goes back to the start; :: ends one and starts the next.
        let events = [note(1), bar(true, true), note(2), bar(true, false), note(3)];
        assert_eq!(played(&events), [1, 1, 2, 2, 3]);
    }

    #[test]
    fn lengths_and_pitches() {
        let c: Vec<char> = "3/2".chars().collect();
        assert_eq!(length(&c, 0).unwrap(), (1.5, 3));
        let c: Vec<char> = "//".chars().collect();
        assert_eq!(length(&c, 0).unwrap(), (0.25, 2));
        let mut voice = Voice::default();
        let c: Vec<char> = "^^c'".chars().collect();
        assert_eq!(pitch(&c, 0, &mut voice).unwrap(), (86, 4));
        let c: Vec<char> = "C,,,,,,".chars().collect();
        assert!(pitch(&c, 0, &mut voice).is_err(), "below MIDI's range");
        // Found by fuzzing: a run of accidentals overflowed.
        let c: Vec<char> = format!("{}C", "_".repeat(200)).chars().collect();
        assert!(pitch(&c, 0, &mut voice).is_err());
    }
}
