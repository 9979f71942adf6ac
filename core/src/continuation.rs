//! Continuing a piece with a model: the seed is put into the model's key frame and
//! encoding, primed in one call, and then one token is sampled and fed back per step; the
//! result comes back in the seed's own key. Shared by `trainer generate` and the plugin's
//! inference worker (which calls [`Continuer::next`] one grid step ahead of the music).
//! A continuer keeps a session memory ([`crate::memory`]) of what it was told to remember
//! and of everything it played, blended into each step as `SamplerSettings::memory` asks;
//! knows where the music is in its metre ([`Continuer::prime_in`]), and tells a metre-aware
//! model ([`crate::metre`]) at every step; takes up the call's
//! own bars as `SamplerSettings::develop` asks ([`crate::develop`]); and closes an answer of
//! known length on a cadence ([`crate::cadence`]).

use crate::cadence::Cadence;
use crate::chord::{Chord, Progression};
use crate::develop::Developer;
use crate::encoding::Token;
use crate::harmony::{is_strong, ChordFollower};
use crate::inference::{ContinuationModel, ModelError};
use crate::key::{estimate_key, key_fit, Key};
use crate::memory::{blend_logits, Memory, MAX_ORDER};
use crate::metre::{first_downbeat, Metre, UNKNOWN};
use crate::profile::PitchProfile;
use crate::sampler::{normalised_entropy, Sampler, SamplerSettings, SpecialIds};
use crate::score::{Note, Score};
use crate::song::{decode_tokens, encode_score, shift_for, KeyNormalisation, ESTIMATION_PROFILE};
use crate::steering::{Scale, Steerer};

/// A step whose model distribution has a normalised entropy (H / ln V) above this is near
/// uniform: the model has not met anything like the music (a seed much faster than what it
/// learnt, say) and would play noise. The guard then keeps that step in the followed key
/// (in a key-normalised model) and halves its temperature.
pub const GUARD_ENTROPY: f32 = 0.8;

