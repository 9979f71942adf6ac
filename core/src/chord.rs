//! Chords: what the player's harmony is. A chord is its pitch classes (the notes that sound,
//! or a name's template), with a root, a quality and a bass for the musician to read; its
//! scale is the key's scale bent to fit its tones. Named (`Am7`, `F#dim`, `C/E`, and roman
//! numerals in a key), or recognised from held pitches. Plain data, any thread; nothing here
//! allocates but parsing.

use crate::key::Key;
use crate::note::letter_pitch_class;
use std::fmt;
use std::str::FromStr;

/// A set of pitch classes: bit `c` is pitch class `c` (0 = C … 11 = B).
pub type ClassMask = u16;

/// The kinds of chord, each with its intervals above the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quality {
    Major,
    Minor,
    Diminished,
    Augmented,
    Sus2,
    Sus4,
    Dominant7,
    Major7,
    Minor7,
    HalfDiminished7,
    Diminished7,
    /// A root and its fifth.
    Power,
}

impl Quality {
    /// Simplest first: recognition prefers the earlier of two that fit as well.
    pub const ALL: [Quality; 12] = [
        Quality::Major,
        Quality::Minor,
        Quality::Power,
        Quality::Dominant7,
        Quality::Minor7,
        Quality::Major7,
        Quality::Diminished,
        Quality::Augmented,
        Quality::Sus4,
        Quality::Sus2,
        Quality::HalfDiminished7,
        Quality::Diminished7,
    ];

    /// Semitones above the root.
    pub fn intervals(self) -> &'static [u8] {
        match self {
            Quality::Major => &[0, 4, 7],
            Quality::Minor => &[0, 3, 7],
            Quality::Diminished => &[0, 3, 6],
            Quality::Augmented => &[0, 4, 8],
            Quality::Sus2 => &[0, 2, 7],
            Quality::Sus4 => &[0, 5, 7],
            Quality::Dominant7 => &[0, 4, 7, 10],
            Quality::Major7 => &[0, 4, 7, 11],
            Quality::Minor7 => &[0, 3, 7, 10],
            Quality::HalfDiminished7 => &[0, 3, 6, 10],
            Quality::Diminished7 => &[0, 3, 6, 9],
            Quality::Power => &[0, 7],
        }
    }

    /// The suffix after the root's name: `""`, `m`, `dim`, `7`, `maj7`, …
    pub fn suffix(self) -> &'static str {
        match self {
            Quality::Major => "",
            Quality::Minor => "m",
            Quality::Diminished => "dim",
            Quality::Augmented => "aug",
            Quality::Sus2 => "sus2",
            Quality::Sus4 => "sus4",
            Quality::Dominant7 => "7",
            Quality::Major7 => "maj7",
            Quality::Minor7 => "m7",
            Quality::HalfDiminished7 => "m7b5",
            Quality::Diminished7 => "dim7",
            Quality::Power => "5",
        }
    }

    /// The scale a chord of this quality implies without a key, as intervals above its root
    /// (the mode a jazz player would take for it).
    fn own_scale(self) -> &'static [u8] {
        match self {
            Quality::Major | Quality::Major7 | Quality::Power | Quality::Sus2 => &[0, 2, 4, 5, 7, 9, 11],
            Quality::Dominant7 | Quality::Sus4 => &[0, 2, 4, 5, 7, 9, 10],
            Quality::Minor | Quality::Minor7 => &[0, 2, 3, 5, 7, 9, 10],
            Quality::Diminished | Quality::HalfDiminished7 => &[0, 1, 3, 5, 6, 8, 10],
            Quality::Diminished7 => &[0, 2, 3, 5, 6, 8, 9, 11],
            Quality::Augmented => &[0, 2, 4, 6, 8, 10],
        }
    }

    fn mask(self, root: u8) -> ClassMask {
        mask_of(self.intervals().iter().map(|i| (root + i) % 12))
    }
}

/// A chord: the pitch classes that sound, and how a musician would name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Chord {
    pub root: u8,
    pub quality: Quality,
    /// The lowest pitch class (the root, unless inverted).
    pub bass: u8,
    /// Its tones: a name's template, or the classes that were held.
    pub tones: ClassMask,
}

const NAMES: [&str; 12] = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];

