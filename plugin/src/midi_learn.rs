//! MIDI learn: which of the player's controllers (a channel and a CC number) drives which
//! parameter. The editor arms a parameter ("Learn MIDI controller"); the next controller the
//! audio thread hears is mapped to it. A mapped controller sets its parameter's value until
//! the host moves that parameter (automation, the host's own controls), which then takes
//! over again: the controller never locks the host out. The map is atomics only (the audio
//! thread reads and learns without a lock or an allocation) and is kept in the plugin's
//! state (`midimap`) as (channel, CC, parameter id) triples.

use nice_plug::params::persist::PersistentField;
use nice_plug::prelude::{FloatParam, IntParam, Param};
use std::sync::atomic::{AtomicU8, Ordering};

/// A parameter a controller can drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learnable {
    Temperature,
    RestBias,
    Entropy,
    Memory,
    Density,
    Leap,
    Repetition,
    RegisterCentre,
    RegisterWidth,
    AnswerBars,
    Gap,
    Level,
    Develop,
    FollowChords,
}

impl Learnable {
    /// Every learnable parameter, in slot order.
    pub const ALL: [Learnable; 14] = [
        Learnable::Temperature,
        Learnable::RestBias,
        Learnable::Entropy,
        Learnable::Memory,
        Learnable::Density,
        Learnable::Leap,
        Learnable::Repetition,
        Learnable::RegisterCentre,
        Learnable::RegisterWidth,
        Learnable::AnswerBars,
        Learnable::Gap,
        Learnable::Level,
        Learnable::Develop,
        Learnable::FollowChords,
    ];

    /// The parameter's stable id (as the host and the saved state know it).
    pub fn id(self) -> &'static str {
        match self {
            Learnable::Temperature => "temp",
            Learnable::RestBias => "rest",
            Learnable::Entropy => "entr",
            Learnable::Memory => "mem",
            Learnable::Density => "dens",
            Learnable::Leap => "leap",
            Learnable::Repetition => "rep",
            Learnable::RegisterCentre => "regc",
            Learnable::RegisterWidth => "regw",
            Learnable::AnswerBars => "bars",
            Learnable::Gap => "gap",
            Learnable::Level => "level",
            Learnable::Develop => "dev",
            Learnable::FollowChords => "fchd",
        }
    }

    /// The learnable parameter with id `id`, if it is one (the editor, a saved state).
    pub fn from_id(id: &str) -> Option<Learnable> {
        Learnable::ALL.into_iter().find(|l| l.id() == id)
    }

    /// Its slot: its place in [`Learnable::ALL`].
    fn slot(self) -> usize {
        self as usize
    }

    /// The learnable parameter in `slot` (slot + 1 stored: 0 is none).
    fn stored(value: u8) -> Option<Learnable> {
        Learnable::ALL.get((value as usize).checked_sub(1)?).copied()
    }
}

/// Controllers: 16 channels of 128 CC numbers.
const CONTROLLERS: usize = 16 * 128;

/// For each controller, the slot it drives plus one (0: none); the slot armed plus one.
pub struct MidiMap {
    by_controller: [AtomicU8; CONTROLLERS],
    armed: AtomicU8,
}

impl Default for MidiMap {
    fn default() -> Self {
        MidiMap { by_controller: std::array::from_fn(|_| AtomicU8::new(0)), armed: AtomicU8::new(0) }
    }
}

fn index(channel: u8, cc: u8) -> usize {
    (channel as usize & 15) * 128 + (cc as usize & 127)
}

impl MidiMap {
    /// The next controller heard drives `param` (the editor).
    pub fn arm(&self, param: Learnable) {
        self.armed.store(param.slot() as u8 + 1, Ordering::Release);
    }

    pub fn armed(&self) -> Option<Learnable> {
        Learnable::stored(self.armed.load(Ordering::Acquire))
    }

