//! Key estimation against the keys the files declare: the Essen songs' `*X:` (the goal is
//! ≥ 90 % agreement) and, reported alongside, the MIDI key signatures of the other corpora.

mod common;

use continuo_core::key::{estimate_key, estimate_key_with_bonus, Profile};
use continuo_core::midi::MidiOptions;
use continuo_core::song::ESTIMATION_PROFILE;
use continuo_core::{read_music_file, Score};

fn declared(corpus: &str, ext: &str) -> Option<Vec<Score>> {
    let dir = common::data_dir(corpus)?;
    let scores = common::files(&dir, &[ext])
        .iter()
        .filter_map(|p| read_music_file(p, &MidiOptions::default()).ok())
        .filter(|s| s.declared_key.is_some())
        .collect();
    Some(scores)
}

fn agreement(scores: &[Score], estimate: impl Fn(&Score) -> Option<continuo_core::Key>) -> f64 {
    let hits = scores.iter().filter(|s| estimate(s) == s.declared_key).count();
    hits as f64 / scores.len() as f64
}

#[test]
fn estimated_keys_agree_with_declared_keys_on_essen() {
    let Some(scores) = declared("essen-kern", "krn") else { return };
    assert!(scores.len() > 5000, "only {} Essen songs declare a key", scores.len());
    let plain_kk =
        agreement(&scores, |s| estimate_key_with_bonus(&s.notes, Profile::KrumhanslKessler, 0.0).map(|e| e.key));
    let kk = agreement(&scores, |s| estimate_key(&s.notes, Profile::KrumhanslKessler).map(|e| e.key));
    let aarden = agreement(&scores, |s| estimate_key(&s.notes, Profile::AardenEssen).map(|e| e.key));
    println!(
        "key agreement on {} Essen songs: plain Krumhansl-Schmuckler {:.1} %, with final-note bonus: Krumhansl-Kessler {:.1} %, Aarden-Essen {:.1} %",
        scores.len(),
        plain_kk * 100.0,
        kk * 100.0,
        aarden * 100.0
    );
    let used = agreement(&scores, |s| estimate_key(&s.notes, ESTIMATION_PROFILE).map(|e| e.key));
    assert!(used >= kk.max(aarden) - 1e-12, "the estimation profile is not the better one");
    assert!(used >= 0.90, "key agreement {:.1} % is below 90 %", used * 100.0);
}

#[test]
fn estimated_keys_on_the_midi_corpora_are_reported() {
    for (corpus, floor) in [("oneills-midi", 0.6), ("bach-chorales-midi", 0.6)] {
        let Some(scores) = declared(corpus, "mid") else { return };
        let rate = agreement(&scores, |s| estimate_key(&s.notes, ESTIMATION_PROFILE).map(|e| e.key));
        println!("key agreement on {} {corpus} files with a key signature: {:.1} %", scores.len(), rate * 100.0);
        assert!(rate >= floor, "{corpus}: {:.1} %", rate * 100.0);
    }
}
