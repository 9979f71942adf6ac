//! Continuing a piece with a model: the seed is put into the model's key frame and
//! encoding, primed in one call, and then one token is sampled and fed back per step; the
//! result comes back in the seed's own key. Shared by `trainer generate` and the plugin's
//! inference worker (which calls [`Continuer::next`] one grid step ahead of the music).
//! A continuer keeps a session memory ([`crate::memory`]) of what it was told to remember
//! and of everything it played, blended into each step as `SamplerSettings::memory` asks.

use crate::encoding::Token;
use crate::inference::{ContinuationModel, ModelError};
use crate::memory::{blend_logits, Memory, MAX_ORDER};
use crate::sampler::{Sampler, SamplerSettings, SpecialIds};
use crate::score::{Score, TimeSignature};
use crate::song::{decode_tokens, encode_score, shift_for, song_key};
use crate::steering::Steerer;

/// A model, a sampler and the key frame of the piece being continued.
pub struct Continuer {
    pub model: ContinuationModel,
    sampler: Sampler,
    special: SpecialIds,
    /// Semitones from the piece's key into the model's frame.
    pub shift: i32,
    /// Transpose what the model says back into the piece's key (else it stays in the
    /// model's frame, e.g. C major / A minor).
    pub follow_key: bool,
    /// The session so far, in the model's ids (its key frame).
    memory: Memory,
    /// The piece's recent past for the steering controls.
    steerer: Steerer,
    /// Which ids are onsets (the memory blends only the choice among them).
    onset: Vec<bool>,
    /// Scratch for the blend, the memory's probabilities, and the blend as logits.
    probs: Vec<f32>,
    remembered: Vec<f32>,
    blended: Vec<f32>,
}

impl Continuer {
    pub fn new(model: ContinuationModel, seed: u64) -> Continuer {
        let vocab = model.vocab();
        let special = SpecialIds {
            rest: vocab.id(&Token::Rest).expect("every vocabulary holds `r`"),
            song_end: vocab.id(&Token::SongEnd).expect("every vocabulary holds `/`"),
        };
        let v = vocab.len();
        let sampler = Sampler::new(v, seed);
        let memory = Memory::new(v, MAX_ORDER);
        let steerer = Steerer::new(vocab);
        let onset = vocab.tokens().iter().map(|t| !t.pitches().is_empty()).collect();
        let (probs, remembered, blended) = (vec![0.0; v], vec![0.0; v], vec![0.0; v]);
        Continuer {
            model,
            sampler,
            special,
            shift: 0,
            follow_key: true,
            memory,
            steerer,
            onset,
            probs,
            remembered,
            blended,
        }
    }

    /// The session memory hears `tokens` (in the piece's key, as given to [`Continuer::prime`],
    /// whose key frame it uses).
    pub fn remember(&mut self, tokens: &[Token]) {
        let vocab = self.model.vocab();
        for t in tokens.iter().filter(|t| **t != Token::SongEnd) {
            if let Some(id) = t.transposed(self.shift).and_then(|t| vocab.id(&t)) {
                self.memory.observe(id);
            }
        }
    }

    /// Forget the session.
    pub fn forget(&mut self) {
        self.memory.forget();
    }

    /// Tokens the session memory has heard since it last forgot.
    pub fn remembered(&self) -> u64 {
        self.memory.observed()
    }

    /// Start sampling afresh from a random seed.
    pub fn reseed(&mut self, seed: u64) {
        self.sampler.reseed(seed);
    }

    /// Start a new piece from `tokens` (in the piece's key, without a trailing `/`):
    /// resets the state and primes the model with `/` and the transposed tokens.
    pub fn prime(&mut self, tokens: &[Token], shift: i32) -> Result<(), ModelError> {
        self.shift = shift;
        self.model.reset();
        let vocab = self.model.vocab();
        let mut framed = vec![Token::SongEnd];
        framed.extend(
            tokens.iter().filter(|t| **t != Token::SongEnd).map(|t| t.transposed(shift).unwrap_or(Token::Rest)),
        );
        let ids = vocab.encode(&framed);
        self.steerer.clear();
        ids.iter().for_each(|&id| self.steerer.heard(id));
        self.model.feed(&ids)?;
        Ok(())
    }

    /// Sample the next token (in the piece's key, or the model's frame without
    /// `follow_key`) and feed it back to the model.
    pub fn next(&mut self, settings: &SamplerSettings) -> Result<Token, ModelError> {
        let settings = SamplerSettings { allow_song_end: false, ..*settings };
        let logits = self.model.feed(&[])?;
        if settings.memory > 0.0 && self.memory.observed() > 0 {
            // The blend, as logits for the sampler (temperature and biases apply to it).
            self.memory.predict(&mut self.remembered);
            blend_logits(logits, &self.remembered, settings.memory, &self.onset, &mut self.probs, &mut self.blended);
        } else {
            self.blended.copy_from_slice(logits);
        }
        // The register is asked for in the key the answer is played in.
        let played_shift = if self.follow_key { self.shift } else { 0 };
        self.steerer.steer(&mut self.blended, &settings.steering, played_shift);
        let id = self.sampler.sample(&self.blended, &settings, self.special);
        self.memory.observe(id);
        self.steerer.heard(id);
        self.model.feed(&[id])?;
        let token = self.model.vocab().token(id).cloned().unwrap_or(Token::Rest);
        let back = if self.follow_key { -self.shift } else { 0 };
        Ok(token.transposed(back).unwrap_or(Token::Rest))
    }
}

/// Continue a whole score by `steps` grid steps, in the seed's key. Returns the sampled
/// tokens and a score holding the seed's own notes (voice 0) followed by the continuation
/// (voice 1), at the seed's tempo and metre.
pub fn continue_score(
    continuer: &mut Continuer,
    seed: &Score,
    steps: usize,
    settings: &SamplerSettings,
    velocity: u8,
) -> Result<(Vec<Token>, Score), ModelError> {
    let card = continuer.model.card().clone();
    let grid = card.grid();
    let shift = shift_for(card.encoding.key_normalisation, song_key(seed).map(|k| k.0));
    let mut tokens = encode_score(seed, grid, card.encoding.kind, 0);
    tokens.pop(); // the `/`
    continuer.prime(&tokens, shift)?;
    continuer.remember(&tokens);
    let mut generated = Vec::with_capacity(steps);
    for _ in 0..steps {
        generated.push(continuer.next(settings)?);
    }
    // Decoded together, a HOLD at the start of the continuation lengthens the seed's last note.
    let all: Vec<Token> = tokens.iter().chain(&generated).cloned().collect();
    let ts: Option<TimeSignature> = seed.time_signatures.first().copied();
    let decoded = decode_tokens(&all, grid, 0, velocity, seed.initial_bpm(), ts);
    let start = tokens.len() as f64 * grid.step_beats();
    let mut out =
        Score { notes: seed.notes.iter().map(|n| crate::score::Note { voice: 0, ..*n }).collect(), ..decoded.clone() };
    out.title = seed.title.clone();
    out.declared_key = seed.declared_key;
    out.notes.extend(
        decoded.notes.iter().filter(|n| n.onset >= start - 1e-9).map(|n| crate::score::Note { voice: 1, ..*n }),
    );
    out.sort();
    Ok((generated, out))
}
