//! The answering loop, on the inference worker's thread: one request answered step by step,
//! at most `AHEAD` steps before the music, so a change of temperature or rest bias shapes the
//! very next notes. In continuous mode it also reads the player's notes and, at each bar
//! line after the player has played (or when another model was chosen), primes the model
//! again with the last `CONTINUOUS_WINDOW_BARS` bars of both voices. Each step is sent to
//! the audio thread through the link's token queue and written into the history.

use crate::capture::{HeardNote, Phrase};
use crate::events::StepToken;
use crate::handle::Shared;
use crate::harmony_input::chord_of_word;
use crate::history::History;
use crate::inbox::Inbox;
use crate::link::{Answered, Link, Request, AHEAD};
use crate::priming::{describe, prime, sampler_settings};
use crate::slot::Slot;
use crate::sync::Locked;
use crate::takes::TakeKind;
use continuo_core::continuation::Continuer;
use continuo_core::inference::ModelError;
use continuo_core::Token;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Bars of both voices a continuous answer is primed with again.
pub const CONTINUOUS_WINDOW_BARS: i64 = 4;
/// How long a worker that waits for the music to move on sleeps at most between looks.
pub const JUST_IN_TIME_CHECK: Duration = Duration::from_millis(2);

/// Answer `request` step by step, just in time; returns early when the answer is no longer
/// wanted (a newer request, or the plugin closing).
pub fn answer(
    slot: &mut Slot,
    link: &Link,
    request: &Request,
    shared: &Shared,
    inbox: &mut Inbox,
) -> Result<(), ModelError> {
    let Some(continuer) = slot.continuer.as_mut() else { return Ok(()) };
    begin(continuer, link, request, shared, inbox)?;
    let mut voices = Voices::new(request);
    let end = if request.continuous { i64::MAX } else { request.start_step + request.steps as i64 };
    for step in request.start_step..end {
        if !wait_for_the_music(link, request, shared, step) {
            return Ok(());
        }
        if request.continuous {
            voices.follow(slot, link, request, shared, step)?;
        }
        let continuer = slot.continuer.as_mut().expect("a model once loaded stays");
        follow_memory(continuer, link, shared, inbox);
        let chord = link.chord.load(Ordering::Relaxed);
        continuer.set_chord(chord_of_word(chord));
        let token = continuer.next(&sampler_settings(link))?;
        link.health.guarded_steps.store(continuer.guarded(), Ordering::Relaxed);
        voices.answered(step, &token);
        let mut history = shared.history.locked();
        let origin = history.origin_step;
        history.heard_chord(step - origin, chord);
        history.push_answered(&token);
        drop(history);
        link.repaint.request_repaint();
        if !send(link, request, step, &token) {
            return Ok(());
        }
    }
    Ok(())
}

/// Before the first step: the random seed, the memory's commands, the model primed with the
/// phrase (which the session memory hears), and the history's new phrase.
fn begin(
    continuer: &mut Continuer,
    link: &Link,
    request: &Request,
    shared: &Shared,
    inbox: &mut Inbox,
) -> Result<(), ModelError> {
    // Nothing of this answer is ready yet.
    link.ready_until.store(request.start_step - 1, Ordering::Release);
    continuer.reseed(request.seed);
    continuer.follow_key = request.follow_key;
    // The session memory hears the player's phrase, then everything answered.
    follow_memory(continuer, link, shared, inbox);
    let max_steps = (!request.continuous).then_some(request.steps as usize);
    let phrase = prime(continuer, &request.phrase, request.start_step, request, max_steps)?;
    // The gap before the answer is waiting, not music: the memory hears the phrase up to
    // its last sound (else it learns that rests follow rests, and answers with silence).
    let sounding = phrase.iter().rposition(|t| *t != Token::Rest).map_or(0, |i| i + 1);
    continuer.remember(&phrase[..sounding]);
    *shared.history.locked() = history_of(continuer, link, request);
    if link.save_phrases.load(Ordering::Relaxed) {
        shared.keep(TakeKind::Phrase);
    }
    Ok(())
}

/// A new history: the request's phrase, no answer yet, and how it is being answered.
fn history_of(continuer: &Continuer, link: &Link, request: &Request) -> History {
    let first = request.phrase.notes().iter().map(|n| n.step).min().unwrap_or(request.start_step);
    let phrase: Vec<HeardNote> =
        request.phrase.notes().iter().map(|n| HeardNote { step: n.step - first, ..*n }).collect();
    let velocity = match link.answer_velocity.load(Ordering::Relaxed) {
        0 => (phrase.iter().map(|n| n.velocity as u32).sum::<u32>() / phrase.len().max(1) as u32).max(1) as u8,
        v => v.min(127) as u8,
    };
    History {
        phrase,
        answer: Vec::new(),
        answer_start: request.start_step - first,
        bar_position: continuer.bar_position(),
        origin_step: first,
        steps_per_beat: continuer.model.card().grid().steps_per_beat,
        bpm: link.bpm.load(Ordering::Relaxed) as f64,
        velocity,
        octave: link.octave.load(Ordering::Relaxed),
        model: continuer.model.card().name.clone(),
        settings: describe(&sampler_settings(link)),
        chords: Vec::new(),
    }
}

