//! Whether two runs of a model agree: logits compared element by element, so that a NaN, a
//! missing value or an empty sequence can never pass. Checks an exported model against the
//! trainer's own forward pass (golden files, parity tests). Any thread; allocates nothing.

/// Why two logit sequences do not agree.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Disagreement {
    #[error("{got} logits where {expected} were expected")]
    Lengths { got: usize, expected: usize },
    #[error("no logits to compare")]
    Empty,
    #[error("logit {index}: {got} against {expected}, more than {tolerance} apart (or not a number)")]
    Differs { index: usize, got: f32, expected: f32, tolerance: f32 },
}

/// The largest absolute difference between `got` and `expected`, when every element is a
/// number within `tolerance` of its counterpart; otherwise the first element that is not.
pub fn agree(got: &[f32], expected: &[f32], tolerance: f32) -> Result<f32, Disagreement> {
    if got.len() != expected.len() {
        return Err(Disagreement::Lengths { got: got.len(), expected: expected.len() });
    }
    if got.is_empty() {
        return Err(Disagreement::Empty);
    }
    let mut worst = 0.0f32;
    for (index, (&g, &e)) in got.iter().zip(expected).enumerate() {
        let difference = (g - e).abs();
        // A NaN on either side makes the difference NaN, which is not within any tolerance.
        let within = difference.partial_cmp(&tolerance).is_some_and(|o| o.is_le());
        if !within {
            return Err(Disagreement::Differs { index, got: g, expected: e, tolerance });
        }
        worst = worst.max(difference);
    }
    Ok(worst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_sequences_agree_with_their_worst_difference() {
        assert_eq!(agree(&[1.0, 2.0, 3.0], &[1.0, 2.00005, 3.0], 1e-4).map(|w| w > 0.0), Ok(true));
    }

    #[test]
    fn a_nan_on_either_side_disagrees() {
        for (got, expected) in [([0.0, f32::NAN], [0.0, 0.0]), ([0.0, 0.0], [0.0, f32::NAN])] {
            assert!(matches!(agree(&got, &expected, 1e-4), Err(Disagreement::Differs { index: 1, .. })));
        }
        assert!(agree(&[f32::INFINITY], &[f32::INFINITY], 1e-4).is_err());
    }

    #[test]
    fn empty_or_shorter_sequences_disagree() {
        assert_eq!(agree(&[], &[], 1e-4), Err(Disagreement::Empty));
        assert_eq!(agree(&[1.0], &[], 1e-4), Err(Disagreement::Lengths { got: 1, expected: 0 }));
        assert_eq!(agree(&[1.0], &[1.0, 2.0], 1e-4), Err(Disagreement::Lengths { got: 1, expected: 2 }));
    }

    #[test]
    fn a_difference_over_the_tolerance_disagrees() {
        assert!(matches!(agree(&[1.0, 2.0], &[1.0, 2.1], 1e-4), Err(Disagreement::Differs { index: 1, .. })));
    }
}
