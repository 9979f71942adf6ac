//! Property tests (proptest) for the readers and the codec: the readers never panic on any
//! input and read back what the writer wrote; the encodings round-trip.

use continuo_core::encoding::{decode, encode, EncodingKind, Token};
use continuo_core::grid::{quantise, unquantise, StepNote};
use continuo_core::kern::parse_kern;
use continuo_core::midi::{parse_midi, write_midi, MidiOptions};
use continuo_core::vocab::Vocabulary;
use continuo_core::{Grid, Note, Score};
use proptest::prelude::*;

/// Monophonic step notes: (gap before, length, pitch) triples laid end to end.
fn monophonic() -> impl Strategy<Value = Vec<StepNote>> {
    prop::collection::vec((0u32..4, 1u32..12, 0u8..=127), 0..40).prop_map(|parts| {
        let mut step = 0;
        parts
            .into_iter()
            .map(|(gap, steps, pitch)| {
                step += gap;
                let n = StepNote { step, steps, pitch, velocity: 80, voice: 0 };
                step += steps;
                n
            })
            .collect()
    })
}

/// Any step notes, overlapping freely.
fn polyphonic() -> impl Strategy<Value = Vec<StepNote>> {
    prop::collection::vec((0u32..64, 1u32..16, 30u8..90, 0u8..4), 0..40).prop_map(|v| {
        v.into_iter().map(|(step, steps, pitch, voice)| StepNote { step, steps, pitch, velocity: 80, voice }).collect()
    })
}

fn shape(notes: &[StepNote]) -> Vec<(u32, u32, u8)> {
    let mut v: Vec<_> = notes.iter().map(|n| (n.step, n.steps, n.pitch)).collect();
    v.sort();
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn melody_round_trips_monophonic_songs(notes in monophonic()) {
        let tokens = encode(&notes, EncodingKind::Melody);
        prop_assert_eq!(tokens.len() as u32, notes.last().map_or(0, |n| n.end()));
        prop_assert_eq!(shape(&decode(&tokens, 80)), shape(&notes));
    }

    #[test]
    fn both_encodings_are_stable_on_any_song(notes in polyphonic()) {
        // Quantising first gives what encoders see in practice (no same-pitch overlaps).
        let q = quantise(&unquantise(&notes, Grid::SIXTEENTH), Grid::SIXTEENTH);
        for kind in [EncodingKind::Melody, EncodingKind::Chords] {
            let tokens = encode(&q, kind);
            prop_assert_eq!(encode(&decode(&tokens, 80), kind), tokens);
        }
        // Chords keep every onset.
        let decoded = decode(&encode(&q, EncodingKind::Chords), 80);
        for n in &q {
            prop_assert!(decoded.iter().any(|d| d.step == n.step && d.pitch == n.pitch));
        }
    }

    #[test]
    fn tokens_survive_their_text_form_and_the_vocabulary(notes in polyphonic()) {
        let tokens = encode(&quantise(&unquantise(&notes, Grid::SIXTEENTH), Grid::SIXTEENTH), EncodingKind::Chords);
        let text: Vec<String> = tokens.iter().map(Token::to_string).collect();
        let parsed: Vec<Token> = text.iter().map(|t| t.parse().unwrap()).collect();
        prop_assert_eq!(&parsed, &tokens);
        let vocab = Vocabulary::build([tokens.as_slice()], 1);
        prop_assert_eq!(vocab.decode(&vocab.encode(&tokens)).unwrap(), tokens);
    }

    #[test]
    fn transposing_there_and_back_is_exact(notes in monophonic(), shift in -6i32..=6) {
        let tokens = encode(&notes, EncodingKind::Melody);
        if let Some(moved) = tokens.iter().map(|t| t.transposed(shift)).collect::<Option<Vec<_>>>() {
            let back: Vec<Token> = moved.iter().map(|t| t.transposed(-shift).unwrap()).collect();
            prop_assert_eq!(back, tokens);
        }
    }

    #[test]
    fn midi_reader_never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_midi(&bytes, &MidiOptions::default());
    }

    #[test]
    fn midi_reader_never_panics_on_mutated_files(
        notes in polyphonic(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let score = Score { notes: unquantise(&notes, Grid::SIXTEENTH), ..Score::default() };
        let mut bytes = write_midi(&score);
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let keep = cut.index(bytes.len() + 1);
        let _ = parse_midi(&bytes[..keep], &MidiOptions::default());
    }

    #[test]
    fn midi_reads_back_what_was_written(notes in polyphonic(), bpm in 20.0f64..400.0) {
        let q = quantise(&unquantise(&notes, Grid::SIXTEENTH), Grid::SIXTEENTH);
        let mut score = Score {
            notes: unquantise(&q, Grid::SIXTEENTH),
            tempi: vec![continuo_core::score::TempoChange { beat: 0.0, bpm }],
            ..Score::default()
        };
        score.sort();
        match parse_midi(&write_midi(&score), &MidiOptions::default()) {
            Ok(back) => {
                prop_assert_eq!(back.notes, score.notes);
                prop_assert!((back.tempi[0].bpm - bpm).abs() / bpm < 1e-4);
            }
            Err(e) => prop_assert!(score.notes.is_empty(), "{}", e),
        }
    }

    #[test]
    fn kern_reader_never_panics_on_any_text(text in "\\PC{0,300}") {
        let _ = parse_kern(&text);
        let _ = parse_kern(&format!("**kern\n{text}"));
    }

    #[test]
    fn kern_reader_never_panics_on_kernish_text(lines in prop::collection::vec("[0-9.a-gA-Gr#\\-n\\[\\]_{}();qLJ =*^vx+\\t-]{0,12}", 0..30)) {
        let _ = parse_kern(&format!("**kern\t**kern\n{}", lines.join("\n")));
    }

    #[test]
    fn kern_reads_generated_melodies(parts in prop::collection::vec((prop::sample::select(vec![1u32, 2, 4, 8, 16]), 0usize..3, prop::option::of(0usize..7), 1usize..3), 1..30)) {
        // Write a melody as kern text and check the notes it reads as.
        let mut text = String::from("**kern\n");
        let mut expected = Vec::new();
        let mut beat = 0.0;
        for (dur, dots, letter, octave) in parts {
            let beats = 4.0 / dur as f64 * (2.0 - 0.5f64.powi(dots as i32));
            text.push_str(&format!("{dur}{}", ".".repeat(dots)));
            match letter {
                Some(l) => {
                    let name = ['c', 'd', 'e', 'f', 'g', 'a', 'b'][l];
                    text.push_str(&name.to_string().repeat(octave));
                    let pc = [0, 2, 4, 5, 7, 9, 11][l];
                    expected.push(Note { onset: beat, duration: beats, pitch: (12 * (4 + octave) + pc) as u8, velocity: 80, voice: 0 });
                }
                None => text.push('r'),
            }
            text.push('\n');
            beat += beats;
        }
        text.push_str("*-\n");
        match parse_kern(&text) {
            Ok(score) => {
                prop_assert_eq!(score.notes.len(), expected.len());
                for (got, want) in score.notes.iter().zip(&expected) {
                    prop_assert!((got.onset - want.onset).abs() < 1e-9 && (got.duration - want.duration).abs() < 1e-9);
                    prop_assert_eq!(got.pitch, want.pitch);
                }
            }
            Err(e) => prop_assert!(expected.is_empty(), "{}", e),
        }
    }
}
