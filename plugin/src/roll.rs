//! The editor's piano roll, on the GUI thread: the last bars of the phrase heard and of its
//! answer, each in its own colour, with bar lines, the Cs named, the take's number and, while
//! an answer plays, a playhead. [`view`] lays it out as plain data (tested without a
//! window); [`paint`] draws it.

use crate::harmony_input::chord_of_word;
use crate::history::History;
use crate::takes::history_score;
use continuo_core::{Note, Score};
use egui::{Align2, Color32, FontId, Rect, Stroke, Ui};

/// Beats the roll shows; older notes scroll out to the left.
pub const ROLL_BEATS: f64 = 32.0;
/// The player's notes and the answer's.
pub const HEARD: Color32 = Color32::from_rgb(90, 160, 255);
pub const ANSWERED: Color32 = Color32::from_rgb(255, 150, 60);
/// The names of the chords the answer followed, along the roll's top.
pub const CHORD: Color32 = Color32::from_rgb(150, 220, 150);
/// The fewest semitones the roll spans, so a phrase of few pitches is not drawn as bars.
const MIN_SPAN: u8 = 14;

/// What the roll shows: beats `start..end`, pitches `low..=high`, the bar lines' beats,
/// the notes in view, and the playhead's beat if it is in view.
#[derive(Debug, Clone, PartialEq)]
pub struct RollView {
    pub start: f64,
    pub end: f64,
    pub low: u8,
    pub high: u8,
    pub bars: Vec<f64>,
    pub notes: Vec<Note>,
    pub playhead: Option<f64>,
}

/// The roll of `score` (bars of `beats_per_bar`), with the playhead at `playhead` (a beat of
/// the score); `None` when there is nothing to draw.
pub fn view(score: &Score, playhead: Option<f64>, beats_per_bar: f64) -> Option<RollView> {
    if score.notes.is_empty() {
        return None;
    }
    let end = score.end_beat().max(playhead.unwrap_or(0.0)).max(1.0);
    let start = (end - ROLL_BEATS).max(0.0);
    let notes: Vec<Note> = score.notes.iter().filter(|n| n.end() > start).cloned().collect();
    let (mut low, mut high) = notes.iter().fold((u8::MAX, 0), |(lo, hi), n| (lo.min(n.pitch), hi.max(n.pitch)));
    low = low.saturating_sub(2);
    high = high.saturating_add(2).min(127);
    if high - low < MIN_SPAN {
        let grow = MIN_SPAN - (high - low);
        low = low.saturating_sub(grow / 2);
        high = (low + MIN_SPAN).min(127);
    }
    let bar = if beats_per_bar.is_finite() && beats_per_bar > 0.0 { beats_per_bar } else { 4.0 };
    let bars = ((start / bar).ceil() as i64..=(end / bar).floor() as i64).map(|b| b as f64 * bar).collect();
    let playhead = playhead.filter(|p| (start..=end).contains(p));
    Some(RollView { start, end, low, high, bars, notes, playhead })
}

/// The chords the answer followed that fall in beats `start..end` of `h`'s score: (beat,
/// name) of each change, the one sounding at `start` drawn there.
pub fn chord_labels(h: &History, start: f64, end: f64) -> Vec<(f64, String)> {
    let spb = h.steps_per_beat.max(1) as f64;
    let beat = |step: i64| step as f64 / spb;
    let first = h.chords.iter().rposition(|&(step, _)| beat(step) <= start).unwrap_or(0);
    h.chords[first.min(h.chords.len())..]
        .iter()
        .filter(|&&(step, _)| beat(step) < end)
        .map(|&(step, word)| {
            let name = chord_of_word(word).map_or("no chord".into(), |c| c.to_string());
            (beat(step).max(start), name)
        })
        .collect()
}

/// The playhead's beat in `h`'s score: the engine's `play_step`, counted from the
/// history's first step (none before the phrase or while nothing plays).
pub fn playhead_beat(h: &History, play_step: i64, answering: bool) -> Option<f64> {
    let step = play_step.checked_sub(h.origin_step)?;
    (answering && step >= 0 && !h.phrase.is_empty()).then(|| step as f64 / h.steps_per_beat.max(1) as f64)
}