/// The mask of some pitch classes (taken mod 12).
pub fn mask_of(classes: impl IntoIterator<Item = u8>) -> ClassMask {
    classes.into_iter().fold(0, |m, c| m | 1 << (c % 12))
}

/// `mask` moved by `semitones`.
pub fn transposed_mask(mask: ClassMask, semitones: i32) -> ClassMask {
    let s = semitones.rem_euclid(12) as u32;
    let twice = (mask as u32 & 0xfff) << s;
    ((twice | twice >> 12) & 0xfff) as ClassMask
}

/// Whether pitch class (or pitch) `c` is in `mask`.
pub fn contains(mask: ClassMask, c: u8) -> bool {
    mask & (1 << (c % 12)) != 0
}

impl Chord {
    /// The chord of a root and a quality, in root position.
    pub fn new(root: u8, quality: Quality) -> Chord {
        let root = root % 12;
        Chord { root, quality, bass: root, tones: quality.mask(root) }
    }

    /// The chord that held `pitches` (MIDI numbers, any order) make: the root and quality
    /// whose template best covers them (the bass breaks ties); its tones are the classes
    /// held. `None` for no pitch. One class alone is a major chord's root, a power chord
    /// of two a fifth apart.
    pub fn recognise(pitches: impl IntoIterator<Item = u8>) -> Option<Chord> {
        let (mut held, mut lowest) = (0u16, u8::MAX);
        for p in pitches {
            held |= 1 << (p % 12);
            lowest = lowest.min(p);
        }
        if held == 0 {
            return None;
        }
        let bass = lowest % 12;
        if held.count_ones() == 1 {
            return Some(Chord { tones: held, ..Chord::new(bass, Quality::Major) });
        }
        let score = |root: u8, q: Quality| {
            let template = q.mask(root);
            let (hit, missing, extra) =
                ((held & template).count_ones(), (template & !held).count_ones(), (held & !template).count_ones());
            3 * hit as i32 - 2 * missing as i32 - 3 * extra as i32 + i32::from(root == bass)
        };
        let mut best = (i32::MIN, Chord::new(bass, Quality::Major));
        for q in Quality::ALL {
            for root in (0..12).map(|k| (bass + k) % 12) {
                let s = score(root, q);
                if s > best.0 {
                    best = (s, Chord::new(root, q));
                }
            }
        }
        Some(Chord { bass, tones: held, ..best.1 })
    }

    /// The chord on `degree` (1..=7) of `key`, of the key's own notes (triads; sevenths with
    /// `seventh`), as roman numerals name them.
    pub fn on_degree(key: Key, degree: u8, seventh: bool) -> Chord {
        let scale = key.scale();
        let at = |k: usize| scale[(degree as usize - 1 + k) % 7];
        let (root, third, fifth, top) = (at(0), at(2), at(4), at(6));
        let up = |c: u8| (c + 12 - root) % 12;
        let quality = match (up(third), up(fifth), seventh.then(|| up(top))) {
            (4, 7, None) => Quality::Major,
            (3, 7, None) => Quality::Minor,
            (3, 6, None) => Quality::Diminished,
            (4, 8, None) => Quality::Augmented,
            (4, 7, Some(10)) => Quality::Dominant7,
            (4, 7, Some(_)) => Quality::Major7,
            (3, 7, Some(_)) => Quality::Minor7,
            (3, 6, Some(9)) => Quality::Diminished7,
            _ => Quality::HalfDiminished7,
        };
        Chord::new(root, quality)
    }

    /// The chord moved by `semitones`.
    pub fn transposed(self, semitones: i32) -> Chord {
        let t = |c: u8| (c as i32 + semitones).rem_euclid(12) as u8;
        Chord { root: t(self.root), bass: t(self.bass), tones: transposed_mask(self.tones, semitones), ..self }
    }

