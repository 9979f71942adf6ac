//! The built-in voice, on the audio thread: a small polyphonic synthesiser that sounds the
//! answer (and, if asked, the player's own notes) for the standalone and for hosts that
//! take the plugin's audio output. Two patches: an FM electric piano (a sine carrier and
//! modulator at the same frequency, with a decaying modulation index for the bark of a hard
//! strike and a faint tine two octaves and a sixth up) and a plucked string (Karplus-Strong,
//! tuned with a fractional all-pass). Velocity shapes loudness and brightness; a released
//! note fades out within `RELEASE_SECONDS`. `VOICES` voices; a new note takes a free voice,
//! else the quietest releasing one, else the oldest. All memory is allocated when the synth
//! is made: `queue` and `render` never allocate. A third sound, a General MIDI SoundFont,
//! is played by [`crate::soundfont`]; the electric piano stands in until it is loaded.

use crate::events::NoteEvent;
use crate::soundfont::{FontPlayer, Handoff, CHUNK};
use std::f32::consts::TAU;
use std::sync::Arc;

/// Notes that sound at once.
pub const VOICES: usize = 16;
/// A released note is silent (−80 dB) after this long.
pub const RELEASE_SECONDS: f32 = 0.3;
/// Events one block can hand the synth; more note-ons are dropped (see `Synth::queue`).
pub const QUEUE: usize = 1024;
/// Places of the queue that only note-offs may take.
pub const OFF_ROOM: usize = 256;
/// The string's delay line: long enough for MIDI note 24 (32.7 Hz) at 96 kHz.
const MAX_DELAY: usize = 4096;
/// The level below which a voice is silent and free.
const SILENT: f32 = 1e-4;
/// Gain of one voice at full velocity before the output level: 16 loud notes stay near the
/// limiter's knee.
const VOICE_GAIN: f32 = 0.35;

/// The sound of the voice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Patch {
    EPiano,
    Pluck,
    SoundFont,
}

#[derive(Debug, Clone)]
struct Voice {
    active: bool,
    pitch: u8,
    /// Key down (false: releasing).
    gate: bool,
    /// When it started, to steal the oldest.
    started: u64,
    velocity: f32,
    /// The amplitude envelope and its per-sample factor while the key is down.
    level: f32,
    attack: f32,
    decay: f32,
    // E-piano: phases (cycles) of carrier and tine, modulation index and its decay.
    phase: f32,
    tine_phase: f32,
    increment: f32,
    index: f32,
    index_decay: f32,
    // Pluck: the string's delay line, its length, the all-pass tuning state.
    line: Vec<f32>,
    len: usize,
    pos: usize,
    last: f32,
    allpass: f32,
    allpass_x: f32,
    allpass_y: f32,
}

impl Voice {
    fn new() -> Voice {
        Voice {
            active: false,
            pitch: 0,
            gate: false,
            started: 0,
            velocity: 0.0,
            level: 0.0,
            attack: 0.0,
            decay: 1.0,
            phase: 0.0,
            tine_phase: 0.0,
            increment: 0.0,
            index: 0.0,
            index_decay: 1.0,
            line: vec![0.0; MAX_DELAY],
            len: 1,
            pos: 0,
            last: 0.0,
            allpass: 0.0,
            allpass_x: 0.0,
            allpass_y: 0.0,
        }
    }
}

/// The synthesiser: voices, the events of the block, and the settings.
pub struct Synth {
    voices: Vec<Voice>,
    /// The block's events: (sample, order of arrival, event), and how many have arrived.
    queue: Vec<(usize, u16, NoteEvent)>,
    arrived: u16,
    /// Note-ons the full queue could not take, since [`Synth::take_dropped`].
    dropped: usize,
    sample_rate: f32,
    /// The per-sample factor of a releasing note.
    release: f32,
    notes: u64,
    noise: u32,
    sine: Vec<f32>,
    /// The SoundFont's player, if this synth has one.
    font: Option<FontPlayer>,
    pub patch: Patch,
    /// What sounds this block: `patch`, or the electric piano while the SoundFont loads.
    now: Patch,
    /// The SoundFont's General MIDI program (0..=127).
    pub program: u8,
    /// Output gain (linear).
    pub gain: f32,
}

