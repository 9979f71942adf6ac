//! What the plugin's behaviour tests share: the phrase they play in.

/// An 8-bar phrase, (beat, on?, pitch): the opening of a folk tune in quarters, halves and
/// whole notes (C major), each note released at 90 % of its length.
pub fn eight_bars() -> Vec<(f64, bool, u8)> {
    let tune = [
        (60, 1.0),
        (62, 1.0),
        (64, 1.0),
        (65, 1.0),
        (67, 2.0),
        (67, 2.0),
        (69, 1.0),
        (69, 1.0),
        (69, 1.0),
        (69, 1.0),
        (67, 4.0),
        (65, 1.0),
        (65, 1.0),
        (65, 1.0),
        (65, 1.0),
        (64, 2.0),
        (64, 2.0),
        (62, 1.0),
        (62, 1.0),
        (62, 1.0),
        (62, 1.0),
        (60, 4.0),
    ];
    let mut notes = Vec::new();
    let mut beat = 0.0;
    for (pitch, len) in tune {
        notes.push((beat, true, pitch));
        notes.push((beat + len * 0.9, false, pitch));
        beat += len;
    }
    assert_eq!(beat, 32.0);
    notes
}
