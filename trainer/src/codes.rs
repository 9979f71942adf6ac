//! Input codes: what the trainer feeds its network at each step, in one [`Code`]: the token
//! id (bits 0–15); where the step's metre is known, its two metre rows
//! ([`continuo_core::metre`]): the position row plus one (bits 16–24) and the bar-group row
//! past the position rows plus one (bits 25–28), 0 in both being "not given"; and its
//! lookback ([`continuo_core::lookback`]): the tokens four and eight bars before the next step,
//! each plus one (bits 29–44 and 45–60, 0: none), and the two repeat flags (bits 61, 62);
//! and its harmony ([`continuo_core::accompaniment`]): the pitch classes under the melody at
//! the step it predicts (bits 64–75, none: no chord known).
//! So songs, streams and windows carry the metre, the lookback and the harmony without a
//! second array.
//! Targets are plain token ids. A metre-aware network adds the metre rows' embeddings
//! (unknown ones when not given) to the token's, a lookback network the lookback rows'
//! too, a harmony network the harmony rows; any other network reads the token alone.

use continuo_core::chord::ClassMask;
use continuo_core::lookback::{self, Lookback};
use continuo_core::metre::{POSITION_ROWS, UNKNOWN};

/// A step's input code.
pub type Code = u128;

const HARMONY_SHIFT: u32 = 64;

const TOKEN_BITS: Code = 0xffff;

/// The code of token `id` at a step with metre rows `rows`.
pub fn code(id: u32, rows: Option<[u32; 2]>) -> Code {
    debug_assert!(id as Code <= TOKEN_BITS, "token ids fit in 16 bits");
    let id = id as Code;
    match rows {
        None => id,
        Some([position, group]) => {
            let group = (group - POSITION_ROWS as u32) as Code;
            id | (position as Code + 1) << 16 | (group + 1) << 25
        }
    }
}

/// The token id of a code.
pub fn token(code: Code) -> u32 {
    (code & TOKEN_BITS) as u32
}

/// The metre rows of a code (unknown when not given).
pub fn rows(code: Code) -> [u32; 2] {
    let (position, group) = ((code >> 16) & 0x1ff, (code >> 25) & 0xf);
    if position == 0 || group == 0 {
        return UNKNOWN;
    }
    [position as u32 - 1, POSITION_ROWS as u32 + group as u32 - 1]
}

/// A song's codes (token ids and, where known, each one's metre rows: `None` for a step
/// without) with their lookback, as [`Lookback`] works it out over what is fed: the song's
/// `/` before them begins the piece.
pub fn with_lookback(ids: &[u32], metre: impl Fn(usize) -> Option<[u32; 2]>, song_end: u32) -> Vec<Code> {
    let mut seen = Lookback::new(song_end);
    // Token ids are below 2^16, so `vocab` here only marks "none" (0 in a code).
    let none = TOKEN_BITS as usize;
    ids.iter()
        .enumerate()
        .map(|(k, &id)| {
            let rows = metre(k);
            seen.push(id);
            let bar = rows.and_then(|[position, _]| lookback::bar_steps_of(position));
            let [one, two, again, again_two] = seen.rows(bar, none).map(|r| r as Code);
            let plus_one = |r: Code| if r == none as Code { 0 } else { r + 1 };
            let (flags, two) = (2 * (none as Code + 1), two - (none as Code + 1));
            code(id, rows)
                | plus_one(one) << 29
                | plus_one(two) << 45
                | (again - flags) << 61
                | (again_two - flags - 2) << 62
        })
        .collect()
}

/// Codes of a song (its tokens', in order) with the harmony under each token:
/// `harmony[k]` sounds under token `k`, so code `k`, which predicts token `k + 1`, gets
/// `harmony[k + 1]` (the last code none). `keep(k)` says whether the network is shown the
/// harmony under token `k`.
pub fn with_harmony(codes: &mut [Code], harmony: &[ClassMask], keep: impl Fn(usize) -> bool) {
    for (k, code) in codes.iter_mut().enumerate() {
        let mask = harmony.get(k + 1).copied().filter(|_| keep(k + 1)).unwrap_or(0);
        *code |= (mask as Code & 0xfff) << HARMONY_SHIFT;
    }
}

