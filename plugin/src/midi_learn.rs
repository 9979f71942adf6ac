//! MIDI learn: which of the player's controllers (a channel and a CC number) drives which
//! parameter. The editor arms a parameter ("Learn MIDI controller"); the next controller the
//! audio thread hears is mapped to it. A mapped controller sets its parameter's value until
//! the host moves that parameter (automation, the host's own controls), which then takes
//! over again: the controller never locks the host out. The map is atomics only (the audio
//! thread reads and learns without a lock or an allocation) and is kept in the plugin's
//! state (`midimap`) as (channel, CC, parameter id) triples.

use nice_plug::params::persist::PersistentField;
use std::sync::atomic::{AtomicU8, Ordering};

/// The parameters a controller can drive, by their stable ids, in slot order.
pub const LEARNABLE: [&str; 13] =
    ["temp", "rest", "entr", "mem", "dens", "leap", "rep", "regc", "regw", "bars", "gap", "level", "dev"];

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
    /// The next controller heard drives `slot` (the editor).
    pub fn arm(&self, slot: usize) {
        self.armed.store(slot as u8 + 1, Ordering::Release);
    }

    pub fn armed(&self) -> Option<usize> {
        (self.armed.load(Ordering::Acquire) as usize).checked_sub(1)
    }

    /// No controller drives `slot` any more.
    pub fn forget(&self, slot: usize) {
        for c in &self.by_controller {
            let _ = c.compare_exchange(slot as u8 + 1, 0, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    /// The controller (channel from 0, CC number) that drives `slot`, if one does.
    pub fn controller_of(&self, slot: usize) -> Option<(u8, u8)> {
        let i = self.by_controller.iter().position(|c| c.load(Ordering::Acquire) as usize == slot + 1)?;
        Some(((i / 128) as u8, (i % 128) as u8))
    }

    /// A controller moved (the audio thread): the slot it drives, if any. While a slot is
    /// armed, the controller is learnt for it first (and drives nothing else).
    pub fn hear(&self, channel: u8, cc: u8) -> Option<usize> {
        let armed = self.armed.swap(0, Ordering::AcqRel);
        if armed != 0 {
            self.forget(armed as usize - 1);
            self.by_controller[index(channel, cc)].store(armed, Ordering::Release);
        }
        (self.by_controller[index(channel, cc)].load(Ordering::Acquire) as usize).checked_sub(1)
    }
}

/// Saved as (channel, CC, parameter id): ids outlive slot numbers.
impl<'a> PersistentField<'a, Vec<(u8, u8, String)>> for MidiMap {
    fn set(&self, mappings: Vec<(u8, u8, String)>) {
        for c in &self.by_controller {
            c.store(0, Ordering::Release);
        }
        for (channel, cc, id) in mappings {
            if let Some(slot) = LEARNABLE.iter().position(|l| *l == id) {
                self.by_controller[index(channel, cc)].store(slot as u8 + 1, Ordering::Release);
            }
        }
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&Vec<(u8, u8, String)>) -> R,
    {
        let mappings = (0..LEARNABLE.len())
            .filter_map(|slot| self.controller_of(slot).map(|(ch, cc)| (ch, cc, LEARNABLE[slot].to_string())))
            .collect();
        f(&mappings)
    }
}

/// What the controllers set, on the audio thread: per slot, the value (normalised) and the
/// host's value when the controller took over.
#[derive(Debug, Clone, Copy, Default)]
pub struct Controlled {
    values: [Option<(f32, f32)>; LEARNABLE.len()],
}

impl Controlled {
    /// The controller of `slot` moved to `value` (0–127) while the host's value was `host`.
    pub fn set(&mut self, slot: usize, value: u8, host: f32) {
        if let Some(v) = self.values.get_mut(slot) {
            *v = Some((value.min(127) as f32 / 127.0, host));
        }
    }

    /// The value of `slot` (normalised): the controller's, unless the host has moved the
    /// parameter since (then the host's again, and the controller's is dropped).
    pub fn value(&mut self, slot: usize, host: f32) -> f32 {
        match self.values[slot] {
            Some((value, was)) if was == host => value,
            _ => {
                self.values[slot] = None;
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
        map.arm(3);
        assert_eq!(map.armed(), Some(3));
        assert_eq!(map.hear(2, 21), Some(3), "learnt and driving");
        assert_eq!(map.armed(), None);
        assert_eq!(map.hear(2, 21), Some(3));
        assert_eq!(map.hear(0, 21), None, "another channel is another controller");
        assert_eq!(map.controller_of(3), Some((2, 21)));
        // Learning again moves the slot to the new controller.
        map.arm(3);
        assert_eq!(map.hear(0, 7), Some(3));
        assert_eq!(map.hear(2, 21), None);
        let saved = map.map(|m| m.clone());
        assert_eq!(saved, vec![(0, 7, "mem".to_string())]);
        let restored = MidiMap::default();
        restored.set(vec![(0, 7, "mem".to_string()), (1, 1, "no-such-parameter".to_string())]);
        assert_eq!(restored.hear(0, 7), Some(3));
        map.forget(3);
        assert_eq!(map.controller_of(3), None);
    }

    #[test]
    fn the_host_takes_over_when_it_moves_the_parameter() {
        let mut c = Controlled::default();
        assert_eq!(c.value(0, 0.5), 0.5);
        c.set(0, 127, 0.5);
        assert_eq!(c.value(0, 0.5), 1.0, "the controller drives");
        assert_eq!(c.value(0, 0.25), 0.25, "the host moved: its value");
        assert_eq!(c.value(0, 0.5), 0.5, "and the controller's value is gone");
    }
}