    /// The scale that fits this chord: the key's scale (natural minor in minor keys), each
    /// chord tone that is not in it taking the place of a neighbour a semitone away, the one
    /// that keeps the scale's steps smallest, never the tonic (E major in A minor: G# for
    /// G, A harmonic minor; D major in C: F# for F). Without a key, the chord's own mode.
    pub fn scale(self, key: Option<Key>) -> ClassMask {
        let Some(key) = key else {
            return mask_of(self.quality.own_scale().iter().map(|i| self.root + i)) | self.tones;
        };
        let in_key = mask_of(key.scale());
        let mut scale = in_key;
        for c in (0..12).filter(|&c| contains(self.tones, c) && !contains(in_key, c)) {
            scale |= 1 << c;
            let replaced = [(c + 1) % 12, (c + 11) % 12]
                .into_iter()
                .filter(|&n| contains(scale, n) && !contains(self.tones, n) && n != key.tonic)
                .min_by_key(|&n| widest_step(scale & !(1 << n)));
            if let Some(n) = replaced {
                scale &= !(1 << n);
            }
        }
        scale
    }
}

/// The widest step, in semitones, between neighbouring classes of a scale (12 for one class).
fn widest_step(scale: ClassMask) -> u8 {
    let classes: Vec<u8> = (0..12).filter(|&c| contains(scale, c)).collect();
    let wrap = classes.first().map_or(12, |&first| first + 12);
    classes.windows(2).map(|w| w[1] - w[0]).chain(classes.last().map(|&last| wrap - last)).max().unwrap_or(12)
}

impl fmt::Display for Chord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", NAMES[self.root as usize], self.quality.suffix())?;
        if self.bass != self.root {
            write!(f, "/{}", NAMES[self.bass as usize])?;
        }
        Ok(())
    }
}

/// A note name's pitch class: a letter, then `#` or `b` signs.
fn parse_class(name: &str) -> Option<u8> {
    let mut chars = name.chars();
    let mut pc = letter_pitch_class(chars.next()?.to_ascii_lowercase())? as i32;
    for c in chars {
        pc += match c {
            '#' => 1,
            'b' => -1,
            _ => return None,
        };
    }
    Some(pc.rem_euclid(12) as u8)
}

impl FromStr for Chord {
    type Err = String;
    /// `C`, `Am`, `F#m7`, `Bbmaj7`, `G7`, `Bdim`, `Caug`, `Dsus4`, `E5`, `C/E`, `Am7b5`.
    fn from_str(s: &str) -> Result<Chord, String> {
        let bad = || format!("`{s}` is not a chord (expected e.g. `C`, `Am`, `F#m7`, `Bbmaj7`, `G7`, `Bdim`, `C/E`)");
        let (name, bass) = match s.trim().split_once('/') {
            Some((name, bass)) => (name, Some(parse_class(bass).ok_or_else(bad)?)),
            None => (s.trim(), None),
        };
        let letter_len =
            name.chars().take(1).count() + name.chars().skip(1).take_while(|&c| c == '#' || c == 'b').count();
        let (root_name, suffix) = name.split_at(letter_len.min(name.len()));
        let root = parse_class(root_name).ok_or_else(bad)?;
        let quality = Quality::ALL.into_iter().find(|q| q.suffix() == suffix).or(match suffix {
            "M" | "maj" => Some(Quality::Major),
            "min" => Some(Quality::Minor),
            "M7" => Some(Quality::Major7),
            "min7" => Some(Quality::Minor7),
            "o" => Some(Quality::Diminished),
            "+" => Some(Quality::Augmented),
            _ => None,
        });
        let chord = Chord::new(root, quality.ok_or_else(bad)?);
        Ok(match bass {
            Some(b) => Chord { bass: b, tones: chord.tones | 1 << b, ..chord },
            None => chord,
        })
    }
}

/// Roman numerals (`I`, `vi`, `IV`, `V7`, `ii`, `viio`) as chords of `key`: the degree's
/// chord of the key's own notes (a seventh with `7`).
pub fn parse_roman(numeral: &str, key: Key) -> Result<Chord, String> {
    let bad = || format!("`{numeral}` is not a roman numeral (expected e.g. `I`, `vi`, `V7`)");
    let seventh = numeral.ends_with('7');
    let body = numeral.trim_end_matches('7').trim_end_matches(['o', '°']);
    let degree =
        ["i", "ii", "iii", "iv", "v", "vi", "vii"].iter().position(|r| body.eq_ignore_ascii_case(r)).ok_or_else(bad)?;
    Ok(Chord::on_degree(key, degree as u8 + 1, seventh))
}

/// A progression: one chord per bar, played again from its first when it runs out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Progression(pub Vec<Chord>);