/// The harmony under the step a code predicts.
pub fn harmony(code: Code) -> ClassMask {
    (code >> HARMONY_SHIFT & 0xfff) as ClassMask
}

/// The code with no harmony known.
pub fn without_harmony(code: Code) -> Code {
    code & !((0xfff as Code) << HARMONY_SHIFT)
}

/// The lookback rows of a code, counted from the first lookback row of a network whose
/// vocabulary has `vocab` ids ([`lookback::rows`]).
pub fn lookback_rows(code: Code, vocab: usize) -> [u32; lookback::INPUTS] {
    let token = |bits: Code| if bits == 0 { vocab as u32 } else { bits as u32 - 1 };
    let (one, two) = (token((code >> 29) & 0xffff), token((code >> 45) & 0xffff));
    let flags = 2 * (vocab as u32 + 1);
    [one, vocab as u32 + 1 + two, flags + (code >> 61 & 1) as u32, flags + 2 + (code >> 62 & 1) as u32]
}

#[cfg(test)]
mod tests {
    use super::*;
    use continuo_core::metre::{Metre, METRE_ROWS};

    #[test]
    fn codes_carry_the_token_and_its_metre() {
        let m = Metre { bar_steps: 12, downbeat: 4 };
        for step in 0..100 {
            let c = code(47, Some(m.rows(step)));
            assert_eq!((token(c), rows(c)), (47, m.rows(step)));
        }
        assert_eq!((token(5), rows(5)), (5, UNKNOWN));
        let last = code(0xffff, Some([POSITION_ROWS as u32 - 1, METRE_ROWS as u32 - 1]));
        assert_eq!((token(last), rows(last)), (0xffff, [POSITION_ROWS as u32 - 1, METRE_ROWS as u32 - 1]));
    }

    #[test]
    fn codes_carry_the_lookback_that_the_model_works_out_at_inference() {
        // Bars of 8 steps (2/4 on a 16th grid); the last token, a song's `/`, has no metre.
        let m = Metre { bar_steps: 8, downbeat: 0 };
        let ids: Vec<u32> = (0..120).map(|k| 3 + (k % 8 == 0) as u32 * 7 + (k / 80) as u32).collect();
        let codes = with_lookback(&ids, |k| (k < 119).then(|| m.rows(k as i64)), 0);
        let mut seen = Lookback::new(0);
        for (k, (&c, &id)) in codes.iter().zip(&ids).enumerate() {
            seen.push(id);
            let bar = (k < 119).then_some(8);
            assert_eq!((token(c), lookback_rows(c, 20)), (id, seen.rows(bar, 20)), "step {k}");
        }
        assert!(codes.iter().any(|&c| lookback_rows(c, 20)[2] == 2 * 21 + 1), "some steps repeat");
        assert!(codes.iter().any(|&c| lookback_rows(c, 20)[1] != 21 + 20), "the far lookback sees a token");
    }

    #[test]
    fn codes_carry_the_harmony_under_the_step_they_predict() {
        let m = Metre { bar_steps: 8, downbeat: 0 };
        let ids = [3, 4, 5, 6, 0];
        let mut codes = with_lookback(&ids, |k| (k < 4).then(|| m.rows(k as i64)), 0);
        let plain = codes.clone();
        with_harmony(&mut codes, &[0b1, 0b10, 0b100, 0xfff, 0], |k| k != 2);
        let got: Vec<ClassMask> = codes.iter().map(|&c| harmony(c)).collect();
        assert_eq!(got, [0b10, 0, 0xfff, 0, 0], "shifted by one; step 2's hidden");
        for (c, p) in codes.iter().zip(&plain) {
            assert_eq!((token(*c), rows(*c), lookback_rows(*c, 20)), (token(*p), rows(*p), lookback_rows(*p, 20)));
        }
    }
}