/// Draw the roll of `h` in a box `height` points high across the width: the take's number
/// in its corner, the playhead at `playhead` (a beat of the score).
pub fn paint(ui: &mut Ui, h: &History, take: Option<u32>, playhead: Option<f64>, height: f32) {
    let (response, painter) = ui.allocate_painter(egui::vec2(ui.available_width(), height), egui::Sense::hover());
    let rect = response.rect;
    painter.rect_filled(rect, 6.0, Color32::from_gray(18));
    let Some(v) = view(&history_score(h), playhead, 4.0) else {
        let hint = "Play a phrase: Continuo answers when you pause";
        painter.text(rect.center(), Align2::CENTER_CENTER, hint, FontId::proportional(16.0), Color32::GRAY);
        return;
    };
    let x = |beat: f64| rect.left() + rect.width() * ((beat - v.start) / (v.end - v.start)) as f32;
    let row = rect.height() / (v.high - v.low + 1) as f32;
    let y = |pitch: u8| rect.bottom() - row * (pitch - v.low) as f32 - row / 2.0;
    let line = Stroke::new(1.0, Color32::from_gray(50));
    for &beat in &v.bars {
        painter.vline(x(beat), rect.y_range(), line);
    }
    let octaves: Vec<u8> = (v.low..=v.high).filter(|p| p % 12 == 0).collect();
    for &c in &octaves {
        painter.hline(rect.x_range(), y(c), Stroke::new(1.0, Color32::from_gray(36)));
    }
    let half = (row * 0.4).clamp(2.0, 7.0);
    for n in &v.notes {
        let (x0, x1) = (x(n.onset.max(v.start)), x(n.end()));
        let colour = if n.voice == 0 { HEARD } else { ANSWERED };
        let body = Rect::from_min_max(
            egui::pos2(x0, y(n.pitch) - half),
            egui::pos2(x1.max(x0 + 3.0) - 1.0, y(n.pitch) + half),
        );
        painter.rect_filled(body, 2.0, colour);
    }
    // The octaves' names over the notes, on a dark ground, so that no note hides them.
    for &c in &octaves {
        let name = format!("C{}", c as i32 / 12 - 1);
        let galley = painter.layout_no_wrap(name, FontId::proportional(11.0), Color32::from_gray(170));
        let at = egui::pos2(rect.left() + 4.0, y(c) - 2.0 - galley.size().y);
        painter.rect_filled(Rect::from_min_size(at, galley.size()).expand(1.5), 2.0, Color32::from_black_alpha(190));
        painter.galley(at, galley, Color32::from_gray(170));
    }
    for (beat, name) in chord_labels(h, v.start, v.end) {
        let at = egui::pos2(x(beat) + 3.0, rect.top() + 4.0);
        painter.text(at, Align2::LEFT_TOP, name, FontId::proportional(14.0), CHORD);
    }
    if let Some(beat) = v.playhead {
        painter.vline(x(beat), rect.y_range(), Stroke::new(2.0, Color32::from_gray(230)));
    }
    if let Some(number) = take {
        let at = egui::pos2(rect.right() - 8.0, rect.top() + 6.0);
        painter.text(
            at,
            Align2::RIGHT_TOP,
            format!("Take {number}"),
            FontId::proportional(18.0),
            Color32::from_gray(200),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(onset: f64, pitch: u8, voice: u8) -> Note {
        Note { onset, duration: 1.0, pitch, velocity: 90, voice }
    }

    #[test]
    fn the_roll_shows_the_last_bars_an_octave_at_least_and_the_playhead_in_view() {
        assert_eq!(view(&Score::default(), Some(1.0), 4.0), None);
        let score = Score { notes: vec![note(0.0, 60, 0), note(38.0, 62, 1), note(39.0, 64, 1)], ..Score::default() };
        let v = view(&score, Some(39.5), 4.0).unwrap();
        assert_eq!((v.start, v.end), (8.0, 40.0), "the last 32 beats");
        assert_eq!(v.notes.len(), 2, "the first note scrolled out");
        assert_eq!(v.bars, vec![8.0, 12.0, 16.0, 20.0, 24.0, 28.0, 32.0, 36.0, 40.0]);
        assert!(v.high - v.low >= MIN_SPAN && v.low <= 62 && v.high >= 64, "{}..{}", v.low, v.high);
        assert_eq!(v.playhead, Some(39.5));
        assert_eq!(view(&score, Some(2.0), 4.0).unwrap().playhead, None, "out of view");
        assert_eq!(view(&score, None, 3.0).unwrap().bars.first(), Some(&9.0), "bars of 3 beats");
    }

    #[test]
    fn the_chords_followed_are_named_where_they_change() {
        let word = |pitches: &[u8]| {
            let mut held = crate::harmony_input::HeldChord::default();
            pitches.iter().for_each(|&pitch| {
                held.hear(&crate::events::NoteEvent::On { sample: 0, channel: 0, pitch, velocity: 80 })
            });
            held.word()
        };
        let mut h = History { steps_per_beat: 4, ..History::default() };
        for step in 0..64 {
            let chord = if step < 16 {
                word(&[48, 52, 55])
            } else if step < 48 {
                word(&[45, 48, 52])
            } else {
                0
            };
            h.heard_chord(step, chord);
        }
        assert_eq!(h.chords.len(), 3, "{:?}", h.chords);
        let labels = chord_labels(&h, 2.0, 20.0);
        assert_eq!(labels, vec![(2.0, "C".to_string()), (4.0, "Am".into()), (12.0, "no chord".into())]);
        assert_eq!(chord_labels(&h, 5.0, 8.0), vec![(5.0, "Am".to_string())]);
        assert!(chord_labels(&History::default(), 0.0, 8.0).is_empty());
    }

    #[test]
    fn the_playhead_counts_from_the_phrase_and_only_while_answering() {
        let h = History {
            phrase: vec![crate::capture::HeardNote { step: 0, steps: 2, pitch: 60, velocity: 90 }],
            origin_step: 100,
            steps_per_beat: 4,
            ..History::default()
        };
        assert_eq!(playhead_beat(&h, 110, true), Some(2.5));
        assert_eq!(playhead_beat(&h, 110, false), None);
        assert_eq!(playhead_beat(&h, 90, true), None);
        assert_eq!(playhead_beat(&h, i64::MIN, true), None);
    }
}