impl Synth {
    pub fn new(sample_rate: f32) -> Synth {
        let mut queue = vec![(0, 0, NoteEvent::Off { sample: 0, channel: 0, pitch: 0 }); QUEUE];
        queue.clear();
        let mut synth = Synth {
            voices: (0..VOICES).map(|_| Voice::new()).collect(),
            queue,
            arrived: 0,
            dropped: 0,
            sample_rate: 48_000.0,
            release: 0.0,
            notes: 0,
            noise: 0x9E37_79B9,
            sine: sine_table(),
            font: None,
            patch: Patch::EPiano,
            now: Patch::EPiano,
            program: 0,
            gain: 0.5,
        };
        synth.set_sample_rate(sample_rate);
        synth
    }

    /// The same synth, able to play the SoundFonts that `handoff` brings.
    pub fn with_font(mut self, handoff: Arc<Handoff>) -> Synth {
        let mut player = FontPlayer::new(handoff);
        player.set_sample_rate(self.sample_rate);
        self.font = Some(player);
        self
    }

    pub fn set_sample_rate(&mut self, sample_rate: f32) {
        self.sample_rate = sample_rate.max(8_000.0);
        self.release = per_sample(RELEASE_SECONDS / (1.0 / SILENT).ln(), self.sample_rate);
        if let Some(font) = self.font.as_mut() {
            font.set_sample_rate(self.sample_rate);
        }
    }

    /// What sounds now: the SoundFont only once it is loaded for this sample rate.
    pub fn now(&self) -> Patch {
        self.now
    }

    /// Notes sounding (or fading out).
    pub fn sounding(&self) -> usize {
        self.voices.iter().filter(|v| v.active).count()
    }

    /// Hand over a note event of this block (at its sample); other events are ignored. The
    /// last [`OFF_ROOM`] places of the queue are kept for note-offs; a note-off that finds
    /// the queue full takes back the queued note-ons of its pitch and releases the pitch at
    /// once: a note never sticks.
    pub fn queue(&mut self, event: NoteEvent) {
        let len = self.queue.len();
        match event {
            NoteEvent::On { .. } if len < QUEUE - OFF_ROOM => self.push(event),
            NoteEvent::On { .. } => self.dropped += 1,
            NoteEvent::Off { .. } if len < QUEUE => self.push(event),
            NoteEvent::Off { channel, pitch, .. } => {
                let same = |e: &NoteEvent| matches!(*e, NoteEvent::On { channel: c, pitch: p, .. } if (c, p) == (channel, pitch));
                self.queue.retain(|(_, _, e)| !same(e));
                self.play(event);
            }
            _ => {}
        }
    }

    /// Note-ons dropped since the last call (for the health line).
    pub fn take_dropped(&mut self) -> usize {
        std::mem::take(&mut self.dropped)
    }

    fn push(&mut self, event: NoteEvent) {
        self.queue.push((event.sample(), self.arrived, event));
        self.arrived = self.arrived.wrapping_add(1);
    }

    /// Every note fades out now (transport stop, bypass, voice off).
    pub fn release_all(&mut self) {
        self.voices.iter_mut().for_each(|v| v.gate = false);
        if let Some(font) = self.font.as_mut() {
            font.release_all();
        }
    }

    /// Render the block into `left` and `right` (added to what they hold), playing the queued
    /// events at their samples. Then the queue is empty.
    pub fn render(&mut self, left: &mut [f32], right: &mut [f32]) {
        let len = left.len().min(right.len());
        let font_plays = self.patch == Patch::SoundFont && self.font.as_mut().is_some_and(|f| f.follow(self.program));
        self.now = if self.patch == Patch::SoundFont && !font_plays { Patch::EPiano } else { self.patch };
        // In time, and in order of arrival at one sample; an unstable sort, which never
        // allocates, on a key that is unique.
        self.queue.sort_unstable_by_key(|&(sample, order, _)| (sample, order));
        let mut at = 0;
        for i in 0..self.queue.len() {
            let (sample, _, event) = self.queue[i];
            let until = sample.min(len);
            self.render_span(&mut left[at..until], &mut right[at..until]);
            at = at.max(until);
            self.play(event);
        }
        self.queue.clear();
        self.arrived = 0;
        self.render_span(&mut left[at..len], &mut right[at..len]);
    }

    /// A note starts on what sounds now; a note ends wherever it sounds.
    fn play(&mut self, event: NoteEvent) {
        match event {
            NoteEvent::On { .. } if self.now == Patch::SoundFont => self.font.iter_mut().for_each(|f| f.play(event)),
            NoteEvent::On { pitch, velocity, .. } => self.note_on(pitch, velocity),
            NoteEvent::Off { pitch, .. } => {
                self.voices.iter_mut().filter(|v| v.active && v.gate && v.pitch == pitch).for_each(|v| v.gate = false);
                self.font.iter_mut().for_each(|f| f.play(event));
            }
            NoteEvent::Midi { .. } => {}
        }
    }