    /// No controller drives `param` any more.
    pub fn forget(&self, param: Learnable) {
        for c in &self.by_controller {
            let _ = c.compare_exchange(param.slot() as u8 + 1, 0, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    /// The controller (channel from 0, CC number) that drives `param`, if one does.
    pub fn controller_of(&self, param: Learnable) -> Option<(u8, u8)> {
        let i = self.by_controller.iter().position(|c| Learnable::stored(c.load(Ordering::Acquire)) == Some(param))?;
        Some(((i / 128) as u8, (i % 128) as u8))
    }

    /// A controller moved (the audio thread): the parameter it drives, if any. While a
    /// parameter is armed, the controller is learnt for it first (and drives nothing else).
    pub fn hear(&self, channel: u8, cc: u8) -> Option<Learnable> {
        if let Some(armed) = Learnable::stored(self.armed.swap(0, Ordering::AcqRel)) {
            self.forget(armed);
            self.by_controller[index(channel, cc)].store(armed.slot() as u8 + 1, Ordering::Release);
        }
        Learnable::stored(self.by_controller[index(channel, cc)].load(Ordering::Acquire))
    }
}

/// Saved as (channel, CC, parameter id): ids outlive slot numbers.
impl<'a> PersistentField<'a, Vec<(u8, u8, String)>> for MidiMap {
    fn set(&self, mappings: Vec<(u8, u8, String)>) {
        for c in &self.by_controller {
            c.store(0, Ordering::Release);
        }
        // A saved map may hold anything: controllers outside MIDI's 16 channels and 128
        // numbers are left out, not folded onto others.
        for (channel, cc, id) in mappings.into_iter().filter(|&(channel, cc, _)| channel < 16 && cc < 128) {
            if let Some(param) = Learnable::from_id(&id) {
                self.by_controller[index(channel, cc)].store(param.slot() as u8 + 1, Ordering::Release);
            }
        }
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&Vec<(u8, u8, String)>) -> R,
    {
        let mappings = Learnable::ALL
            .into_iter()
            .filter_map(|param| self.controller_of(param).map(|(ch, cc)| (ch, cc, param.id().to_string())))
            .collect();
        f(&mappings)
    }
}

/// What the controllers set, on the audio thread: per parameter, the value (normalised) and
/// the host's value when the controller took over.
#[derive(Debug, Clone, Copy, Default)]
pub struct Controlled {
    values: [Option<(f32, f32)>; Learnable::ALL.len()],
}

impl Controlled {
    /// The controller of `param` moved to `value` (0–127) while the host's value was `host`.
    pub fn set(&mut self, param: Learnable, value: u8, host: f32) {
        self.values[param.slot()] = Some((value.min(127) as f32 / 127.0, host));
    }

    /// A float parameter's value this block: its controller's, else the host's, smoothed
    /// over the block's `steps`.
    pub fn float(&mut self, param: Learnable, p: &FloatParam, steps: u32) -> f32 {
        let smoothed = p.smoothed.next_step(steps);
        let host = p.modulated_normalized_value();
        let value = self.value(param, host);
        if value == host {
            smoothed
        } else {
            p.preview_plain(value)
        }
    }

    /// An integer parameter's value: its controller's, else the host's.
    pub fn int(&mut self, param: Learnable, p: &IntParam) -> i32 {
        let host = p.modulated_normalized_value();
        let value = self.value(param, host);
        if value == host {
            p.value()
        } else {
            p.preview_plain(value)
        }
    }

    /// The value of `param` (normalised): the controller's, unless the host has moved the
    /// parameter since (then the host's again, and the controller's is dropped).
    pub fn value(&mut self, param: Learnable, host: f32) -> f32 {
        let slot = &mut self.values[param.slot()];
        match *slot {
            Some((value, was)) if was == host => value,
            _ => {
                *slot = None;
                host
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_armed_slot_learns_the_next_controller_and_keeps_it_in_the_state() {
        let map = MidiMap::default();
        assert_eq!(map.hear(0, 20), None, "nothing mapped yet");
        let memory = Learnable::Memory;
        map.arm(memory);
        assert_eq!(map.armed(), Some(memory));
        assert_eq!(map.hear(2, 21), Some(memory), "learnt and driving");
        assert_eq!(map.armed(), None);
        assert_eq!(map.hear(2, 21), Some(memory));
        assert_eq!(map.hear(0, 21), None, "another channel is another controller");
        assert_eq!(map.controller_of(memory), Some((2, 21)));
        // Learning again moves the parameter to the new controller.
        map.arm(memory);
        assert_eq!(map.hear(0, 7), Some(memory));
        assert_eq!(map.hear(2, 21), None);
        let saved = map.map(|m| m.clone());
        assert_eq!(saved, vec![(0, 7, "mem".to_string())]);
        let restored = MidiMap::default();
        restored.set(vec![(0, 7, "mem".to_string()), (1, 1, "no-such-parameter".to_string())]);
        assert_eq!(restored.hear(0, 7), Some(memory));
        // Controllers outside MIDI's range in a saved map are left out, not folded onto
        // channel 8 or controller 127 (issue #24).
        let restored = MidiMap::default();
        restored.set(vec![(200, 7, "mem".to_string()), (0, 255, "temp".to_string())]);
        assert_eq!((restored.hear(8, 7), restored.hear(0, 127)), (None, None));
        assert_eq!(restored.map(|m| m.clone()), vec![]);
        map.forget(memory);
        assert_eq!(map.controller_of(memory), None);
    }

    #[test]
    fn the_host_takes_over_when_it_moves_the_parameter() {
        let (mut c, t) = (Controlled::default(), Learnable::Temperature);
        assert_eq!(c.value(t, 0.5), 0.5);
        c.set(t, 127, 0.5);
        assert_eq!(c.value(t, 0.5), 1.0, "the controller drives");
        assert_eq!(c.value(t, 0.25), 0.25, "the host moved: its value");
        assert_eq!(c.value(t, 0.5), 0.5, "and the controller's value is gone");
    }

    #[test]
    fn every_learnable_parameter_has_its_own_id_and_slot() {
        for (slot, param) in Learnable::ALL.into_iter().enumerate() {
            assert_eq!((param.slot(), Learnable::from_id(param.id())), (slot, Some(param)));
        }
        assert_eq!(Learnable::from_id("mode"), None);
    }
}
