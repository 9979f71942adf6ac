//! What the inference worker tells the model before an answer, on the worker's thread: the
//! player's phrase as the model's tokens in the key frame the notes suggest, where the
//! answer starts in the host's bar, how long it may be, and the sampling settings as the
//! audio thread last set them (read before every step, so a change shapes the next note).

use crate::capture::Phrase;
use crate::link::{Link, Request, SamplingShared};
use continuo_core::continuation::{AnswerShape, Continuer};
use continuo_core::encoding::encode;
use continuo_core::grid::StepNote;
use continuo_core::inference::ModelError;
use continuo_core::key::estimate_key;
use continuo_core::metre::Metre;
use continuo_core::sampler::SamplerSettings;
use continuo_core::song::{shift_for, ESTIMATION_PROFILE};
use continuo_core::steering::{Scale, Steering};
use continuo_core::{Note, Token};
use std::sync::atomic::Ordering;

/// The phrase as the model's tokens: notes from its first onset, then rests up to the
/// first answered step. Also the notes in beats, for key estimation.
pub fn phrase_tokens(
    phrase: &Phrase,
    start_step: i64,
    steps_per_beat: u32,
    kind: continuo_core::EncodingKind,
) -> (Vec<Token>, Vec<Note>) {
    let notes = phrase.notes();
    let Some(first) = notes.iter().map(|n| n.step).min() else { return (vec![], vec![]) };
    let step_notes: Vec<StepNote> = notes
        .iter()
        .map(|n| StepNote {
            step: (n.step - first) as u32,
            steps: n.steps.max(1),
            pitch: n.pitch,
            velocity: n.velocity,
            voice: 0,
        })
        .collect();
    let mut tokens = encode(&step_notes, kind);
    let wanted = (start_step - first).max(0) as usize;
    tokens.truncate(wanted.max(1));
    tokens.resize(wanted, Token::Rest);
    let beats = notes
        .iter()
        .map(|n| Note {
            onset: (n.step - first) as f64 / steps_per_beat as f64,
            duration: n.steps as f64 / steps_per_beat as f64,
            pitch: n.pitch,
            velocity: n.velocity,
            voice: 0,
        })
        .collect();
    (tokens, beats)
}

/// Prime the model with `notes` (in the piece's key) up to `start_step`, in the key frame
/// the notes suggest, and tell it where `start_step` is in the host's bar and how long the
/// answer may be (`None`: it goes on). Returns the tokens primed.
pub fn prime(
    continuer: &mut Continuer,
    notes: &Phrase,
    start_step: i64,
    request: &Request,
    max_steps: Option<usize>,
) -> Result<Vec<Token>, ModelError> {
    let card = continuer.model.card();
    let (kind, normalisation, spb) = (card.encoding.kind, card.encoding.key_normalisation, card.grid().steps_per_beat);
    let (tokens, beats) = phrase_tokens(notes, start_step, spb, kind);
    let key = estimate_key(&beats, ESTIMATION_PROFILE).map(|e| e.key);
    // The host's bar: `start_step` is `position` steps after a downbeat.
    let bar_steps = request.bar_steps.max(1);
    let position = (request.bar_position as i64 + start_step - request.start_step).rem_euclid(bar_steps as i64);
    let metre = Metre { bar_steps, downbeat: tokens.len() as i64 - position };
    continuer.prime_in(&tokens, shift_for(normalisation, key), metre)?;
    continuer.shape_answer(&AnswerShape { max_steps, key });
    Ok(tokens)
}

/// The sampling settings as the audio thread last set them.
pub fn sampler_settings(link: &Link) -> SamplerSettings {
    SamplerSettings {
        temperature: link.sampling.temperature.load(Ordering::Relaxed),
        rest_bias: link.sampling.rest_bias.load(Ordering::Relaxed),
        entropy_adaptive: link.sampling.entropy_adaptive.load(Ordering::Relaxed),
        top_p: 1.0,
        allow_song_end: false,
        memory: link.sampling.memory.load(Ordering::Relaxed),
        develop: link.sampling.develop.load(Ordering::Relaxed),
        follow_chords: link.sampling.follow_chords.load(Ordering::Relaxed),
        cadence: true,
        steering: steering(&link.sampling),
        guard: true,
    }
}

/// The steering controls as the audio thread last set them.
fn steering(s: &SamplingShared) -> Steering {
    let (low, high) = (s.register_low.load(Ordering::Relaxed), s.register_high.load(Ordering::Relaxed));
    Steering {
        density: s.density.load(Ordering::Relaxed),
        register: (high >= low).then(|| (low.clamp(0, 127) as u8, high.clamp(0, 127) as u8)),
        register_hard: s.register_hard.load(Ordering::Relaxed),
        leap: s.leap.load(Ordering::Relaxed),
        repetition: s.repetition.load(Ordering::Relaxed),
        scale: Scale::ALL.get(s.scale.load(Ordering::Relaxed).wrapping_sub(1) as usize).copied(),
    }
}

/// The sampling settings in words, for a take's meta events.
pub fn describe(s: &SamplerSettings) -> String {
    format!(
        "temperature {:.2}, entropy {:.2}, rest bias {:.2}, memory {:.2}, {:?}",
        s.temperature, s.entropy_adaptive, s.rest_bias, s.memory, s.steering
    )
}
