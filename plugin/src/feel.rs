//! Feel, on the audio thread: the player's accents across the bar, which the answer's
//! velocity follows, and Humanise, a small, bounded, reproducible variation of the answer's
//! timing and velocity. With [`crate::swing`], where each step of the answer sounds
//! ([`Feel::step_beat`]). Fixed-size state only.

use crate::swing::Swing;

/// Bar positions (steps) the accents are kept for; a longer bar folds onto them.
pub const POSITIONS: usize = 64;
/// How much of a position's accent a new note there replaces.
const ACCENT_WEIGHT: f32 = 0.4;
/// The largest timing variation at Humanise 1, in steps (late or early): a fifth of a step
/// keeps the steps in order.
const MOST_TIMING: f64 = 0.2;
/// The largest velocity variation at Humanise 1.
const MOST_VELOCITY: f32 = 12.0;

/// The player's velocity by place in the bar: a running mean per step of the bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accents {
    mean: [f32; POSITIONS],
    heard: [bool; POSITIONS],
}

impl Default for Accents {
    fn default() -> Self {
        Accents { mean: [0.0; POSITIONS], heard: [false; POSITIONS] }
    }
}

impl Accents {
    /// The player played `velocity` at `position` steps after a bar line.
    pub fn hear(&mut self, position: usize, velocity: u8) {
        let k = position % POSITIONS;
        let v = velocity as f32;
        self.mean[k] = if self.heard[k] { self.mean[k] + ACCENT_WEIGHT * (v - self.mean[k]) } else { v };
        self.heard[k] = true;
    }

    /// The answer's velocity at `position`: the player's there, beside their mean (`mean`)
    /// as they played it beside the mean of the places they played; `mean` where they never
    /// played there.
    pub fn velocity(&self, position: usize, mean: u8) -> u8 {
        let (sum, count) = self
            .mean
            .iter()
            .zip(&self.heard)
            .filter(|(_, &h)| h)
            .fold((0.0f32, 0u32), |(s, c), (&m, _)| (s + m, c + 1));
        let k = position % POSITIONS;
        if count == 0 || !self.heard[k] {
            return mean;
        }
        (mean as f32 + self.mean[k] - sum / count as f32).round().clamp(1.0, 127.0) as u8
    }

    /// Forget the accents (a reset).
    pub fn clear(&mut self) {
        *self = Accents::default();
    }
}

/// Humanise: at `amount` (0..=1), each step of the answer moves by up to a fifth of a step
/// and its velocity by up to 12, the same for the same `seed` and step.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Humanise {
    pub amount: f32,
    pub seed: u64,
}

impl Humanise {
    /// A number in −1..1 drawn from the seed, the step and a stream (splitmix64).
    fn draw(&self, step: i64, stream: u64) -> f64 {
        let mut z = self.seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    /// How far step `step` moves, in steps.
    pub fn offset(&self, step: i64) -> f64 {
        if self.amount <= 0.0 {
            return 0.0;
        }
        self.amount.min(1.0) as f64 * MOST_TIMING * self.draw(step, 1)
    }

    /// The velocity of step `step`, varied.
    pub fn velocity(&self, step: i64, velocity: u8) -> u8 {
        if self.amount <= 0.0 {
            return velocity;
        }
        let change = self.amount.min(1.0) * MOST_VELOCITY * self.draw(step, 2) as f32;
        (velocity as f32 + change).round().clamp(1.0, 127.0) as u8
    }
}

/// Where the steps of the grid sound: straight time bent by the swing, then moved by
/// Humanise.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Feel {
    pub swing: Swing,
    pub humanise: Humanise,
}

impl Feel {
    /// The beat at which step `step` (of `steps_per_beat` to a beat) sounds.
    pub fn step_beat(&self, step: i64, steps_per_beat: u32) -> f64 {
        let spb = steps_per_beat.max(1) as f64;
        self.swing.swung((step as f64 + self.humanise.offset(step)) / spb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_is_accented_where_the_player_was() {
        let mut accents = Accents::default();
        assert_eq!(accents.velocity(0, 80), 80, "nothing heard: the mean");
        for _ in 0..2 {
            accents.hear(0, 120);
            accents.hear(4, 70);
            accents.hear(8, 100);
            accents.hear(12, 70);
        }
        // Their mean is 90: the downbeat is 30 above it, beat 2 20 below.
        assert_eq!((accents.velocity(0, 80), accents.velocity(4, 80), accents.velocity(POSITIONS, 80)), (110, 60, 110));
        assert_eq!(accents.velocity(2, 80), 80, "a place they never played: the mean");
    }

    #[test]
    fn humanise_is_bounded_reproducible_and_off_at_zero() {
        let off = Humanise { amount: 0.0, seed: 7 };
        assert_eq!((off.offset(5), off.velocity(5, 90)), (0.0, 90));
        let h = Humanise { amount: 1.0, seed: 7 };
        let offsets: Vec<f64> = (0..1000).map(|k| h.offset(k)).collect();
        assert!(offsets.iter().all(|o| o.abs() <= MOST_TIMING) && offsets.iter().any(|o| o.abs() > 0.1));
        assert_eq!(offsets, (0..1000).map(|k| h.offset(k)).collect::<Vec<_>>(), "the same seed, the same feel");
        assert_ne!(h.offset(3), Humanise { seed: 8, ..h }.offset(3));
        let v: Vec<u8> = (0..1000).map(|k| h.velocity(k, 90)).collect();
        assert!(v.iter().all(|&v| (78..=102).contains(&v)) && v.iter().any(|&v| v != 90));
        // The steps stay in order.
        let feel = Feel { humanise: h, ..Feel::default() };
        let beats: Vec<f64> = (0..1000).map(|k| feel.step_beat(k, 4)).collect();
        assert!(beats.windows(2).all(|w| w[0] < w[1]));
    }
}