/// A model, a sampler and the key frame of the piece being continued.
pub struct Continuer {
    /// The model, its card and vocabulary. Its state lacks the last token until the next step
    /// is asked for ([`Continuer::logits`], [`Continuer::next`]).
    pub model: ContinuationModel,
    sampler: Sampler,
    special: SpecialIds,
    /// Semitones from the piece's key into the model's frame.
    pub shift: i32,
    /// Transpose what the model says back into the piece's key (else it stays in the
    /// model's frame, e.g. C major / A minor).
    pub follow_key: bool,
    /// The session so far, in the model's ids (its key frame), and its pitch classes.
    memory: Memory,
    profile: PitchProfile,
    /// The chord the player holds, followed at `SamplerSettings::follow_chords`, and the
    /// piece's key its scale is bent from (told by [`Continuer::shape_answer`]).
    chords: ChordFollower,
    key: Option<Key>,
    /// The piece's recent past for the steering controls.
    steerer: Steerer,
    /// Which ids are onsets (the memory blends the choice among them apart from the rhythm).
    onset: Vec<bool>,
    /// The hold's id, and whether a note sounds after the last token (a hold then continues
    /// it; with nothing sounding a hold is not sampled).
    hold: Option<u32>,
    sounding: bool,
    /// Whether the followed key is the model frame's C major / A minor (the guard's scale).
    key_frame: bool,
    /// Steps the guard took over since the continuer was made.
    guarded: u64,
    /// The piece in its metre, and the Develop control's plans.
    developer: Developer,
    /// The answer's closing note.
    cadence: Cadence,
    /// The last token (with its metre rows), fed to the model when the next step is asked for:
    /// a harmony model reads with it the chord under the step it predicts, which is known
    /// only then.
    pending: Option<(u32, [u32; 2])>,
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
        let profile = PitchProfile::new(vocab);
        let chords = ChordFollower::new(vocab);
        let steerer = Steerer::new(vocab);
        let onset = vocab.tokens().iter().map(|t| !t.pitches().is_empty()).collect();
        let (probs, remembered, blended) = (vec![0.0; v], vec![0.0; v], vec![0.0; v]);
        let hold = vocab.id(&Token::Hold);
        let key_frame = model.card().encoding.key_normalisation == KeyNormalisation::CMajorAMinor;
        let developer = Developer::new(vocab, key_frame, Metre::four_four(model.card().grid()));
        let cadence = Cadence::new(vocab);
        Continuer {
            model,
            sampler,
            special,
            shift: 0,
            follow_key: true,
            memory,
            profile,
            chords,
            key: None,
            steerer,
            onset,
            hold,
            sounding: false,
            key_frame,
            guarded: 0,
            developer,
            cadence,
            pending: None,
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
                self.profile.observe(id);
            }
        }
    }

    /// Forget the session.
    pub fn forget(&mut self) {
        self.memory.forget();
        self.profile.forget();
    }

    /// Tokens the session memory has heard since it last forgot.
    pub fn remembered(&self) -> u64 {
        self.memory.observed()
    }

    /// Steps the guard took over (the model near-uniform) since the continuer was made.
    pub fn guarded(&self) -> u64 {
        self.guarded
    }

    /// Start sampling afresh from a random seed.
    pub fn reseed(&mut self, seed: u64) {
        self.sampler.reseed(seed);
        self.developer.reseed(seed);
    }

    /// Tell the continuer how long the answer about to start may be and the piece's key,
    /// after priming (and before the answer's first [`Continuer::next`]): the answer then
    /// closes on a cadence in its last bar ([`crate::cadence`]). Without it, an answer has no end.
    pub fn shape_answer(&mut self, shape: &AnswerShape) {
        self.cadence.clear();
        self.key = shape.key;
        if let (Some(max), Some(key)) = (shape.max_steps, shape.key) {
            let tonic = (key.tonic as i32 + self.shift).rem_euclid(12) as u8;
            let (metre, position) = (self.developer.metre(), self.bar_position());
            let ring = self.model.card().grid().steps_per_beat as usize;
            let minor = key.mode == crate::key::Mode::Minor;
            self.cadence.plan(max, metre.bar_steps as usize, position, ring, (tonic, minor));
        }
    }

    /// The chord that sounds from the next step on (in the piece's key), or none: the answer
    /// follows it at [`SamplerSettings::follow_chords`] ([`crate::harmony`]), in the key
    /// [`Continuer::shape_answer`] was told.
    pub fn set_chord(&mut self, chord: Option<Chord>) {
        self.chords.set_chord(chord, self.key, self.shift);
    }

    /// Where the next step falls in its bar (steps from the downbeat).
    pub fn bar_position(&self) -> usize {
        self.developer.metre().position(self.developer.len() as i64)
    }

    /// Start a new piece from `tokens` (in the piece's key, without a trailing `/`), in 4/4
    /// from its first step: see [`Continuer::prime_in`].
    pub fn prime(&mut self, tokens: &[Token], shift: i32) -> Result<(), ModelError> {
        let four_four = Metre::four_four(self.model.card().grid());
        self.prime_in(tokens, shift, four_four)
    }

    /// Start a new piece from `tokens` (in the piece's key, without a trailing `/`) in
    /// `metre` (whose steps count the tokens: 0 is the first): resets the state and primes
    /// the model with `/` and the transposed tokens, each with its metre.
    pub fn prime_in(&mut self, tokens: &[Token], shift: i32, metre: Metre) -> Result<(), ModelError> {
        self.shift = shift;
        self.model.reset();
        let vocab = self.model.vocab();
        let mut framed = vec![Token::SongEnd];
        framed.extend(
            tokens.iter().filter(|t| **t != Token::SongEnd).map(|t| t.transposed(shift).unwrap_or(Token::Rest)),
        );
        let ids = vocab.encode(&framed);
        self.developer.prime(&ids[1..], metre);
        self.cadence.clear();
        self.steerer.clear();
        self.chords.clear();
        self.key = None;
        self.sounding = false;
        for &id in &ids {
            self.steerer.heard(id);
            self.chords.heard(id);
            self.track_sounding(id);
        }
        let rows: Vec<[u32; 2]> =
            std::iter::once(UNKNOWN).chain((0..ids.len() - 1).map(|k| metre.rows(k as i64))).collect();
        let last = ids.len() - 1;
        self.model.feed_at(&ids[..last], &rows[..last])?;
        self.pending = Some((ids[last], rows[last]));
        Ok(())
    }

    /// The model's logits for the next step (the last token fed first, with the chord set
    /// for that step).
    pub fn logits(&mut self) -> Result<&[f32], ModelError> {
        self.feed_pending()?;
        self.model.feed(&[])
    }

    /// Feed the model the last token, with the chord under the step it predicts
    /// ([`Continuer::set_chord`]) for a harmony model.
    fn feed_pending(&mut self) -> Result<(), ModelError> {
        if let Some((id, rows)) = self.pending.take() {
            self.model.set_harmony(self.chords.tones());
            self.model.feed_at(&[id], &[rows])?;
        }
        Ok(())
    }

    /// After `id`: an onset sounds, a rest or `/` silences, a hold keeps what was.
    fn track_sounding(&mut self, id: u32) {
        if Some(id) != self.hold {
            self.sounding = self.onset.get(id as usize).copied().unwrap_or(false);
        }
    }

    /// Sample the next token (in the piece's key, or the model's frame without
    /// `follow_key`) and feed it back to the model.
    pub fn next(&mut self, settings: &SamplerSettings) -> Result<Token, ModelError> {
        let mut settings = SamplerSettings { allow_song_end: false, ..*settings };
        self.feed_pending()?;
        let logits = self.model.feed(&[])?;
        if settings.guard && normalised_entropy(logits) > GUARD_ENTROPY {
            self.guarded += 1;
            settings.temperature *= 0.5;
            if self.key_frame {
                settings.steering.scale = settings.steering.scale.or(Some(Scale::Key));
            }
        }
        if settings.memory > 0.0 && self.memory.observed() > 0 {
            // The blend, as logits for the sampler (temperature and biases apply to it).
            self.memory.predict(&mut self.remembered);
            blend_logits(logits, &self.remembered, settings.memory, &self.onset, &mut self.probs, &mut self.blended);
            self.profile.shape(&mut self.blended, &self.onset, settings.memory);
        } else {
            self.blended.copy_from_slice(logits);
        }
        // The register is asked for in the key the answer is played in.
        let played_shift = if self.follow_key { self.shift } else { 0 };
        self.steerer.steer(&mut self.blended, &settings.steering, played_shift);
        self.developer.shape(&mut self.blended, settings.develop);
        if let (Some(hold), false) = (self.hold, self.sounding) {
            // Nothing sounds: a hold would hold nothing (and, first in an answer, would
            // lengthen a note that has already ended).
            self.blended[hold as usize] = f32::NEG_INFINITY;
        }
        let (metre, ring) = (self.developer.metre(), self.model.card().grid().steps_per_beat as usize);
        let strong = is_strong(self.bar_position(), metre.bar_steps as usize, ring);
        self.chords.shape(&mut self.blended, settings.follow_chords, strong);
        self.cadence.set_chord(if settings.follow_chords > 0.0 { self.chords.tones() } else { 0 });
        if settings.cadence {
            self.cadence.shape(&mut self.blended);
        }
        let id = self.sampler.sample(&self.blended, &settings, self.special);
        let rows = self.developer.metre().rows(self.developer.len() as i64);
        self.developer.heard(id);
        self.cadence.heard(id);
        self.memory.observe(id);
        self.profile.observe(id);
        self.steerer.heard(id);
        self.chords.heard(id);
        self.track_sounding(id);
        self.pending = Some((id, rows));
        let token = self.model.vocab().token(id).cloned().unwrap_or(Token::Rest);
        let back = if self.follow_key { -self.shift } else { 0 };
        Ok(token.transposed(back).unwrap_or(Token::Rest))
    }
}

