//! Round trips on every file of the three corpora in `../shared/data`: read → quantise →
//! tokens → notes, transposition there and back, and MIDI write → read.

mod common;

use continuo_core::encoding::{decode, encode, EncodingKind};
use continuo_core::grid::{quantise, StepNote};
use continuo_core::midi::{parse_midi, write_midi, MidiOptions};
use continuo_core::song::{decode_tokens, encode_score, song_key};
use continuo_core::{read_music_file, Grid, Score};

fn read_all(corpus: &str, ext: &str) -> Option<(usize, Vec<Score>)> {
    let dir = common::data_dir(corpus)?;
    let files = common::files(&dir, &[ext]);
    let scores: Vec<Score> = files.iter().filter_map(|p| read_music_file(p, &MidiOptions::default()).ok()).collect();
    Some((files.len(), scores))
}

/// Pitch, step and length only: what the tokens carry.
fn shape(notes: &[StepNote]) -> Vec<(u32, u32, u8)> {
    let mut v: Vec<_> = notes.iter().map(|n| (n.step, n.steps, n.pitch)).collect();
    v.sort();
    v
}

fn is_monophonic(notes: &[StepNote]) -> bool {
    notes.windows(2).all(|w| w[0].end() <= w[1].step)
}

fn check_corpus(corpus: &str, ext: &str, min_read: f64, monophonic_rate: std::ops::RangeInclusive<f64>) {
    let Some((found, scores)) = read_all(corpus, ext) else { return };
    let read_rate = scores.len() as f64 / found as f64;
    assert!(read_rate >= min_read, "{corpus}: read only {} of {found}", scores.len());
    let grid = Grid::SIXTEENTH;
    let mut monophonic = 0;
    for (i, score) in scores.iter().enumerate() {
        let q = quantise(&score.notes, grid);
        // Melody: exact for monophonic songs; stable (re-encoding gives the same tokens) always.
        let melody = encode(&q, EncodingKind::Melody);
        let decoded = decode(&melody, 80);
        if is_monophonic(&q) {
            monophonic += 1;
            assert_eq!(shape(&decoded), shape(&q), "{corpus} song {i}: melody round trip");
        }
        assert_eq!(encode(&decoded, EncodingKind::Melody), melody, "{corpus} song {i}: melody re-encoding");
        // Chords: re-encoding is stable and every onset survives.
        let chords = encode(&q, EncodingKind::Chords);
        let decoded = decode(&chords, 80);
        assert_eq!(encode(&decoded, EncodingKind::Chords), chords, "{corpus} song {i}: chord re-encoding");
        let onsets: std::collections::HashSet<(u32, u8)> = decoded.iter().map(|n| (n.step, n.pitch)).collect();
        assert!(q.iter().all(|n| onsets.contains(&(n.step, n.pitch))), "{corpus} song {i}: an onset was lost");
        // Key normalisation there and back is exact.
        if let Some((key, _)) = song_key(score) {
            let shift = key.shift_to_c_or_a();
            if score.can_transpose(shift) && is_monophonic(&q) {
                let tokens = encode_score(score, grid, EncodingKind::Melody, shift);
                let back = decode_tokens(&tokens, grid, -shift, 80, 120.0, None);
                assert_eq!(shape(&quantise(&back.notes, grid)), shape(&q), "{corpus} song {i}: transposition");
            }
        }
        // MIDI out and back in: the same notes, tempo and metre.
        let mut quantised = continuo_core::grid::quantise_score(score, grid);
        quantised.bar_lines.clear();
        quantised.phrases.clear();
        let back = parse_midi(&write_midi(&quantised), &MidiOptions { include_drums: true, ..MidiOptions::default() })
            .unwrap_or_else(|e| panic!("{corpus} song {i}: written MIDI unreadable: {e}"));
        assert_eq!(back.notes, quantised.notes, "{corpus} song {i}: MIDI round trip");
        assert_eq!(back.time_signatures, quantised.time_signatures, "{corpus} song {i}: metre");
        assert_eq!(back.tempi.len(), quantised.tempi.len(), "{corpus} song {i}: tempi");
    }
    let mono_rate = monophonic as f64 / scores.len() as f64;
    println!(
        "{corpus}: {} of {found} files read, {:.1} % monophonic on the 16th grid, all round trips exact",
        scores.len(),
        mono_rate * 100.0
    );
    assert!(
        monophonic_rate.contains(&mono_rate),
        "{corpus}: {:.1} % monophonic, outside {monophonic_rate:?}",
        mono_rate * 100.0
    );
}

#[test]
fn essen_round_trips() {
    check_corpus("essen-kern", "krn", 0.99, 0.98..=1.0);
}

/// About a fifth of O'Neill's tunes are not monophonic on a 16th grid: triplets of 16ths
/// and jigs written in sixths of a beat collide on it, and some tunes open on double stops.
#[test]
fn oneills_round_trips() {
    check_corpus("oneills-midi", "mid", 1.0, 0.75..=1.0);
}

/// Four-part chorales: (almost) none is monophonic.
#[test]
fn bach_round_trips() {
    check_corpus("bach-chorales-midi", "mid", 1.0, 0.0..=0.05);
}
