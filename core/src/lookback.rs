//! Lookback inputs, as Magenta's Lookback RNN gives its melody RNN: beside each token, a
//! lookback model (its card names the input `lookback`) gets four more rows of its embedding
//! table, after the vocabulary's and the metre's ([`crate::metre`]):
//! - the token four bars before the step it predicts, and the token eight bars before it
//!   (what a repeat of the phrase, or of the strain, would play next);
//! - whether the token it is fed repeats the one four bars before it, and eight bars before
//!   it (whether the music is repeating now).
//!
//! Magenta looks one and two bars back. Folk tunes repeat their phrases four bars on and
//! their strains eight bars on, and there the distances count: trained by the `melody`
//! recipe on Essen and O'Neill's, one and two bars back took the best validation NLL from
//! 0.7057 (no lookback) to 0.7030, four and eight bars back to 0.5740 (`models/README.md`).
//!
//! A bar is as long as the fed token's metre row says ([`crate::metre::BAR_KINDS`]: another
//! bar length counts as the nearest kind); where the metre is unknown, or a look back
//! reaches before the piece's start (its last `/`), the rows say "none". So a lookback is a
//! function of the tokens and metre rows fed since the piece began, computed the same way
//! by the trainer (over a song's codes) and by the model at inference (over what it was
//! fed), and nothing else has to carry it.
//!
//! Plain data, no allocation: a ring of the last [`REACH`] tokens. Used by the trainer and
//! by [`crate::inference`] (the plugin's inference worker).

use crate::metre::{BAR_KINDS, POSITIONS};

/// Lookback rows a step reads.
pub const INPUTS: usize = 4;
/// How many bars back the two lookbacks look: a phrase, a strain.
pub const BARS: [usize; 2] = [4, 8];
/// The furthest a lookback reaches (steps): the further lookback in the longest bars.
pub const REACH: usize = BARS[1] * BAR_KINDS[BAR_KINDS.len() - 1];

/// Rows of a lookback model's table for a vocabulary of `vocab` ids: a token or "none" for
/// each of the two lookbacks, then their two repeat flags (no, yes).
pub fn rows(vocab: usize) -> usize {
    2 * (vocab + 1) + 4
}

/// The bar length (steps) that a metre position row stands for; `None` for "unknown".
pub fn bar_steps_of(position_row: u32) -> Option<usize> {
    let kind = (position_row as usize).checked_sub(1)? / POSITIONS;
    BAR_KINDS.get(kind).copied()
}

/// What was fed since the piece began: the last [`REACH`] + 1 token ids.
#[derive(Debug, Clone)]
pub struct Lookback {
    ring: [u32; REACH + 1],
    /// Tokens fed since the last `/` (the `/` not counted), and the ring's next slot.
    fed: usize,
    next: usize,
    song_end: u32,
}

impl Lookback {
    /// For a vocabulary whose `/` has id `song_end`.
    pub fn new(song_end: u32) -> Lookback {
        Lookback { ring: [0; REACH + 1], fed: 0, next: 0, song_end }
    }

    /// Forget everything fed.
    pub fn reset(&mut self) {
        self.fed = 0;
    }

    /// Take the next fed token; `/` begins a new piece.
    pub fn push(&mut self, id: u32) {
        if id == self.song_end {
            self.fed = 0;
            return;
        }
        self.ring[self.next] = id;
        self.next = (self.next + 1) % self.ring.len();
        self.fed += 1;
    }

    /// The token fed `k` steps before the last one (0: the last), if the piece has one.
    fn back(&self, k: usize) -> Option<u32> {
        (k < self.fed && k < self.ring.len())
            .then(|| self.ring[(self.next + self.ring.len() - 1 - k) % self.ring.len()])
    }

    /// The lookback rows (counted from the first lookback row) of the last token pushed, in
    /// a bar of `bar_steps` (`None`: unknown), for a vocabulary of `vocab` ids.
    pub fn rows(&self, bar_steps: Option<usize>, vocab: usize) -> [u32; INPUTS] {
        let none = vocab as u32;
        let flags = 2 * (none + 1);
        let Some(bar) = bar_steps.filter(|&b| b > 0 && self.fed > 0) else {
            return [none, none + 1 + none, flags, flags + 2];
        };
        let ahead = |bars: usize| self.back(bars * bar - 1).unwrap_or(none);
        let repeats = |bars: usize| (self.back(bars * bar) == self.back(0)) as u32;
        let [near, far] = BARS;
        [ahead(near), none + 1 + ahead(far), flags + repeats(near), flags + 2 + repeats(far)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookback_sees_the_tokens_a_phrase_and_a_strain_before_the_next_and_whether_the_music_repeats() {
        // Bars of 2 steps: the lookbacks reach 8 and 16 steps back. A vocabulary of 10 ids,
        // `/` is 0; "none" is 10, the rows of the far lookback start at 11, the flags at 22.
        let mut l = Lookback::new(0);
        assert_eq!(l.rows(Some(2), 10), [10, 21, 22, 24], "nothing fed: none, no repeats");
        let tune: Vec<u32> = (0..40).map(|k| 1 + (k % 8) as u32 + (k >= 24 && k % 8 == 0) as u32).collect();
        let [near, far] = BARS.map(|bars| 2 * bars);
        for (k, &id) in tune.iter().enumerate() {
            l.push(id);
            let r = l.rows(Some(2), 10);
            // The step after token k is k + 1: a lookback of d steps sees tune[k + 1 − d].
            let ahead = |d: usize| (k + 1).checked_sub(d).map_or(10, |i| tune[i]);
            let repeats = |d: usize| k.checked_sub(d).is_some_and(|i| tune[i] == id) as u32;
            assert_eq!(r, [ahead(near), 11 + ahead(far), 22 + repeats(near), 24 + repeats(far)], "after token {k}");
        }
        assert!(tune.iter().enumerate().any(|(k, &id)| k >= 16 && tune[k - 8] == id), "the tune repeats");
        // Unknown metre, and a new piece after `/`: none.
        assert_eq!(l.rows(None, 10), [10, 21, 22, 24]);
        l.push(0);
        l.push(7);
        assert_eq!(l.rows(Some(2), 10), [10, 21, 22, 24]);
    }

    #[test]
    fn a_position_row_names_its_bar_length() {
        let m = crate::metre::Metre { bar_steps: 12, downbeat: 0 };
        assert_eq!(bar_steps_of(m.rows(5)[0]), Some(12));
        assert_eq!(bar_steps_of(crate::metre::UNKNOWN[0]), None);
        let odd = crate::metre::Metre { bar_steps: 20, downbeat: 0 };
        assert_eq!(bar_steps_of(odd.rows(3)[0]), Some(16), "5/4 counts as the nearest kind");
    }

    #[test]
    fn the_ring_reaches_the_far_lookback_in_the_longest_bars() {
        let mut l = Lookback::new(0);
        let reach = REACH as u32;
        for i in 0..3 * reach {
            l.push(1 + i % reach);
        }
        // A pattern as long as the far lookback in bars of 32 steps: the token that far
        // before the next step is the next one, and the last one repeats.
        let r = l.rows(Some(32), 1000);
        assert_eq!(r[1] - 1001, 1 + (3 * reach) % reach);
        assert_eq!(r[3], 2 * 1001 + 2 + 1, "repeats a strain back");
    }
}