impl Progression {
    /// The chord of bar `bar` (from 0), if there are any.
    pub fn at_bar(&self, bar: usize) -> Option<Chord> {
        (!self.0.is_empty()).then(|| self.0[bar % self.0.len()])
    }
}

impl FromStr for Progression {
    type Err = String;
    /// Chord names separated by spaces, commas or bar lines: `C Am F G`, `Dm7 | G7 | Cmaj7`.
    fn from_str(s: &str) -> Result<Progression, String> {
        let chords: Vec<Chord> = s
            .split(|c: char| c.is_whitespace() || c == ',' || c == '|')
            .filter(|t| !t.is_empty())
            .map(str::parse)
            .collect::<Result<_, _>>()?;
        if chords.is_empty() {
            return Err(format!("`{s}` names no chord (expected e.g. `C Am F G`)"));
        }
        Ok(Progression(chords))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Mode;

    fn chord(s: &str) -> Chord {
        s.parse().unwrap()
    }

    #[test]
    fn names_parse_and_print_back() {
        for name in ["C", "Am", "F#m7", "Bbmaj7", "G7", "Bdim", "Caug", "Dsus4", "E5", "C/E", "Am7b5", "Bdim7"] {
            assert_eq!(chord(name).to_string(), name);
        }
        assert_eq!(chord("Am").tones, mask_of([9, 0, 4]));
        assert_eq!(chord("C/E").bass, 4);
        assert!("H7".parse::<Chord>().is_err() && "Cxyz".parse::<Chord>().is_err() && "".parse::<Chord>().is_err());
        assert_eq!("C Am | F, G".parse::<Progression>().unwrap().0.len(), 4);
        assert!("  ".parse::<Progression>().is_err());
    }

    #[test]
    fn held_pitches_are_recognised_with_their_bass() {
        let named = |pitches: &[u8]| Chord::recognise(pitches.iter().copied()).unwrap().to_string();
        assert_eq!(named(&[48, 52, 55]), "C");
        assert_eq!(named(&[52, 55, 60]), "C/E");
        assert_eq!(named(&[45, 52, 60]), "Am");
        assert_eq!(named(&[43, 47, 50, 53]), "G7");
        assert_eq!(named(&[50, 53, 57, 60]), "Dm7");
        assert_eq!(named(&[47, 50, 53]), "Bdim");
        assert_eq!(named(&[48, 55]), "C5");
        assert_eq!(named(&[48]), "C");
        assert_eq!(Chord::recognise([]), None);
        // The tones are what was held, not the template.
        assert_eq!(Chord::recognise([48, 55]).unwrap().tones, mask_of([0, 7]));
    }

    #[test]
    fn roman_numerals_are_the_keys_own_chords() {
        let c = Key::C_MAJOR;
        let names: Vec<String> = ["I", "ii", "iii", "IV", "V", "vi", "viio", "V7", "ii7"]
            .iter()
            .map(|r| parse_roman(r, c).unwrap().to_string())
            .collect();
        assert_eq!(names, ["C", "Dm", "Em", "F", "G", "Am", "Bdim", "G7", "Dm7"]);
        assert_eq!(parse_roman("V", Key::new(7, Mode::Major)).unwrap().to_string(), "D");
        assert!(parse_roman("VIII", c).is_err());
    }

    #[test]
    fn the_scale_bends_the_key_to_the_chord() {
        let a_minor = Some(Key::A_MINOR);
        // E major in A minor: G# takes G's place (A harmonic minor).
        assert_eq!(chord("E").scale(a_minor), mask_of([9, 11, 0, 2, 4, 5, 8]));
        // A diatonic chord keeps the key's scale.
        assert_eq!(chord("F").scale(Some(Key::C_MAJOR)), mask_of([0, 2, 4, 5, 7, 9, 11]));
        // D major in C: F# for F.
        assert_eq!(chord("D").scale(Some(Key::C_MAJOR)), mask_of([0, 2, 4, 6, 7, 9, 11]));
        // Without a key, the chord's own mode: G7 is G mixolydian.
        assert_eq!(chord("G7").scale(None), mask_of([7, 9, 11, 0, 2, 4, 5]));
        assert_eq!(chord("Am").transposed(3), chord("Cm"));
    }
}
