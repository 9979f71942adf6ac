//! The tokens of one Essen song, written out by hand from its score.
//!
//! `altdeu2/deut4181.krn`, "Bettelmoench" (Forster II, 1540): 4/2, F major (`*F:`), five
//! phrases, each opening on a half-note pickup. On the 16th grid a half note is 8 steps and
//! a whole note 16; normalised to C major (down 5 semitones) f → 60, g → 62, a → 64,
//! b- → 65, cc → 67, dd → 69, d → 57, e → 59.

mod common;

use continuo_core::kern::read_kern_file;
use continuo_core::song::{encode_score, song_key, KeySource};
use continuo_core::{EncodingKind, Grid, Key, Mode};

/// `60:8` is a 60 then 7 holds; `r:8` is 8 rests.
fn expand(score: &str) -> Vec<String> {
    let mut out = Vec::new();
    for item in score.split_whitespace().filter(|s| *s != "|") {
        let (token, steps) = item.split_once(':').unwrap();
        let steps: usize = steps.parse().unwrap();
        out.push(token.to_string());
        let fill = if token == "r" { "r" } else { "_" };
        out.extend(std::iter::repeat_n(fill.to_string(), steps - 1));
    }
    out
}

#[test]
fn deut4181_tokens_match_the_score() {
    let Some(dir) = common::data_dir("essen-kern") else { return };
    let score = read_kern_file(&dir.join("altdeu2/deut4181.krn")).unwrap();
    assert_eq!(score.title.as_deref(), Some("Bettelmoench"));
    assert_eq!(score.declared_key, Some(Key::new(5, Mode::Major)));
    assert_eq!((score.time_signatures[0].numerator, score.time_signatures[0].denominator), (4, 2));
    assert_eq!(score.bar_lines.len(), 20);
    assert_eq!(score.phrases.len(), 5);

    let (key, source) = song_key(&score).unwrap();
    assert_eq!((key, source), (Key::new(5, Mode::Major), KeySource::Declared));
    assert_eq!(key.shift_to_c_or_a(), -5);
    let tokens: Vec<String> =
        encode_score(&score, Grid::SIXTEENTH, EncodingKind::Melody, -5).iter().map(|t| t.to_string()).collect();

    let mut expected = expand(
        "60:8 \
         | 60:16 64:16 | 67:16 r:8 67:8 | 69:8 67:8 67:8 65:8 | 64:16 r:8 \
         64:8 | 64:8 64:8 64:8 64:8 | 65:16 64:8 64:8 | 64:8 62:8 62:8 60:8 | 62:16 r:8 \
         62:8 | 57:8 57:8 59:16 | 60:16 r:8 60:8 | 64:8 64:8 64:8 64:8 | 60:16 r:8 \
         60:8 | 65:8 65:8 65:8 65:8 | 65:16 64:8 62:8 | 64:8 62:8 62:8 60:8 | 62:16 r:8 \
         62:8 | 57:8 57:8 59:8 59:8 | 60:16 60:8 60:8 | 64:8 64:8 65:8 62:8 | 60:24",
    );
    expected.push("/".into());
    assert_eq!(tokens.len(), expected.len());
    assert_eq!(tokens, expected);
    // 20 bars of 4/2 (32 steps) less the final bar's missing half note, plus a half-note pickup.
    assert_eq!(tokens.len() - 1, 20 * 32 - 8 + 8);
}
