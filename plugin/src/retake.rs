//! The recent takes, on the inference worker's thread: each finished answer becomes a recent
//! take, with more answers to its phrase beside it where Answers per phrase asks; when the
//! editor asks, another take is chosen, or the chosen take's phrase is answered again (all at
//! once, with a new random seed; four times for Answer ×4); the chosen take is what the
//! editor shows and exports, and it goes to the audio thread for loop mode.

use crate::answering::JUST_IN_TIME_CHECK;
use crate::error::PluginError;
use crate::events::StepToken;
use crate::handle::Shared;
use crate::history::History;
use crate::inbox::Inbox;
use crate::link::{Link, LoopStep, Request, TAKE_CAPACITY};
use crate::priming::{describe, prime, sampler_settings};
use crate::slot::Slot;
use crate::sync::Locked;
use continuo_core::Token;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Keep the answer just played (or cut short) among the recent takes, and where Answers per
/// phrase asks for more, answer its phrase again that many times more beside it (the one
/// played stays chosen, so loop mode plays it; Next shows the others).
pub fn record(slot: &mut Slot, link: &Link, request: &Request, shared: &Shared) {
    let history = shared.history.locked().clone();
    if history.answer.is_empty() {
        return;
    }
    shared.recent.locked().add(*request, sampler_settings(link), history);
    let more = link.answers_per_phrase.load(Ordering::Relaxed).clamp(1, 4) as usize - 1;
    if more > 0 {
        if let Err(why) = answer_again(slot, link, shared, more, false) {
            shared.fail(why.to_string());
            link.repaint.request_repaint();
        }
    }
}

/// Choose another recent take, or answer the chosen one's phrase again, if the editor asked.
pub fn follow_recent(slot: &mut Slot, link: &Link, shared: &Shared, inbox: &mut Inbox) {
    inbox.read(link);
    let by = std::mem::take(&mut inbox.choose);
    if by != 0 {
        let chosen = shared.recent.locked().choose(by).map(|t| t.history.clone());
        if let Some(history) = chosen {
            show_and_loop(link, shared, history);
        }
    }
    let regenerate = std::mem::take(&mut inbox.regenerate) as usize;
    let variations = std::mem::take(&mut inbox.variations) as usize;
    if regenerate + variations > 0 {
        if let Err(why) = answer_again(slot, link, shared, variations.max(regenerate), true) {
            shared.fail(why.to_string());
            link.repaint.request_repaint();
        }
    }
}

/// The chosen take is what the editor shows and exports, and what loop mode plays.
fn show_and_loop(link: &Link, shared: &Shared, history: History) {
    send_loop_take(link, &history.answer);
    *shared.history.locked() = history;
    link.repaint.request_repaint();
}

/// Answer the chosen take's phrase `count` times more, each a new take; then choose the
/// first new one (`choose_new`), or keep the one chosen before, and show it.
fn answer_again(
    slot: &mut Slot,
    link: &Link,
    shared: &Shared,
    count: usize,
    choose_new: bool,
) -> Result<(), PluginError> {
    for _ in 0..count {
        answer_once(slot, link, shared)?;
    }
    let back = if choose_new { count - 1 } else { count };
    let chosen = shared.recent.locked().choose(-(back as i32)).map(|t| t.history.clone());
    if let Some(history) = chosen {
        show_and_loop(link, shared, history);
    }
    Ok(())
}

/// Answer the chosen take's phrase again, all at once (nothing waits for it to play), with
/// a new random seed and the sampling settings of now; the new take is added and chosen.
fn answer_once(slot: &mut Slot, link: &Link, shared: &Shared) -> Result<(), PluginError> {
    let take = shared.recent.locked().chosen().cloned();
    let Some(take) = take else { return Err(PluginError::NothingToAnswer) };
    let Some(continuer) = slot.continuer.as_mut() else { return Err(PluginError::NoModel) };
    let mut request = take.request;
    request.seed = take.request.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(take.number as u64);
    continuer.reseed(request.seed);
    continuer.follow_key = request.follow_key;
    let max_steps = Some(request.steps as usize);
    prime(continuer, &request.phrase, request.start_step, &request, max_steps)?;
    let settings = sampler_settings(link);
    let answer: Vec<Token> = (0..request.steps).map(|_| continuer.next(&settings)).collect::<Result<_, _>>()?;
    let history =
        History { answer, model: continuer.model.card().name.clone(), settings: describe(&settings), ..take.history };
    shared.recent.locked().add(request, settings, history);
    Ok(())
}

/// Send a take's tokens to the audio thread for loop mode (waiting, a second at most, while
/// its queue is full; what is not sent then counts as lost on the health line).
fn send_loop_take(link: &Link, tokens: &[Token]) {
    let len = tokens.len().min(TAKE_CAPACITY).min(u16::MAX as usize);
    for (index, token) in tokens[..len].iter().enumerate() {
        let mut step = LoopStep { index: index as u16, len: len as u16, token: StepToken::from_token(token) };
        let waited = Instant::now();
        while let Err(back) = link.loop_take.push(step) {
            if link.shutdown.load(Ordering::Acquire) || waited.elapsed() > Duration::from_secs(1) {
                link.health.lost.fetch_add((len - index) as u64, Ordering::Relaxed);
                return;
            }
            step = back;
            std::thread::park_timeout(JUST_IN_TIME_CHECK);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Steps of a take that the audio thread's full loop queue cannot take, after a second
    /// of waiting, are counted for the health line (issue #24).
    #[test]
    fn steps_a_full_loop_queue_cannot_take_are_counted() {
        let link = Link::new();
        let rest = LoopStep { index: 0, len: 1, token: StepToken::Rest };
        while link.loop_take.push(rest).is_ok() {}
        send_loop_take(&link, &vec![Token::Rest; 10]);
        assert_eq!(link.health.lost.load(Ordering::Relaxed), 10);
    }
}
