//! Choosing the standalone's devices on a real JACK server (`plugin/src/devices.rs`): the
//! window lists the other clients' MIDI sources and audio sinks, and connects Continuo's
//! MIDI input and its voice at once, in place of what was connected. Continuo's ports are
//! made here as nice-plug's standalone names them, beside a keyboard, pads and a sound card.
//!
//! Needs a running JACK server: `scripts/host-test.sh` runs this file with its dummy server
//! and `CONTINUO_REQUIRE_JACK=1`; without a server it says it was skipped (and fails when
//! the variable asks for one).

use continuo::devices::{Devices, JACK_CLIENT};
use jack::{AudioIn, AudioOut, Client, ClientOptions, MidiIn, MidiOut};

fn client(name: &str) -> Option<Client> {
    Client::new(name, ClientOptions::NO_START_SERVER).ok().map(|(c, _)| c)
}

#[test]
fn on_jack_the_midi_input_and_the_audio_output_are_connected_at_once() {
    let Some(continuo) = client(JACK_CLIENT) else {
        assert!(std::env::var_os("CONTINUO_REQUIRE_JACK").is_none(), "no JACK server runs");
        println!("SKIPPED: no JACK server runs (scripts/host-test.sh runs this with one)");
        return;
    };
    let _input = continuo.register_port("midi_input", MidiIn::default()).unwrap();
    let _voice = [1, 2].map(|n| continuo.register_port(&format!("output_{n}"), AudioOut::default()).unwrap());
    let keys = client("keys").unwrap();
    let _keys_out = keys.register_port("out", MidiOut::default()).unwrap();
    let pads = client("pads").unwrap();
    let _pads_out = pads.register_port("out", MidiOut::default()).unwrap();
    let card = client("card").unwrap();
    let _playback = [1, 2].map(|n| card.register_port(&format!("playback_{n}"), AudioIn::default()).unwrap());
    // Ports are connected only between active clients.
    let name = continuo.name().to_string();
    let _active = [continuo, keys, pads, card].map(|c| c.activate_async((), ()).unwrap());
    assert_eq!(name, JACK_CLIENT, "another client is called {JACK_CLIENT} on this server");

    let devices = Devices::find();
    assert!(matches!(devices, Devices::Jack(_)), "Continuo's client was not found on JACK");
    let sources = devices.midi_inputs();
    assert!(sources.contains(&"keys:out".into()) && sources.contains(&"pads:out".into()), "{sources:?}");
    assert!(!sources.iter().any(|s| s.starts_with("continuo:")), "{sources:?}");
    assert!(devices.audio_outputs().contains(&"card".into()), "{:?}", devices.audio_outputs());

    devices.connect_midi_input("keys:out").unwrap();
    assert_eq!(devices.midi_input_now().as_deref(), Some("keys:out"));
    devices.connect_midi_input("pads:out").unwrap();
    let Devices::Jack(jack) = &devices else { unreachable!() };
    let connected = jack.port_by_name("continuo:midi_input").unwrap().get_connections();
    assert_eq!(connected, ["pads:out"], "the keyboard chosen before was let go");
    devices.connect_audio_output("card").unwrap();
    for n in [1, 2] {
        let connected = jack.port_by_name(&format!("continuo:output_{n}")).unwrap().get_connections();
        assert_eq!(connected, [format!("card:playback_{n}")]);
    }
    assert!(devices.connect_midi_input("nobody:out").is_err(), "a source that is not there is an error");
    println!("JACK devices: {} MIDI sources listed, the input and the voice connected at once", sources.len());
}
