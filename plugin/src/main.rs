//! Continuo as a standalone app (nice-plug's standalone wrapper: JACK, ALSA or the dummy
//! backend; MIDI input from a keyboard). `continuo --help` lists the options.

fn main() {
    nice_plug::prelude::nice_export_standalone::<continuo::plugin::Continuo>();
}