/// Wait until `step` is at most `AHEAD` steps before the music (following a SoundFont
/// meanwhile); false when the answer is no longer wanted.
fn wait_for_the_music(link: &Link, request: &Request, shared: &Shared, step: i64) -> bool {
    while link.now_step.load(Ordering::Acquire) < step - AHEAD {
        if !wanted(link, request) {
            return false;
        }
        shared.fonts.follow(&link.fonts, &link.repaint);
        std::thread::park_timeout(JUST_IN_TIME_CHECK);
    }
    wanted(link, request)
}

/// Send the answered `token` to the audio thread (waiting while its queue is full); false
/// when the answer is no longer wanted.
fn send(link: &Link, request: &Request, step: i64, token: &Token) -> bool {
    let mut answered = Answered { generation: request.generation, step, token: StepToken::from_token(token) };
    while let Err(back) = link.tokens.push(answered) {
        if !wanted(link, request) {
            return false;
        }
        answered = back;
        std::thread::park_timeout(JUST_IN_TIME_CHECK);
    }
    link.ready_until.store(step, Ordering::Release);
    true
}

/// Whether the answer of `request` is still wanted.
fn wanted(link: &Link, request: &Request) -> bool {
    link.current_generation() == request.generation && !link.shutdown.load(Ordering::Acquire)
}

/// Both voices of a continuous answer: the player's notes and its own, and whether the
/// player has played since the model was last primed.
struct Voices {
    player: Vec<HeardNote>,
    own: Vec<HeardNote>,
    heard_new: bool,
    bar_steps: i64,
}

impl Voices {
    fn new(request: &Request) -> Voices {
        let bar_steps = request.bar_steps.max(1) as i64;
        Voices { player: request.phrase.notes().to_vec(), own: Vec::new(), heard_new: false, bar_steps }
    }

    /// Read the player's new notes; at a bar line keep only the last window of both voices,
    /// follow a model change, and prime again if the player played or the model changed.
    fn follow(
        &mut self,
        slot: &mut Slot,
        link: &Link,
        request: &Request,
        shared: &Shared,
        step: i64,
    ) -> Result<(), ModelError> {
        while let Some(h) = link.heard.pop() {
            if h.generation == request.generation {
                self.player.push(h.note);
                self.heard_new = true;
            }
        }
        if (step - request.start_step) % self.bar_steps != 0 {
            return Ok(());
        }
        let window = CONTINUOUS_WINDOW_BARS * self.bar_steps;
        self.player.retain(|n| n.step >= step - window);
        self.own.retain(|n| n.step >= step - window);
        let swapped = slot.follow(link, shared);
        if self.heard_new || swapped {
            let continuer = slot.continuer.as_mut().expect("a model once loaded stays");
            if swapped {
                continuer.reseed(request.seed ^ step as u64);
                continuer.follow_key = request.follow_key;
            }
            prime(continuer, &self.recent(step, window), step, request, None)?;
            self.heard_new = false;
        }
        Ok(())
    }

    /// The answer's own voice takes the token played at `step`.
    fn answered(&mut self, step: i64, token: &Token) {
        match token {
            Token::Onset(pitches) => {
                self.own.extend(pitches.iter().map(|&pitch| HeardNote { step, steps: 1, pitch, velocity: 90 }))
            }
            Token::Hold => {
                self.own.iter_mut().rev().take_while(|n| n.step + n.steps as i64 == step).for_each(|n| n.steps += 1)
            }
            _ => {}
        }
    }

    /// The notes of the last `window` steps before `step` of both voices, in order of onset.
    fn recent(&self, step: i64, window: i64) -> Phrase {
        let mut notes: Vec<HeardNote> =
            self.player.iter().chain(&self.own).filter(|n| n.step >= step - window && n.step < step).copied().collect();
        notes.sort_by_key(|n| (n.step, n.pitch));
        Phrase::from_notes(&notes)
    }
}

/// Forget the session if the editor asked to; tell the editor how much is remembered; keep
/// the last phrase and answer, and learn from the takes, if the player asked to.
pub fn follow_memory(continuer: &mut Continuer, link: &Link, shared: &Shared, inbox: &mut Inbox) {
    inbox.read(link);
    if std::mem::take(&mut inbox.forget) {
        continuer.forget();
    }
    link.health.remembered.store(continuer.remembered(), Ordering::Relaxed);
    if std::mem::take(&mut inbox.keep) {
        shared.keep(TakeKind::Kept);
    }
    if std::mem::take(&mut inbox.learn) {
        shared.learn(link.repaint.clone());
    }
}
