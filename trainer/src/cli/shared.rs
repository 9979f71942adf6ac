//! Options several subcommands share: how songs are encoded, and how tokens are sampled;
//! and whether a corpus can be read in a model's vocabulary.

use clap::Args;
use continuo_core::card::ModelCard;
use continuo_core::corpus::Corpus;
use continuo_core::develop::DEFAULT_DEVELOP;
use continuo_core::harmony::FOLLOW_CHORDS_DEFAULT;
use continuo_core::note::{pitch_name, pitch_of_name};
use continuo_core::sampler::SamplerSettings;
use continuo_core::song::KeyNormalisation;
use continuo_core::steering::{Scale, Steering};
use continuo_core::{EncodingKind, Grid};
use std::path::Path;

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
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true, value_parser = non_negative)]
    pub temperature: f32,
    /// 0..1: how much the temperature follows each step's entropy.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true, value_parser = unit)]
    pub entropy: f32,
    /// Added to the REST logit (negative: fewer rests).
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true, value_parser = finite)]
    pub rest_bias: f32,
    /// Nucleus sampling: keep the likeliest tokens up to this probability mass.
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true, value_parser = probability_mass)]
    pub top_p: f32,
    /// Random seed; the same seed gives the same result (default: `generate` draws a new one
    /// each run, as the plugin does, and prints it; `eval` takes 1).
    #[arg(long)]
    pub random_seed: Option<u64>,
    /// 0..1: how much the session memory (what the seed and the continuation played so
    /// far) is blended into each step (default: `generate` 0.4, the plugin's Memory; `eval` 0).
    #[arg(long, allow_hyphen_values = true, value_parser = unit)]
    pub memory: Option<f32>,
    /// 0..1: how often a bar of the answer takes up an earlier bar of the call (its motifs,
    /// transposed or varied): 0 plays fresh material.
    #[arg(long, default_value_t = DEFAULT_DEVELOP, allow_hyphen_values = true, value_parser = unit)]
    pub develop: f32,
    /// 0..1: how closely the continuation fits the chords it is given (`generate --chords`):
    /// chord tones on strong beats, the chord's scale everywhere; 0 ignores them.
    #[arg(long, default_value_t = FOLLOW_CHORDS_DEFAULT, allow_hyphen_values = true, value_parser = unit)]
    pub follow_chords: f32,
    /// Let the answer run to its last step (by default it closes on the tonic or dominant
    /// on beat 3 of its last bar, or the last beat of a bar of three).
    #[arg(long)]
    pub no_cadence: bool,
    /// -1..1: fewer (-) or more (+) onsets.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true, value_parser = signed_unit)]
    pub density: f32,
    /// The register to keep to, LOW-HIGH as note names or MIDI pitches (C4-E5, 60-76), in the
    /// seed's key.
    #[arg(long, value_parser = parse_register)]
    pub register: Option<(u8, u8)>,
    /// Never leave the register (else pitches outside are damped smoothly).
    #[arg(long, requires = "register")]
    pub register_hard: bool,
    /// -1..1: prefer steps (-) or leaps (+) from the last pitch.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true, value_parser = signed_unit)]
    pub leap: f32,
    /// -1..1: avoid (-) or favour (+) the pitches of the last onsets.
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true, value_parser = signed_unit)]
    pub repetition: f32,
    /// Only the pitches of a scale, in the model's key frame: key (the followed key: C major
    /// / A minor in a key-normalised model), pentatonic, blues or harmonic-minor.
    #[arg(long)]
    pub scale: Option<Scale>,
    /// Sample near-uniform steps as they come (by default such a step, where the model does
    /// not know the music, is kept in key at half the temperature).
    #[arg(long)]
    pub no_guard: bool,
}

/// Whether a corpus can be read in a model's vocabulary: the same encoding and grid (pitches
/// outside the model's range then fold by octaves, rare chords fall back, as `prepare` does).
pub fn check_compatible(
    corpus: &Corpus,
    corpus_path: &Path,
    card: &ModelCard,
    model_path: &Path,
) -> Result<(), String> {
    let (m, e) = (&corpus.manifest, &card.encoding);
    if m.encoding != e.kind || m.steps_per_beat != e.steps_per_beat {
        return Err(format!(
            "{} is prepared as {} on a {} grid, but the model {} reads {} on a {} grid: prepare the corpus with \
             `--encoding {} --grid {}`",
            corpus_path.display(),
            m.encoding,
            m.steps_per_beat,
            model_path.display(),
            e.kind,
            e.steps_per_beat,
            e.kind,
            e.steps_per_beat
        ));
    }
    if m.key_normalisation != e.key_normalisation {
        eprintln!(
            "note: {} has keys {}, the model {} was trained with keys {}",
            corpus_path.display(),
            m.key_normalisation,
            model_path.display(),
            e.key_normalisation
        );
    }
    Ok(())
}

/// The ONNX file name of `out` and the model's name: `name`, else the file's stem.
pub fn file_and_name(out: &Path, name: Option<&str>) -> Result<(String, String), String> {
    let file = out.file_name().map(|f| f.to_string_lossy().into_owned()).ok_or("--out needs a file name")?;
    let stem = || out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Ok((file, name.map_or_else(stem, String::from)))
}

