//! Options several subcommands share: how songs are encoded, and how tokens are sampled.

use clap::Args;
use continuo_core::sampler::SamplerSettings;
use continuo_core::song::KeyNormalisation;
use continuo_core::steering::{Scale, Steering};
use continuo_core::{EncodingKind, Grid};

#[derive(Args, Debug, Clone)]
pub struct EncodingArgs {
    /// Token encoding: melody (top voice) or chords (pitch sets).
    #[arg(long, default_value = "melody")]
    pub encoding: EncodingKind,
    /// Step grid: 1/8, 1/8t, 1/16, 1/16t or 1/32.
    #[arg(long, default_value = "1/16")]
    pub grid: Grid,
    /// Key normalisation: none, c-major-a-minor or all-keys (training songs in 12 keys).
    #[arg(long, default_value = "c-major-a-minor")]
    pub keys: KeyNormalisation,
}

#[derive(Args, Debug, Clone)]
pub struct SamplingArgs {
    /// 0 takes the most likely token; 1 samples the model's distribution.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f32,
    /// 0..1: how much the temperature follows each step's entropy.
    #[arg(long, default_value_t = 0.0)]
    pub entropy: f32,
    /// Added to the REST logit (negative: fewer rests).
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub rest_bias: f32,
    /// Nucleus sampling: keep the likeliest tokens up to this probability mass.
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f32,
    /// Random seed; the same seed gives the same result.
    #[arg(long, default_value_t = 1)]
    pub random_seed: u64,
    /// 0..1: how much the session memory (what the seed and the continuation played so
    /// far) is blended into each step.
    #[arg(long, default_value_t = 0.0)]
    pub memory: f32,
    /// -1..1: fewer (-) or more (+) onsets.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub density: f32,
    /// The register to keep to, LOW-HIGH in MIDI pitches (e.g. 60-76), in the seed's key.
    #[arg(long, value_parser = parse_register)]
    pub register: Option<(u8, u8)>,
    /// Never leave the register (else pitches outside are damped smoothly).
    #[arg(long, requires = "register")]
    pub register_hard: bool,
    /// -1..1: prefer steps (-) or leaps (+) from the last pitch.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub leap: f32,
    /// -1..1: avoid (-) or favour (+) the pitches of the last onsets.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    pub repetition: f32,
    /// Only the pitches of a scale, in the model's key frame: key (the followed key: C major
    /// / A minor in a key-normalised model), pentatonic, blues or harmonic-minor.
    #[arg(long)]
    pub scale: Option<Scale>,
}

/// `LOW-HIGH`, two MIDI pitches, low first.
fn parse_register(s: &str) -> Result<(u8, u8), String> {
    let bad = || format!("`{s}`: expected LOW-HIGH in MIDI pitches, e.g. 60-76");
    let (low, high) = s.split_once('-').ok_or_else(bad)?;
    let (low, high) = (low.trim().parse::<u8>().map_err(|_| bad())?, high.trim().parse::<u8>().map_err(|_| bad())?);
    if low > high || high > 127 {
        return Err(bad());
    }
    Ok((low, high))
}

impl SamplingArgs {
    pub fn settings(&self) -> SamplerSettings {
        SamplerSettings {
            temperature: self.temperature,
            entropy_adaptive: self.entropy,
            rest_bias: self.rest_bias,
            top_p: self.top_p,
            allow_song_end: false,
            memory: self.memory.clamp(0.0, 1.0),
            steering: Steering {
                density: self.density.clamp(-1.0, 1.0),
                register: self.register,
                register_hard: self.register_hard,
                leap: self.leap.clamp(-1.0, 1.0),
                repetition: self.repetition.clamp(-1.0, 1.0),
                scale: self.scale,
            },
        }
    }
}