    fn note_on(&mut self, pitch: u8, velocity: u8) {
        let v = self.free_voice();
        self.notes += 1;
        let (sr, velocity) = (self.sample_rate, velocity.clamp(1, 127) as f32 / 127.0);
        let freq = 440.0 * 2f32.powf((pitch.min(127) as f32 - 69.0) / 12.0);
        let voice = &mut self.voices[v];
        voice.active = true;
        voice.gate = true;
        voice.pitch = pitch;
        voice.started = self.notes;
        voice.velocity = velocity;
        voice.level = 0.0;
        voice.attack = 1.0 / (0.002 * sr);
        // Low notes ring longer, as on a piano.
        let ring = (2.5 * (261.6 / freq).sqrt()).clamp(0.4, 5.0);
        voice.decay = per_sample(ring, sr);
        voice.phase = 0.0;
        voice.tine_phase = 0.0;
        voice.increment = freq / sr;
        voice.index = 0.6 + 2.4 * velocity;
        voice.index_decay = per_sample(0.35, sr);
        if self.now == Patch::Pluck {
            let seed = &mut self.noise;
            pluck(voice, freq, sr, || {
                *seed ^= *seed << 13;
                *seed ^= *seed >> 17;
                *seed ^= *seed << 5;
                *seed as f32 / u32::MAX as f32 * 2.0 - 1.0
            });
        }
    }

    /// A voice for a new note: a free one, else the quietest releasing one, else the oldest.
    fn free_voice(&self) -> usize {
        let voices = self.voices.iter().enumerate();
        if let Some((i, _)) = voices.clone().find(|(_, v)| !v.active) {
            return i;
        }
        let releasing = voices.clone().filter(|(_, v)| !v.gate).min_by(|a, b| a.1.level.total_cmp(&b.1.level));
        releasing.or_else(|| voices.min_by_key(|(_, v)| v.started)).map_or(0, |(i, _)| i)
    }

    /// The voices (and the SoundFont's notes, if it sounds) from here to the next event,
    /// through one limiter.
    fn render_span(&mut self, left: &mut [f32], right: &mut [f32]) {
        let gain = VOICE_GAIN * self.gain;
        // Voices the electric piano sounded while the SoundFont loaded ring on as they began.
        let pluck = self.now == Patch::Pluck;
        let (voices, sine, release) = (&mut self.voices[..], &self.sine[..], self.release);
        match self.font.as_mut().filter(|_| self.now == Patch::SoundFont) {
            None => {
                for (l, r) in left.iter_mut().zip(right.iter_mut()) {
                    let out = limit(voices_sample(voices, sine, release, pluck) * gain);
                    *l += out;
                    *r += out;
                }
            }
            Some(font) => {
                for (l, r) in left.chunks_mut(CHUNK).zip(right.chunks_mut(CHUNK)) {
                    let (font_left, font_right) = font.next(l.len());
                    for i in 0..l.len() {
                        let v = voices_sample(voices, sine, release, pluck);
                        l[i] += limit((v + font_left[i]) * gain);
                        r[i] += limit((v + font_right[i]) * gain);
                    }
                }
            }
        }
    }
}

/// One sample of every sounding voice, summed: plucked strings, or electric pianos.
#[inline(always)]
fn voices_sample(voices: &mut [Voice], sine: &[f32], release: f32, pluck: bool) -> f32 {
    let mut sum = 0.0;
    for v in voices.iter_mut().filter(|v| v.active) {
        sum += if pluck { string(v) } else { epiano(v, sine) } * envelope(v, release);
    }
    sum
}

/// The factor that makes a level fall by e in `seconds`.
fn per_sample(seconds: f32, sample_rate: f32) -> f32 {
    (-1.0 / (seconds * sample_rate)).exp()
}

/// The voice's level for this sample: a 2 ms attack, then a decay while the key is down,
/// a faster one once released; a silent releasing voice is freed.
fn envelope(v: &mut Voice, release: f32) -> f32 {
    if v.gate && v.attack > 0.0 && v.level < 1.0 {
        v.level = (v.level + v.attack).min(1.0);
        if v.level >= 1.0 {
            v.attack = 0.0;
        }
    } else {
        v.level *= if v.gate { v.decay } else { release };
    }
    if !v.gate && v.level < SILENT {
        v.active = false;
    }
    v.level * v.velocity
}

