//! The harmony input: what a harmony model (its card names the input `harmony`) reads beside
//! each token, the pitch classes that sound under the melody at the step it predicts. They
//! are twelve rows of its embedding table, one per pitch class (class `c` absent: row `2c`,
//! present: row `2c + 1`), after the vocabulary's, the metre's and the lookback's.
//!
//! Prepared from polyphonic music (`trainer prepare --harmony`): under the top voice, every
//! other note that sounds (in the Bach chorales, the alto, tenor and bass under the soprano).
//! At inference, the chord the player holds or a chord track's ([`crate::chord`]). No chord
//! known is the empty set, which the trainer also shows the network (`crate::corpus` keeps
//! the masks; the trainer hides them in some songs), so that a harmony model plays alone too.
//!
//! Plain functions, any thread; nothing allocates but [`under_melody`].

use crate::chord::ClassMask;
use crate::grid::StepNote;

/// Harmony rows a step reads: one per pitch class.
pub const INPUTS: usize = 12;
/// Rows of a harmony model's table for the harmony: each class absent or present.
pub const ROWS: usize = 2 * INPUTS;

/// The harmony rows (counted from the first harmony row) of a step with `mask` sounding.
pub fn rows(mask: ClassMask) -> [u32; INPUTS] {
    std::array::from_fn(|c| 2 * c as u32 + u32::from(mask >> c & 1))
}

/// For each of `steps` steps, the pitch classes of the notes that sound under the melody: all
/// but the one note the melody encoding takes (the highest, the later-starting on a tie).
pub fn under_melody(notes: &[StepNote], steps: usize) -> Vec<ClassMask> {
    let mut top: Vec<Option<usize>> = vec![None; steps];
    for (i, n) in notes.iter().enumerate() {
        for slot in top.iter_mut().take(n.end() as usize).skip(n.step as usize) {
            if slot.is_none_or(|j| (n.pitch, n.step) > (notes[j].pitch, notes[j].step)) {
                *slot = Some(i);
            }
        }
    }
    let mut masks = vec![0; steps];
    for (i, n) in notes.iter().enumerate() {
        for step in n.step as usize..(n.end() as usize).min(steps) {
            if top[step] != Some(i) {
                masks[step] |= 1 << (n.pitch % 12);
            }
        }
    }
    masks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chord::{mask_of, transposed_mask as transposed};

    fn note(step: u32, steps: u32, pitch: u8) -> StepNote {
        StepNote { step, steps, pitch, velocity: 80, voice: 0 }
    }

    #[test]
    fn the_notes_under_the_top_voice_are_the_harmony() {
        // A soprano E5 over C major, then a rest in the soprano over G major.
        let notes = [note(0, 4, 76), note(0, 4, 60), note(0, 4, 67), note(0, 8, 48), note(4, 4, 71), note(4, 4, 62)];
        let masks = under_melody(&notes, 9);
        assert_eq!(masks[0], mask_of([0, 7]), "C and G under E (the bass C too)");
        // At step 4 the top is B4 (71); D4 and the bass C sound under it.
        assert_eq!(masks[4], mask_of([2, 0]));
        assert_eq!(masks[8], 0, "nothing sounds");
    }

    #[test]
    fn rows_say_which_classes_sound_and_transposing_moves_them() {
        let c_major = mask_of([0, 4, 7]);
        let r = rows(c_major);
        assert_eq!(r[0], 1);
        assert_eq!(r[1], 2);
        assert_eq!(r[4], 9);
        assert_eq!(r[11], 22);
        assert_eq!(rows(0).iter().filter(|&&r| r % 2 == 1).count(), 0);
        assert_eq!(transposed(c_major, 7), mask_of([7, 11, 2]));
        assert_eq!(transposed(c_major, -5), mask_of([7, 11, 2]));
        assert_eq!(transposed(transposed(c_major, 5), -5), c_major);
    }
}