/// A number that is not NaN or infinite.
fn finite(s: &str) -> Result<f32, String> {
    let x: f32 = s.trim().parse().map_err(|_| format!("`{s}` is not a number"))?;
    x.is_finite().then_some(x).ok_or_else(|| format!("`{s}` is not a finite number"))
}

/// A finite number within `lo..=hi`.
fn within(s: &str, lo: f32, hi: f32) -> Result<f32, String> {
    let x = finite(s)?;
    (lo..=hi).contains(&x).then_some(x).ok_or_else(|| format!("{x} is outside {lo}..{hi}"))
}

/// A finite number at or above 0 (a temperature).
fn non_negative(s: &str) -> Result<f32, String> {
    let x = finite(s)?;
    (x >= 0.0).then_some(x).ok_or_else(|| format!("{x} is below 0: expected 0 (always the likeliest) or more"))
}

/// A finite number in 0..=1.
fn unit(s: &str) -> Result<f32, String> {
    within(s, 0.0, 1.0)
}

/// A finite number in -1..=1.
fn signed_unit(s: &str) -> Result<f32, String> {
    within(s, -1.0, 1.0)
}

/// A probability mass: above 0, at most 1.
fn probability_mass(s: &str) -> Result<f32, String> {
    let x = unit(s)?;
    (x > 0.0).then_some(x).ok_or_else(|| "0 keeps no token: expected a mass above 0, at most 1".into())
}

/// `LOW-HIGH`, two pitches by name or MIDI number (`C4-E5`, `60-76`), low first.
fn parse_register(s: &str) -> Result<(u8, u8), String> {
    let bad = || format!("`{s}`: expected LOW-HIGH as note names or MIDI pitches, e.g. C4-E5 or 60-76");
    // The first `-` that splits it into two pitches (`C-1` has a `-` of its own).
    let (low, high) = s
        .match_indices('-')
        .find_map(|(i, _)| Some((pitch_of_name(&s[..i])?, pitch_of_name(&s[i + 1..])?)))
        .ok_or_else(bad)?;
    if low > high {
        return Err(format!(
            "`{s}`: the low pitch comes first: {}-{} ({low} is above {high})",
            pitch_name(high),
            pitch_name(low)
        ));
    }
    Ok((low, high))
}

/// What the sampling options not given are: the plugin's defaults (`generate`: Memory 0.4, a
/// new random seed each run), or fixed ones that measure the model alone, so that its
/// figures can be repeated (`eval`: no memory, random seed 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defaults {
    Plugin,
    Measure,
}

impl SamplingArgs {
    /// The Memory amount, given or by default.
    pub fn memory(&self, defaults: Defaults) -> f32 {
        self.memory.unwrap_or(match defaults {
            Defaults::Plugin => continuo_core::memory::MEMORY_DEFAULT,
            Defaults::Measure => 0.0,
        })
    }

    /// The random seed, given or by default (a new one each call with the plugin's: call once).
    pub fn random_seed(&self, defaults: Defaults) -> u64 {
        self.random_seed.unwrap_or_else(|| match defaults {
            Defaults::Plugin => {
                use std::hash::{BuildHasher, Hasher};
                std::collections::hash_map::RandomState::new().build_hasher().finish() % 1_000_000
            }
            Defaults::Measure => 1,
        })
    }

    pub fn settings(&self, defaults: Defaults) -> SamplerSettings {
        SamplerSettings {
            temperature: self.temperature,
            entropy_adaptive: self.entropy,
            rest_bias: self.rest_bias,
            top_p: self.top_p,
            allow_song_end: false,
            memory: self.memory(defaults),
            develop: self.develop,
            follow_chords: self.follow_chords,
            cadence: !self.no_cadence,
            steering: Steering {
                density: self.density,
                register: self.register,
                register_hard: self.register_hard,
                leap: self.leap,
                repetition: self.repetition,
                scale: self.scale,
            },
            guard: !self.no_guard,
        }
    }
}

/// The folder `out` goes into, made if it is missing (with its parents).
pub fn make_parent(out: &std::path::Path) -> Result<(), String> {
    match out.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(folder) => std::fs::create_dir_all(folder).map_err(|e| format!("{}: {e}", folder.display())),
        None => Ok(()),
    }
}

/// A count of at least 1 (`--bars`).
pub fn at_least_one(s: &str) -> Result<usize, String> {
    let n: usize = s.trim().parse().map_err(|_| format!("`{s}` is not a whole number"))?;
    (n >= 1).then_some(n).ok_or_else(|| "0 would add nothing: expected 1 or more".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_numbers_are_refused_with_a_reason() {
        assert!(non_negative("-0.5").unwrap_err().contains("below 0"));
        assert!(non_negative("NaN").unwrap_err().contains("finite"));
        assert!(probability_mass("2").is_err());
        assert!(probability_mass("0").is_err());
        assert_eq!(probability_mass("0.9"), Ok(0.9));
        assert!(unit("5").is_err());
        assert!(signed_unit("-1.5").is_err());
        assert_eq!(signed_unit("-1"), Ok(-1.0));
        assert!(finite("inf").is_err());
        assert!(finite("abc").unwrap_err().contains("not a number"));
    }
}