/// One sample of the electric piano: two-operator FM (ratio 1:1) and a faint tine at 14
/// times the frequency, left out where it would alias.
fn epiano(v: &mut Voice, sine: &[f32]) -> f32 {
    let modulator = sin_cycles(sine, v.phase);
    let body = sin_cycles(sine, v.phase + v.index * v.velocity * modulator * (1.0 / TAU));
    let tine_increment = 14.0 * v.increment;
    let tine = if tine_increment < 0.45 { 0.12 * v.index * sin_cycles(sine, v.tine_phase) } else { 0.0 };
    v.phase = wrap(v.phase + v.increment);
    v.tine_phase = wrap(v.tine_phase + tine_increment);
    v.index *= v.index_decay;
    body + tine
}

/// A phase (cycles, below 2) back into 0..1, without a library call.
fn wrap(phase: f32) -> f32 {
    if phase >= 1.0 {
        phase - 1.0
    } else {
        phase
    }
}

/// Entries of the sine table (one cycle; one more for interpolation).
const SINE_TABLE: usize = 2048;

/// One cycle of a sine, `SINE_TABLE + 1` entries (made with the synth).
fn sine_table() -> Vec<f32> {
    (0..=SINE_TABLE).map(|i| (TAU * i as f32 / SINE_TABLE as f32).sin()).collect()
}

/// sin(2π x) for `x` within ±2^31 cycles, within 2e-6: the table, interpolated, without a
/// branch or a library call (voices at unrelated phases defeat branch prediction; `floor`
/// and `sin` are calls on baseline x86-64).
fn sin_cycles(table: &[f32], x: f32) -> f32 {
    let r = x - (x as i32) as f32; // -1 < r < 1
    let r = r + (r < 0.0) as i32 as f32; // 0 <= r < 1 (1.0 when rounding makes it so)
    let at = r * SINE_TABLE as f32;
    let i = (at as usize).min(SINE_TABLE - 1);
    let frac = at - i as f32;
    table[i] + frac * (table[i + 1] - table[i])
}

/// Fill the string's delay line with a burst of noise, darker for soft notes, for a string
/// tuned to `freq` (the delay's fraction through a first-order all-pass).
fn pluck(v: &mut Voice, freq: f32, sample_rate: f32, mut noise: impl FnMut() -> f32) {
    // The averaging filter delays by half a sample.
    let period = (sample_rate / freq - 0.5).clamp(2.0, (MAX_DELAY - 1) as f32);
    let whole = period.floor().max(1.0);
    let fraction = (period - whole).max(0.1);
    v.len = whole as usize;
    v.allpass = (1.0 - fraction) / (1.0 + fraction);
    v.allpass_x = 0.0;
    v.allpass_y = 0.0;
    v.pos = 0;
    let mut smooth = 0.0;
    let brightness = 0.3 + 0.7 * v.velocity;
    for x in &mut v.line[..v.len] {
        smooth += brightness * (noise() - smooth);
        *x = smooth;
    }
    v.last = 0.0;
}

/// One sample of the plucked string.
fn string(v: &mut Voice) -> f32 {
    let y = v.line[v.pos];
    let averaged = 0.498 * (y + v.last);
    v.last = y;
    let tuned = v.allpass * averaged + v.allpass_x - v.allpass * v.allpass_y;
    v.allpass_x = averaged;
    v.allpass_y = tuned;
    v.line[v.pos] = tuned;
    v.pos = (v.pos + 1) % v.len;
    y * 2.0
}

