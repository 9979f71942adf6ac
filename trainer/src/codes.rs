//! Input codes: what the trainer feeds its network at each step, in one `u32`: the token id
//! (bits 0–15) and, where the step's metre is known, its two metre rows
//! ([`continuo_core::metre`]): the position row plus one (bits 16–24) and the bar-group row
//! past the position rows plus one (bits 25–28); 0 in both is "not given". So songs, streams
//! and windows carry the metre without a second array. Targets are plain token ids. A
//! metre-aware network adds the rows' embeddings (unknown ones when not given) to the
//! token's; any other network reads the token alone.

use continuo_core::metre::{POSITION_ROWS, UNKNOWN};

const TOKEN_BITS: u32 = 0xffff;

/// The code of token `id` at a step with metre rows `rows`.
pub fn code(id: u32, rows: Option<[u32; 2]>) -> u32 {
    debug_assert!(id <= TOKEN_BITS, "token ids fit in 16 bits");
    match rows {
        None => id,
        Some([position, group]) => {
            let group = group - POSITION_ROWS as u32;
            id | (position + 1) << 16 | (group + 1) << 25
        }
    }
}

/// The token id of a code.
pub fn token(code: u32) -> u32 {
    code & TOKEN_BITS
}

/// The metre rows of a code (unknown when not given).
pub fn rows(code: u32) -> [u32; 2] {
    let (position, group) = ((code >> 16) & 0x1ff, (code >> 25) & 0xf);
    if position == 0 || group == 0 {
        return UNKNOWN;
    }
    [position - 1, POSITION_ROWS as u32 + group - 1]
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
}
