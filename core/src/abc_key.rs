//! An ABC `K:` field, for [`crate::abc_music`]: the key's tonic and mode (the seven modes by
//! their first three letters, `m` for minor, `HP` for the Highland pipes, `none`), and the
//! accidental each letter takes in its signature, explicit accidentals (`^f _b`) included.
//! Plain functions, any thread.

use crate::key::{Key, Mode};

/// A `K:` field's key: its tonic and mode, and the accidental of each letter (C..B) it puts
/// in the key signature (explicit accidentals after the mode, `^f _b`, change them).
pub fn key_field(value: &str) -> Result<(Option<Key>, [i8; 7]), String> {
    let mut words = value.split_whitespace();
    let Some(first) = words.next() else { return Ok((None, [0; 7])) };
    let lower = first.to_ascii_lowercase();
    if lower == "none" || lower.starts_with("clef=") {
        return Ok((None, [0; 7]));
    }
    if lower == "hp" {
        // Highland pipes: written without a signature, played in A mixolydian.
        return Ok((Some(Key { tonic: 9, mode: Mode::Major }), [0; 7]));
    }
    let mut chars = first.chars();
    let letter = chars.next().filter(|c| ('A'..='G').contains(c)).ok_or_else(|| format!("`K:{value}` names no key"))?;
    let rest: String = chars.collect();
    let (shift, mode_text) = match rest.chars().next() {
        Some('#') => (1, rest[1..].to_string()),
        Some('b') => (-1, rest[1..].to_string()),
        _ => (0, rest.clone()),
    };
    // The mode follows the tonic, joined or as the next word (`clef=bass` and explicit
    // accidentals are not modes).
    let next = words.clone().next().filter(|w| !w.starts_with(['^', '_', '=']) && !w.contains('='));
    let mode_word = if mode_text.is_empty() { next.unwrap_or("") } else { &mode_text };
    let (offset, mode) = mode_of(mode_word).ok_or_else(|| format!("`K:{value}`: `{mode_word}` is not a mode"))?;
    let letter_index = "CDEFGAB".find(letter).expect("a letter of C..B");
    let fifths = [0, 2, 4, -1, 1, 3, 5][letter_index] + 7 * shift + offset;
    let mut signature = signature_of(fifths);
    for word in value.split_whitespace().skip(1) {
        explicit_accidental(word, &mut signature);
    }
    let tonic = (([0, 2, 4, 5, 7, 9, 11][letter_index] + shift + 12) % 12) as u8;
    Ok((Some(Key { tonic, mode }), signature))
}

/// A mode's name (its first three letters, any case; none is major): its fifths from the
/// major key on the same tonic, and major or minor.
fn mode_of(word: &str) -> Option<(i32, Mode)> {
    let w = word.to_ascii_lowercase();
    let w = w.get(..3.min(w.len())).unwrap_or("");
    Some(match w {
        "" | "maj" | "ion" => (0, Mode::Major),
        "m" | "min" | "aeo" => (-3, Mode::Minor),
        "mix" => (-1, Mode::Major),
        "dor" => (-2, Mode::Minor),
        "phr" => (-4, Mode::Minor),
        "loc" => (-5, Mode::Minor),
        "lyd" => (1, Mode::Major),
        _ => return None,
    })
}

/// The accidental of each letter C..B in a key signature of `fifths` (sharps positive).
fn signature_of(fifths: i32) -> [i8; 7] {
    let mut signature = [0i8; 7];
    let sharps = "FCGDAEB";
    let flats = "BEADGCF";
    let (order, sign) = if fifths >= 0 { (sharps, 1) } else { (flats, -1) };
    for letter in order.chars().take(fifths.unsigned_abs().min(7) as usize) {
        signature["CDEFGAB".find(letter).expect("a letter")] = sign;
    }
    signature
}

/// `^f`, `_b`, `=c` after a key's mode: that letter's accidental in the signature.
fn explicit_accidental(word: &str, signature: &mut [i8; 7]) {
    let alter = match word.chars().next() {
        Some('^') => 1,
        Some('_') => -1,
        Some('=') => 0,
        _ => return,
    };
    let letter = word.chars().last().map(|c| c.to_ascii_uppercase());
    if let Some(i) = letter.and_then(|l| "CDEFGAB".find(l)) {
        signature[i] = alter;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_modes_give_their_signatures() {
        let (key, sig) = key_field("G").unwrap();
        assert_eq!(key, Some(Key { tonic: 7, mode: Mode::Major }));
        assert_eq!(sig, [0, 0, 0, 1, 0, 0, 0]);
        let (key, sig) = key_field("Ador").unwrap();
        assert_eq!((key.unwrap().tonic, sig), (9, [0, 0, 0, 1, 0, 0, 0]), "A dorian: F#");
        assert_eq!(key_field("Bb").unwrap().1, [0, 0, -1, 0, 0, 0, -1]);
        assert_eq!(key_field("E minor").unwrap().0, Some(Key { tonic: 4, mode: Mode::Minor }));
        assert_eq!(key_field("D mix").unwrap().1, [0, 0, 0, 1, 0, 0, 0], "D mixolydian: F# only");
        assert_eq!(key_field("C ^f").unwrap().1, [0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(key_field("G clef=bass").unwrap().0, Some(Key { tonic: 7, mode: Mode::Major }));
        assert!(key_field("H").is_err() && key_field("G wobbly").is_err());
    }
}
