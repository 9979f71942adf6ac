//! Following an external MIDI clock, on the audio thread: the system real-time messages on
//! the MIDI input (24 clock ticks a quarter note, Start, Continue, Stop, and the Song
//! Position Pointer) read as the host's transport would be, so a drum machine or another
//! computer leads the standalone's tempo and its start and stop.
//!
//! The tempo is measured over the last few ticks, so a tempo change is followed within a
//! 16th; the position is the ticks counted since Start (or the Song Position Pointer),
//! carried on between ticks at the measured tempo. The clock leads from a message heard
//! until none has come for [`LOST_AFTER_SECONDS`] (a clock that sends no ticks while it is
//! stopped, or its cable pulled): then the host's transport leads again.
//! The clock's transport goes through [`crate::clock`] like a host's, marked exact: its
//! positions are taken as they are (a smoothed position would lag a change of tempo for a
//! second). Plain data, no allocation.

use crate::clock::HostTransport;
use nice_plug::midi::sysex::SysExMessage;

/// MIDI clock ticks a quarter note.
pub const TICKS_PER_BEAT: i64 = 24;
/// A running clock with no tick for this long is read as stopped (its cable pulled).
pub const LOST_AFTER_SECONDS: f64 = 0.5;
/// The tick intervals the tempo is measured over (a 24th of a beat each). Few, so that a
/// change of tempo is followed before the position the clock runs on at the old tempo
/// drifts a quarter of a 16th from the ticks (which [`crate::clock`] would take for a
/// jump): a sudden change from 100 to 140 BPM drifts less than a tick.
const WINDOW: usize = 4;

/// A system real-time or common message of the MIDI clock (nice-plug hands the plugin every
/// message that is not a channel message as its `SysExMessage` type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMessage {
    /// `F8`: a 24th of a quarter note has passed.
    Tick,
    /// `FA`: play from the song's start, on the next tick.
    Start,
    /// `FB`: play on from where the clock stopped.
    Continue,
    /// `FC`: stop.
    Stop,
    /// `F2`: the song position in 16th notes (from the start), sent while stopped.
    SongPosition(u16),
}

impl SysExMessage for ClockMessage {
    type Buffer = [u8; 3];

    fn from_buffer(buffer: &[u8]) -> Option<Self> {
        match *buffer {
            [0xF8, ..] => Some(ClockMessage::Tick),
            [0xFA, ..] => Some(ClockMessage::Start),
            [0xFB, ..] => Some(ClockMessage::Continue),
            [0xFC, ..] => Some(ClockMessage::Stop),
            [0xF2, lsb, msb, ..] if lsb < 0x80 && msb < 0x80 => {
                Some(ClockMessage::SongPosition(lsb as u16 | (msb as u16) << 7))
            }
            _ => None,
        }
    }

    fn as_buffer(&self) -> (Self::Buffer, usize) {
        match *self {
            ClockMessage::Tick => ([0xF8, 0, 0], 1),
            ClockMessage::Start => ([0xFA, 0, 0], 1),
            ClockMessage::Continue => ([0xFB, 0, 0], 1),
            ClockMessage::Stop => ([0xFC, 0, 0], 1),
            ClockMessage::SongPosition(p) => ([0xF2, (p & 0x7F) as u8, (p >> 7 & 0x7F) as u8], 3),
        }
    }
}

/// What the clock has heard, in samples since the plugin started.
#[derive(Debug, Clone)]
pub struct MidiClock {
    /// The sample the current block starts at.
    now: u64,
    /// The sample of the last message heard.
    heard_at: Option<u64>,
    running: bool,
    /// The tick the last one counted was (-1 before the first after a Start).
    tick: i64,
    last_tick_at: Option<u64>,
    /// The last intervals between ticks, in samples (a ring), and how many are in it.
    intervals: [f64; WINDOW],
    measured: usize,
    /// The host's sample rate, as the last block gave it.
    sample_rate: f64,
}