/// How an answer sits in the music: see [`Continuer::shape_answer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnswerShape {
    /// The answer's longest length in steps; `None`: it goes on (no cadence).
    pub max_steps: Option<usize>,
    /// The piece's key (the cadence's tonic and dominant); `None`: no cadence.
    pub key: Option<Key>,
}

/// A declared key this much less fitting for the seed's notes than the estimated key
/// (in Pearson correlation with the key profiles) is not trusted: the notes are followed.
pub const KEY_DISTRUST: f64 = 0.25;

/// The key a seed is continued in, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SeedKey {
    pub key: Option<Key>,
    /// What the file declares, if anything.
    pub declared: Option<Key>,
    /// The declared key was overruled by the notes.
    pub followed_notes: bool,
}

/// The seed's key: the declared one, unless the notes fit another key (one that puts them
/// into another transposition) far better; else the estimated one.
pub fn seed_key(seed: &Score, normalisation: KeyNormalisation) -> SeedKey {
    let estimate = estimate_key(&seed.notes, ESTIMATION_PROFILE);
    let Some(declared) = seed.declared_key else {
        return SeedKey { key: estimate.map(|e| e.key), declared: None, followed_notes: false };
    };
    let trusted = SeedKey { key: Some(declared), declared: Some(declared), followed_notes: false };
    let Some(estimate) = estimate else { return trusted };
    let declared_fit = key_fit(&seed.notes, declared, ESTIMATION_PROFILE);
    let other_frame = shift_for(normalisation, Some(estimate.key)) != shift_for(normalisation, Some(declared));
    if other_frame && estimate.correlation - declared_fit > KEY_DISTRUST {
        return SeedKey { key: Some(estimate.key), followed_notes: true, ..trusted };
    }
    trusted
}

