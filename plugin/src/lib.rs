//! Continuo, the plugin. The audio-thread logic lives in plain modules that take tempo,
//! beat position, sample rate and events in and give events out, so it is tested without a
//! host; the plugin wrappers are a thin shell around it.

pub mod answering;
pub mod capture;
pub mod click;
pub mod clock;
pub mod closing;
pub mod device_row;
pub mod devices;
pub mod editor;
pub mod engine;
pub mod error;
pub mod events;
pub mod feel;
pub mod handle;
pub mod harmony_input;
pub mod history;
pub mod inbox;
pub mod learn;
pub mod link;
pub mod midi_clock;
pub mod midi_learn;
pub mod params;
pub mod plugin;
pub mod preset_row;
pub mod presets;
pub mod priming;
pub mod recent;
pub mod retake;
pub mod roll;
pub mod saved_state;
pub mod sf2_file;
pub mod slot;
pub mod soundfont;
pub mod standalone_settings;
pub mod swing;
pub mod sync;
pub mod synth;
pub mod takes;
pub mod tap;
pub mod voices;
pub mod worker;

nice_plug::prelude::nice_export_clap!(plugin::Continuo);
nice_plug::prelude::nice_export_vst3!(plugin::Continuo);