impl Default for MidiClock {
    fn default() -> Self {
        MidiClock {
            now: 0,
            heard_at: None,
            running: false,
            tick: -1,
            last_tick_at: None,
            intervals: [0.0; WINDOW],
            measured: 0,
            sample_rate: 48_000.0,
        }
    }
}

impl MidiClock {
    /// Whether a MIDI clock leads the block that starts now (a message heard within
    /// [`LOST_AFTER_SECONDS`] before it).
    pub fn leads(&self) -> bool {
        self.heard_at.is_some_and(|at| self.now.saturating_sub(at) as f64 <= LOST_AFTER_SECONDS * self.sample_rate)
    }

    /// `message`, `offset` samples into the current block (after its [`Self::transport`]).
    pub fn receive(&mut self, message: ClockMessage, offset: u32) {
        let at = self.now + offset as u64;
        self.heard_at = Some(at);
        match message {
            ClockMessage::Tick => self.tick_at(at),
            ClockMessage::Start => {
                self.running = true;
                self.tick = -1;
                self.last_tick_at = None;
            }
            ClockMessage::Continue => {
                self.running = true;
                self.last_tick_at = None;
            }
            ClockMessage::Stop => self.running = false,
            ClockMessage::SongPosition(sixteenths) if !self.running => {
                self.tick = sixteenths as i64 * TICKS_PER_BEAT / 4 - 1;
            }
            ClockMessage::SongPosition(_) => {}
        }
    }

    fn tick_at(&mut self, at: u64) {
        if let Some(last) = self.last_tick_at {
            // A pause (a clock stopped or lost) is no tempo.
            let interval = at.saturating_sub(last) as f64;
            if interval > 0.0 && interval <= LOST_AFTER_SECONDS * self.sample_rate {
                self.intervals[self.measured % WINDOW] = interval;
                self.measured += 1;
            }
        }
        self.last_tick_at = Some(at);
        if self.running {
            self.tick += 1;
        }
    }

    /// Samples a tick lasts, measured over the last `WINDOW` ticks; `None` before two ticks.
    fn tick_samples(&self) -> Option<f64> {
        let n = self.measured.min(WINDOW);
        (n > 0).then(|| self.intervals[..n].iter().sum::<f64>() / n as f64)
    }

    /// The block that starts now is over: the next starts `len` samples later.
    pub fn end_block(&mut self, len: usize) {
        self.now += len as u64;
    }

