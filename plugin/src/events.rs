//! The fixed-size values that cross the audio thread: notes in and out, a grid step's token,
//! and an event buffer with a fixed capacity. Nothing here allocates after construction.

use continuo_core::Token;

/// The most pitches one step can start (larger chords keep their highest notes).
pub const MAX_CHORD: usize = 8;

/// One grid step of an answer, as the audio thread plays it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepToken {
    Rest,
    Hold,
    Onset { pitches: [u8; MAX_CHORD], len: u8 },
}

impl StepToken {
    /// From a model token (a song end plays as a rest).
    pub fn from_token(token: &Token) -> StepToken {
        match token {
            Token::Hold => StepToken::Hold,
            Token::Rest | Token::SongEnd => StepToken::Rest,
            Token::Onset(p) => {
                let mut pitches = [0u8; MAX_CHORD];
                let keep = &p[p.len().saturating_sub(MAX_CHORD)..];
                pitches[..keep.len()].copy_from_slice(keep);
                StepToken::Onset { pitches, len: keep.len() as u8 }
            }
        }
    }

    pub fn pitches(&self) -> &[u8] {
        match self {
            StepToken::Onset { pitches, len } => &pitches[..*len as usize],
            _ => &[],
        }
    }
}

/// The sustain pedal's controller number.
pub const SUSTAIN_CC: u8 = 64;

/// A MIDI event at a sample of the block: notes, and any other channel message (controllers,
/// pitch bend, pressure, program change) as its three bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteEvent {
    On { sample: usize, channel: u8, pitch: u8, velocity: u8 },
    Off { sample: usize, channel: u8, pitch: u8 },
    Midi { sample: usize, bytes: [u8; 3] },
}

impl NoteEvent {
    pub fn sample(&self) -> usize {
        match *self {
            NoteEvent::On { sample, .. } | NoteEvent::Off { sample, .. } | NoteEvent::Midi { sample, .. } => sample,
        }
    }

    /// The same event at another sample.
    pub fn at(self, sample: usize) -> NoteEvent {
        match self {
            NoteEvent::On { channel, pitch, velocity, .. } => NoteEvent::On { sample, channel, pitch, velocity },
            NoteEvent::Off { channel, pitch, .. } => NoteEvent::Off { sample, channel, pitch },
            NoteEvent::Midi { bytes, .. } => NoteEvent::Midi { sample, bytes },
        }
    }

    pub fn channel(&self) -> u8 {
        match *self {
            NoteEvent::On { channel, .. } | NoteEvent::Off { channel, .. } => channel,
            NoteEvent::Midi { bytes, .. } => bytes[0] & 0x0f,
        }
    }

    /// The sustain pedal: `Some(down)` for a CC64 message.
    /// Whether this is All Sound Off (CC 120) or All Notes Off (CC 123), on any channel.
    pub fn all_off(&self) -> bool {
        matches!(*self, NoteEvent::Midi { bytes: [status, 120 | 123, _], .. } if status & 0xf0 == 0xb0)
    }

    pub fn pedal(&self) -> Option<bool> {
        match *self {
            NoteEvent::Midi { bytes: [status, SUSTAIN_CC, value], .. } if status & 0xf0 == 0xb0 => Some(value >= 64),
            _ => None,
        }
    }
}

/// A control the player presses for an action ("answer now", "keep"): a controller,
/// pressed while its value is 64 or more, or a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Controller(u8),
    Key(u8),
}

impl Trigger {
    /// Whether `event` is this control: `Some(pressed)`, else `None`.
    pub fn pressed_by(self, event: NoteEvent) -> Option<bool> {
        match (self, event) {
            (Trigger::Key(k), NoteEvent::On { pitch, .. }) if pitch == k => Some(true),
            (Trigger::Key(k), NoteEvent::Off { pitch, .. }) if pitch == k => Some(false),
            (Trigger::Controller(c), NoteEvent::Midi { bytes: [status, cc, value], .. })
                if status & 0xf0 == 0xb0 && cc == c =>
            {
                Some(value >= 64)
            }
            _ => None,
        }
    }
}

/// The plugin's output events in one block (the answer, the player's passed through, the
/// built-in voice's): note-ons and other events up to here...
pub const OUTPUT_EVENTS: usize = 2048;
/// ...and room kept beyond them for note-offs, one per pitch and channel.
pub const OFF_RESERVE: usize = 128 * 16;
/// The most events the plugin sends in one block: what a host's (or the standalone's) MIDI
/// output buffer must hold, so that no note-off is dropped.
pub const MOST_OUTPUT_EVENTS: usize = OUTPUT_EVENTS + OFF_RESERVE;

/// Output events of one block, in a buffer allocated once. Events past its capacity are
/// dropped and counted (never a note-off: room is kept for those). Each event is marked as
/// the player's, passed on, or the plugin's own (the answer), for the built-in voice.
pub struct EventSink {
    events: Vec<NoteEvent>,
    passed: Vec<bool>,
    capacity: usize,
    dropped: usize,
}

impl EventSink {
    pub fn with_capacity(capacity: usize) -> EventSink {
        // Filled and emptied, so its pages are touched before the audio thread uses them.
        let mut events = vec![NoteEvent::Off { sample: 0, channel: 0, pitch: 0 }; capacity + OFF_RESERVE];
        events.clear();
        let mut passed = vec![false; events.capacity()];
        passed.clear();
        EventSink { events, passed, capacity, dropped: 0 }
    }

    pub fn clear(&mut self) {
        self.events.clear();
        self.passed.clear();
    }

    /// An event of the plugin's own (the answer).
    pub fn push(&mut self, event: NoteEvent) {
        self.push_marked(event, false);
    }

    /// An event of the player's, passed on.
    pub fn push_passed(&mut self, event: NoteEvent) {
        self.push_marked(event, true);
    }

    fn push_marked(&mut self, event: NoteEvent, passed: bool) {
        let is_off = matches!(event, NoteEvent::Off { .. });
        // Note-offs may use the reserve (one per pitch and channel), note-ons may not.
        if self.events.len() < self.capacity || (is_off && self.events.len() < self.events.capacity()) {
            self.events.push(event);
            self.passed.push(passed);
        } else {
            self.dropped += 1;
        }
    }

    pub fn events(&self) -> &[NoteEvent] {
        &self.events
    }

    /// The plugin's own events (not the player's passed on).
    pub fn own_events(&self) -> impl Iterator<Item = NoteEvent> + '_ {
        self.events.iter().zip(&self.passed).filter(|(_, passed)| !**passed).map(|(e, _)| *e)
    }

    /// Events dropped since the last call.
    pub fn take_dropped(&mut self) -> usize {
        std::mem::take(&mut self.dropped)
    }
}