/// Where the seed ends, in beats: its stated end (end of track, last bar line) with the rests
/// before it, unless that lies more than a bar after the last note; then the bar line after
/// the last note.
pub fn seed_end(seed: &Score) -> f64 {
    let notes_end = seed.end_beat();
    let ts = seed.time_signature_at(notes_end);
    let stated = seed.end().max(seed.bar_lines.last().copied().unwrap_or(0.0));
    if stated <= notes_end + ts.bar_beats() + 1e-9 {
        return stated;
    }
    let into_bar = (notes_end - ts.beat()).rem_euclid(ts.bar_beats());
    if into_bar < 1e-6 {
        notes_end
    } else {
        notes_end + ts.bar_beats() - into_bar
    }
}

/// The first `bars` bars of a piece (bars of its metre, counted after a pickup where its bar
/// lines or, without bar lines, its accents show one), notes cut at the bar line; `None` if
/// it is not that long.
pub fn first_bars(score: &Score, bars: usize) -> Option<Score> {
    let cut = bar_line_after(score, bars)?;
    if cut >= score.end_beat() - 1e-9 {
        return None;
    }
    let mut out = score.clone();
    out.notes.retain(|n| n.onset < cut - 1e-9);
    out.notes.iter_mut().for_each(|n| n.duration = n.duration.min(cut - n.onset));
    out.tempi.retain(|t| t.beat < cut);
    out.time_signatures.retain(|t| t.beat() < cut);
    out.bar_lines.retain(|&b| b <= cut + 1e-9);
    out.phrases.retain(|p| p.0 < cut);
    out.length = Some(cut);
    Some(out)
}

/// The beat of the bar line that ends bar `bars` (from 1; a pickup before the first bar line
/// is not counted).
fn bar_line_after(score: &Score, bars: usize) -> Option<f64> {
    let mut beat = first_downbeat(score);
    for _ in 0..bars {
        beat += score.time_signature_at(beat).bar_beats();
        if beat > score.end() + 1e-9 {
            return None;
        }
    }
    Some(beat)
}