    /// The transport for the block that starts now (`host`'s, unless a clock leads), from
    /// what was heard before it. Its own messages are received after this.
    pub fn transport(&mut self, host: HostTransport, sample_rate: f64) -> HostTransport {
        self.sample_rate = sample_rate;
        if !self.leads() {
            return host;
        }
        let tick = self.tick_samples();
        let since = self.last_tick_at.map(|t| self.now.saturating_sub(t) as f64);
        let lost = since.is_none_or(|s| s > LOST_AFTER_SECONDS * sample_rate);
        let playing = self.running && self.tick >= 0 && !lost;
        // Between ticks the position runs on at the measured tempo, never past the next tick.
        let between = match (tick, since) {
            (Some(t), Some(s)) if playing => (s / t).min(0.999),
            _ => 0.0,
        };
        HostTransport {
            playing,
            tempo: tick.map(|t| 60.0 * sample_rate / (t * TICKS_PER_BEAT as f64)).or(host.tempo),
            beat: Some((self.tick.max(0) as f64 + between) / TICKS_PER_BEAT as f64),
            sample: None,
            loop_beats: None,
            exact: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: f64 = 48_000.0;

    /// Ticks at `bpm` for `beats` beats from the clock's block position, in blocks of 256
    /// samples; the transports of the blocks.
    fn play(clock: &mut MidiClock, bpm: f64, beats: f64, next: &mut f64) -> Vec<HostTransport> {
        let tick = 60.0 * SR / bpm / TICKS_PER_BEAT as f64;
        let end = clock.now as f64 + beats * 60.0 * SR / bpm;
        let mut out = Vec::new();
        while (clock.now as f64) < end {
            let block_end = clock.now as f64 + 256.0;
            out.push(clock.transport(HostTransport::default(), SR));
            while *next < block_end {
                clock.receive(ClockMessage::Tick, (*next - clock.now as f64) as u32);
                *next += tick;
            }
            clock.end_block(256);
        }
        out
    }

    #[test]
    fn the_hosts_transport_leads_until_a_clock_is_heard() {
        let mut clock = MidiClock::default();
        let host = HostTransport { playing: true, tempo: Some(97.0), beat: Some(3.0), ..Default::default() };
        assert_eq!(clock.transport(host, SR), host);
        clock.receive(ClockMessage::Stop, 0);
        let t = clock.transport(host, SR);
        assert!(clock.leads() && !t.playing, "{t:?}");
    }

    #[test]
    fn start_ticks_and_a_tempo_change_give_position_and_tempo() {
        let mut clock = MidiClock::default();
        clock.receive(ClockMessage::Start, 0);
        let mut next = 10.0;
        let first = play(&mut clock, 100.0, 4.0, &mut next);
        let t = first.last().unwrap();
        assert!(t.playing);
        assert!((t.tempo.unwrap() - 100.0).abs() < 0.5, "{t:?}");
        assert!((t.beat.unwrap() - 4.0).abs() < 0.05, "{t:?}");
        let second = play(&mut clock, 140.0, 4.0, &mut next);
        let t = second.last().unwrap();
        assert!((t.tempo.unwrap() - 140.0).abs() < 0.5, "{t:?}");
        assert!((t.beat.unwrap() - 8.0).abs() < 0.05, "{t:?}");
        // Positions only move forward, beat by beat.
        let beats: Vec<f64> = first.iter().chain(&second).filter_map(|t| t.beat).collect();
        assert!(beats.windows(2).all(|w| w[1] >= w[0]), "{beats:?}");
    }

    #[test]
    fn stop_song_position_and_continue() {
        let mut clock = MidiClock::default();
        clock.receive(ClockMessage::Start, 0);
        let mut next = 0.0;
        play(&mut clock, 120.0, 2.0, &mut next);
        clock.receive(ClockMessage::Stop, 0);
        assert!(!clock.transport(HostTransport::default(), SR).playing);
        // Bar 3 (16th 32), then on from there.
        clock.receive(ClockMessage::SongPosition(32), 0);
        clock.receive(ClockMessage::Continue, 0);
        next = clock.now as f64;
        let t = play(&mut clock, 120.0, 1.0, &mut next);
        assert!((t[1].beat.unwrap() - 8.0).abs() < 0.05, "{:?}", t[1]);
        assert!(t[1].playing);
    }

    #[test]
    fn a_clock_that_stops_ticking_gives_the_time_back_to_the_host() {
        let mut clock = MidiClock::default();
        clock.receive(ClockMessage::Start, 0);
        let mut next = 0.0;
        play(&mut clock, 120.0, 1.0, &mut next);
        assert!(clock.transport(HostTransport::default(), SR).playing);
        clock.now += (LOST_AFTER_SECONDS * SR) as u64 + 1;
        let host = HostTransport { playing: true, tempo: Some(97.0), beat: Some(3.0), ..Default::default() };
        assert_eq!(clock.transport(host, SR), host);
        assert!(!clock.leads());
    }

    #[test]
    fn messages_read_back_as_written() {
        for m in [
            ClockMessage::Tick,
            ClockMessage::Start,
            ClockMessage::Continue,
            ClockMessage::Stop,
            ClockMessage::SongPosition(0x3FFF),
        ] {
            let (buffer, len) = m.as_buffer();
            assert_eq!(ClockMessage::from_buffer(&buffer[..len]), Some(m));
        }
        assert_eq!(ClockMessage::from_buffer(&[0xF0, 0x7E, 0xF7]), None);
        assert_eq!(ClockMessage::from_buffer(&[0xF2, 0x80]), None);
        assert_eq!(ClockMessage::from_buffer(&[]), None);
    }
}