/// A soft limiter: unchanged below 0.8, then bending towards ±1, never past it.
fn limit(x: f32) -> f32 {
    const KNEE: f32 = 0.8;
    let a = x.abs();
    if a <= KNEE {
        x
    } else {
        x.signum() * (KNEE + (1.0 - KNEE) * ((a - KNEE) / (1.0 - KNEE)).tanh())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SR: f32 = 48_000.0;

    fn on(sample: usize, pitch: u8, velocity: u8) -> NoteEvent {
        NoteEvent::On { sample, channel: 0, pitch, velocity }
    }

    fn off(sample: usize, pitch: u8) -> NoteEvent {
        NoteEvent::Off { sample, channel: 0, pitch }
    }

    /// Render `seconds` in blocks of 256 with `events` (absolute samples).
    fn render(synth: &mut Synth, seconds: f32, events: &[NoteEvent]) -> Vec<f32> {
        let total = (seconds * SR) as usize;
        let mut out = vec![0.0; total];
        let mut right = vec![0.0; 256];
        for start in (0..total).step_by(256) {
            let end = (start + 256).min(total);
            for e in events.iter().filter(|e| (start..end).contains(&e.sample())) {
                synth.queue(e.at(e.sample() - start));
            }
            right[..end - start].fill(0.0);
            synth.render(&mut out[start..end], &mut right[..end - start]);
        }
        out
    }

    fn peak(x: &[f32]) -> f32 {
        x.iter().fold(0.0f32, |m, v| if v.is_nan() { f32::NAN } else { m.max(v.abs()) })
    }

    #[test]
    fn both_patches_sound_where_notes_play_and_fall_silent_within_the_release() {
        for patch in [Patch::EPiano, Patch::Pluck] {
            let mut synth = Synth::new(SR);
            synth.patch = patch;
            // Silence, a note from 0.1 s to 0.6 s, silence.
            let out = render(&mut synth, 1.5, &[on(4_800, 60, 100), off(28_800, 60)]);
            let at = |s: f32| (s * SR) as usize;
            assert_eq!(peak(&out[..at(0.1)]), 0.0, "{patch:?}: sound before the note");
            assert!(peak(&out[at(0.1)..at(0.6)]) > 0.05, "{patch:?}: the note is not heard");
            let released = at(0.6) + (RELEASE_SECONDS * SR) as usize + 256;
            assert!(peak(&out[released..]) < 1e-3, "{patch:?}: sound after the release");
            assert_eq!(synth.sounding(), 0, "{patch:?}: the voice is free again");
        }
    }

    #[test]
    fn sixteen_loud_notes_and_more_never_clip_or_give_nan() {
        for patch in [Patch::EPiano, Patch::Pluck] {
            let mut synth = Synth::new(SR);
            synth.patch = patch;
            synth.gain = 4.0; // +12 dB: the limiter's work
            let chord: Vec<NoteEvent> = (0..24).map(|i| on(i * 10, 36 + 2 * i as u8, 127)).collect();
            let out = render(&mut synth, 0.5, &chord);
            let p = peak(&out);
            assert!(p.is_finite() && p <= 1.0, "{patch:?}: peak {p}");
            assert!(p > 0.5, "{patch:?}: peak {p}");
            assert_eq!(synth.sounding(), VOICES, "{patch:?}: 24 notes share 16 voices");
        }
    }

    /// The fundamental of `x` in Hz: the lag of the strongest autocorrelation within
    /// `lags`, refined by a parabola through its neighbours.
    fn fundamental(x: &[f32], lags: std::ops::Range<usize>) -> f32 {
        let r = |lag: usize| x[..x.len() - lag].iter().zip(&x[lag..]).map(|(a, b)| a * b).sum::<f32>();
        let best = lags.max_by(|&a, &b| r(a).total_cmp(&r(b))).unwrap();
        let (y0, y1, y2) = (r(best - 1), r(best), r(best + 1));
        let shift = 0.5 * (y0 - y2) / (y0 - 2.0 * y1 + y2);
        SR / (best as f32 + shift)
    }

    #[test]
    fn both_patches_are_in_tune() {
        for (patch, pitch, hz) in [(Patch::Pluck, 69, 440.0), (Patch::Pluck, 81, 880.0), (Patch::EPiano, 69, 440.0)] {
            let mut synth = Synth::new(SR);
            synth.patch = patch;
            let out = render(&mut synth, 0.3, &[on(0, pitch, 100)]);
            let period = (SR / hz) as usize;
            let f = fundamental(&out[(0.1 * SR) as usize..], period - 8..period + 8);
            let cents = 1200.0 * (f / hz).log2();
            assert!(cents.abs() < 5.0, "{patch:?} {pitch}: {f:.1} Hz, {cents:.1} cents off");
        }
    }

    #[test]
    fn the_fast_sine_is_a_sine() {
        let table = sine_table();
        for i in -2000..=2000 {
            let x = i as f32 / 997.0;
            let error = (sin_cycles(&table, x) - (TAU * x).sin()).abs();
            assert!(error < 2e-6, "sin at {x} cycles is off by {error}");
        }
    }

    #[test]
    fn a_louder_strike_is_louder() {
        let loudness = |velocity| {
            let mut synth = Synth::new(SR);
            peak(&render(&mut synth, 0.2, &[on(0, 60, velocity)]))
        };
        assert!(loudness(120) > 2.0 * loudness(40));
    }
}