/// A continued score: the seed and what was added.
#[derive(Debug, Clone, PartialEq)]
pub struct Continued {
    /// The sampled tokens, in the seed's key.
    pub tokens: Vec<Token>,
    /// The seed's notes (voice 0, a note held on by the continuation lengthened) and the
    /// continuation's (voice 1), with the seed's tempo map, time signatures and key.
    pub score: Score,
    pub key: SeedKey,
    /// Where the continuation starts, beats.
    pub start: f64,
}

/// Continue a whole score from its end ([`seed_end`], rests included) to the bar line
/// `bars` bars later, in the metre and at the tempo in force at the seed's end, over
/// `chords` (one a bar from the continuation's first bar line; the bar it starts in takes
/// the first too), if any.
pub fn continue_score(
    continuer: &mut Continuer,
    seed: &Score,
    bars: usize,
    chords: &Progression,
    settings: &SamplerSettings,
    velocity: u8,
) -> Result<Continued, ModelError> {
    let card = continuer.model.card().clone();
    let grid = card.grid();
    let key = seed_key(seed, card.encoding.key_normalisation);
    let shift = shift_for(card.encoding.key_normalisation, key.key);
    let mut tokens = encode_score(seed, grid, card.encoding.kind, 0);
    tokens.pop(); // the `/`
    let end = seed_end(seed);
    let end_steps = (end / grid.step_beats()).round() as usize;
    tokens.resize(end_steps.max(tokens.len()), Token::Rest);
    let start = tokens.len() as f64 * grid.step_beats();
    let ts = seed.time_signature_at(start);
    // Bars count from the metre's start (the first downbeat, after a pickup, in the first
    // metre), or from the seed's last bar line in it.
    let metre_start = if ts.beat() < 1e-9 { first_downbeat(seed) } else { ts.beat() };
    let origin = seed.bar_lines.iter().copied().rfind(|&b| b >= ts.beat() - 1e-9 && b <= start + 1e-9);
    let into_bar = (start - origin.unwrap_or(metre_start)).rem_euclid(ts.bar_beats());
    let to_bar_line = (ts.bar_beats() - into_bar) % ts.bar_beats();
    let steps = ((to_bar_line + bars as f64 * ts.bar_beats()) / grid.step_beats()).round() as usize;
    let bar_steps = (ts.bar_beats() / grid.step_beats()).round().max(1.0) as u32;
    let downbeat = tokens.len() as i64 - (into_bar / grid.step_beats()).round() as i64;
    continuer.prime_in(&tokens, shift, Metre { bar_steps, downbeat })?;
    continuer.remember(&tokens);
    continuer.shape_answer(&AnswerShape { max_steps: Some(steps), key: key.key });
    let mut generated = Vec::with_capacity(steps);
    let first_bar_line = (to_bar_line / grid.step_beats()).round() as usize;
    for k in 0..steps {
        let bar = k.saturating_sub(first_bar_line) / bar_steps as usize;
        continuer.set_chord(chords.at_bar(bar));
        generated.push(continuer.next(settings)?);
    }
    // Decoded together, holds at the start of the continuation lengthen the seed's last note.
    let all: Vec<Token> = tokens.iter().chain(&generated).cloned().collect();
    let decoded = decode_tokens(&all, grid, 0, velocity, seed.initial_bpm(), None);
    let mut notes: Vec<Note> = seed.notes.iter().map(|n| Note { voice: 0, ..*n }).collect();
    for held in decoded.notes.iter().filter(|n| n.onset < start - 1e-9 && n.end() > start + 1e-9) {
        let near = grid.step_beats();
        for n in notes.iter_mut().filter(|n| n.pitch == held.pitch && (n.end() - start).abs() < near) {
            n.duration = held.end() - n.onset;
        }
    }
    notes.extend(decoded.notes.iter().filter(|n| n.onset >= start - 1e-9).map(|n| Note { voice: 1, ..*n }));
    let mut score = Score { notes, length: Some(start + steps as f64 * grid.step_beats()), ..seed.clone() };
    score.bar_lines.clear();
    score.phrases.clear();
    if key.followed_notes {
        score.declared_key = key.key;
    }
    score.sort();
    Ok(Continued { tokens: generated, score, key, start })
}
