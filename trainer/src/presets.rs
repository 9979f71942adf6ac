//! The training presets, one table: the seed studies' networks and Continuo's default. Each
//! preset is one object (name, description, values), read by `trainer train --preset` (and
//! its `--help`), by the README's pointer here, and by `cargo xtask perf`.

use crate::checkpoint::{Schedule, TrainConfig, WindowOrder};

/// A named network shape, its learning rate, schedule and windows, and its epoch limit;
/// every other setting is shared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preset {
    pub name: &'static str,
    pub description: &'static str,
    pub embed: usize,
    pub hidden: usize,
    pub layers: usize,
    pub dropout: f32,
    pub batch_norm: bool,
    /// Streams (or windows) per batch.
    pub batch: usize,
    pub lr: f32,
    pub schedule: Schedule,
    pub windows: WindowOrder,
    pub max_epochs: usize,
    /// The network gets each step's metre (position in the bar, bar in a four-bar group).
    pub metre: bool,
    /// The network gets each step's lookback (the tokens four and eight bars back).
    pub lookback: bool,
}

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "melody",
        description: "1 x 256, dropout 0.2, metre and lookback inputs (the tokens 4 and 8 bars back), 32 streams \
                      whose state is carried from one 64-step window to the next (whole songs of context), cosine \
                      learning rate from 3e-3 over 16 epochs: the shipped melody model's recipe, 5 minutes on 2 cores \
                      (issues #12 and #22)",
        embed: 64,
        hidden: 256,
        layers: 1,
        dropout: 0.2,
        batch_norm: false,
        batch: 32,
        lr: 3e-3,
        schedule: Schedule::Cosine,
        windows: WindowOrder::Carried,
        max_epochs: 16,
        metre: true,
        lookback: true,
    },
    Preset {
        name: "esac",
        description: "1 x 256, dropout 0.2: the Essen melody study (essen-melody's recipe)",
        embed: 64,
        hidden: 256,
        layers: 1,
        dropout: 0.2,
        batch_norm: false,
        batch: 64,
        lr: 2e-3,
        schedule: Schedule::Halve,
        windows: WindowOrder::Carried,
        max_epochs: 40,
        metre: false,
        lookback: false,
    },
    Preset {
        name: "default",
        description: "2 x 256, dropout 0.2: Continuo's default",
        embed: 64,
        hidden: 256,
        layers: 2,
        dropout: 0.2,
        batch_norm: false,
        batch: 64,
        lr: 2e-3,
        schedule: Schedule::Halve,
        windows: WindowOrder::Carried,
        max_epochs: 40,
        metre: false,
        lookback: false,
    },
    Preset {
        name: "jazz",
        description: "3 x 256, batch norm before the output, dropout 0.3: the jazz study",
        embed: 64,
        hidden: 256,
        layers: 3,
        dropout: 0.3,
        batch_norm: true,
        batch: 64,
        lr: 1e-3,
        schedule: Schedule::Halve,
        windows: WindowOrder::Carried,
        max_epochs: 40,
        metre: false,
        lookback: false,
    },
    Preset {
        name: "sona",
        description: "3 x 512, dropout 0.3: the MIDI note/chord study",
        embed: 128,
        hidden: 512,
        layers: 3,
        dropout: 0.3,
        batch_norm: false,
        batch: 64,
        lr: 1e-3,
        schedule: Schedule::Halve,
        windows: WindowOrder::Carried,
        max_epochs: 40,
        metre: false,
        lookback: false,
    },
];

/// The preset called `name`.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

impl Preset {
    /// The full training settings: this preset's network, learning rate, schedule, windows and
    /// epoch limit and batch, and the settings every preset shares (windows of 64 steps,
    /// clipping at 1, patience 3, seed 1, no weight decay).
    pub fn config(&self) -> TrainConfig {
        TrainConfig {
            preset: self.name.to_string(),
            embed: self.embed,
            hidden: self.hidden,
            layers: self.layers,
            dropout: self.dropout,
            batch_norm: self.batch_norm,
            batch: self.batch,
            window: 64,
            lr: self.lr,
            clip: 1.0,
            max_epochs: self.max_epochs,
            patience: 3,
            seed: 1,
            schedule: self.schedule,
            windows: self.windows,
            weight_decay: 0.0,
            metre: self.metre,
            lookback: self.lookback,
            harmony: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for p in PRESETS {
            assert_eq!(preset(p.name), Some(p));
            assert_eq!(p.config().preset, p.name);
        }
        assert_eq!(preset("nope"), None);
    }
}
