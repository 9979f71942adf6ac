//! The standalone's devices, chosen in its window: the MIDI input and the audio output.
//! On JACK the window connects Continuo's ports at once (a client of its own, which it
//! lists the ports with); on ALSA and the other backends nice-plug opens its devices at
//! launch, so a choice is remembered for the next one (`standalone_settings`). `main`
//! leaves out a remembered ALSA device that is not there now (nice-plug would refuse to
//! start), saying so. GUI thread and main; never the audio thread.

use jack::{Client, ClientOptions, PortFlags};

/// The standalone's JACK client and ports (nice-plug names the client after the plugin).
pub const JACK_CLIENT: &str = "continuo";
const MIDI_TYPE: &str = "8 bit raw midi";
const AUDIO_TYPE: &str = "32 bit float mono audio";
/// The options that name a device (each with its value), as `main` gives them to nice-plug.
pub const MIDI_INPUT: &str = "--midi-input";
pub const OUTPUT_DEVICE: &str = "--output-device";
pub const JACK_MIDI_INPUT: &str = "--connect-jack-midi-input";

/// Where the devices are chosen: on a running JACK server where Continuo's client is, or
/// among the system's devices for the next launch.
pub enum Devices {
    Jack(Client),
    NextLaunch,
}

impl Devices {
    /// JACK when Continuo runs on it (its client has ports there), else the next launch.
    pub fn find() -> Devices {
        match Client::new("continuo-devices", ClientOptions::NO_START_SERVER) {
            Ok((client, _)) if client.port_by_name(&format!("{JACK_CLIENT}:midi_input")).is_some() => {
                Devices::Jack(client)
            }
            _ => Devices::NextLaunch,
        }
    }

    /// The MIDI sources one may play Continuo from.
    pub fn midi_inputs(&self) -> Vec<String> {
        match self {
            Devices::Jack(client) => others(client.ports(None, Some(MIDI_TYPE), PortFlags::IS_OUTPUT)),
            Devices::NextLaunch => alsa_midi_inputs(),
        }
    }

    /// Where Continuo's voice may sound: JACK clients with audio inputs, or output devices.
    pub fn audio_outputs(&self) -> Vec<String> {
        match self {
            Devices::Jack(client) => {
                let mut clients: Vec<String> = others(client.ports(None, Some(AUDIO_TYPE), PortFlags::IS_INPUT))
                    .iter()
                    .filter_map(|p| p.split_once(':').map(|(c, _)| c.to_string()))
                    .collect();
                clients.dedup();
                clients
            }
            Devices::NextLaunch => output_devices(),
        }
    }

    /// The MIDI source connected to Continuo now (JACK), if one is.
    pub fn midi_input_now(&self) -> Option<String> {
        let Devices::Jack(client) = self else { return None };
        client.port_by_name(&format!("{JACK_CLIENT}:midi_input"))?.get_connections().into_iter().next()
    }

    /// Play Continuo from `source`: on JACK at once (in place of what was connected).
    pub fn connect_midi_input(&self, source: &str) -> Result<(), String> {
        let Devices::Jack(client) = self else { return Ok(()) };
        let input = format!("{JACK_CLIENT}:midi_input");
        let port = client.port_by_name(&input).ok_or("Continuo's MIDI input is not on JACK")?;
        for old in port.get_connections() {
            let _ = client.disconnect_ports_by_name(&old, &input);
        }
        client.connect_ports_by_name(source, &input).map_err(|e| format!("{source} → {input}: {e}"))
    }

    /// Sound the voice through `sink` (a JACK client: its first two audio inputs).
    pub fn connect_audio_output(&self, sink: &str) -> Result<(), String> {
        let Devices::Jack(client) = self else { return Ok(()) };
        let inputs: Vec<String> = client
            .ports(Some(&format!("^{}:", regex_quote(sink))), Some(AUDIO_TYPE), PortFlags::IS_INPUT)
            .into_iter()
            .take(2)
            .collect();
        for (n, input) in inputs.iter().enumerate() {
            let output = format!("{JACK_CLIENT}:output_{}", n + 1);
            if let Some(port) = client.port_by_name(&output) {
                for old in port.get_connections() {
                    let _ = client.disconnect_ports_by_name(&output, &old);
                }
            }
            client.connect_ports_by_name(&output, input).map_err(|e| format!("{output} → {input}: {e}"))?;
        }
        if inputs.is_empty() {
            return Err(format!("{sink} has no audio inputs"));
        }
        Ok(())
    }
}

/// Ports of other clients than Continuo's.
fn others(ports: Vec<String>) -> Vec<String> {
    ports.into_iter().filter(|p| !p.starts_with(&format!("{JACK_CLIENT}:"))).collect()
}

/// A name as a regular expression that matches only it.
fn regex_quote(name: &str) -> String {
    name.chars().map(|c| if c.is_alphanumeric() || c == ' ' { c.to_string() } else { format!("\\{c}") }).collect()
}

/// The system's MIDI inputs (ALSA's sequencer ports on Linux), by the names nice-plug takes.
pub fn alsa_midi_inputs() -> Vec<String> {
    let Ok(midi) = midir::MidiInput::new("continuo-devices") else { return Vec::new() };
    midi.ports().iter().filter_map(|p| midi.port_name(p).ok()).collect()
}

/// The system's audio output devices, by the names nice-plug takes.
pub fn output_devices() -> Vec<String> {
    use cpal::traits::{DeviceTrait, HostTrait};
    let host = cpal::default_host();
    let Ok(devices) = host.output_devices() else { return Vec::new() };
    devices.filter_map(|d| d.description().ok().map(|d| d.name().to_string())).collect()
}

/// `args` with `option` set to `value` (in place of any it had), or left out (`None`).
pub fn with_option(args: &[String], option: &str, value: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == option {
            i += 2;
            continue;
        }
        if arg.starts_with(&format!("{option}=")) {
            i += 1;
            continue;
        }
        out.push(arg.clone());
        i += 1;
    }
    if let Some(value) = value {
        out.extend([option.to_string(), value.to_string()]);
    }
    out
}

/// The value of `option` in `args`.
pub fn option_value<'a>(args: &'a [String], option: &str) -> Option<&'a str> {
    args.iter().enumerate().find_map(|(i, a)| {
        if a == option {
            args.get(i + 1).map(String::as_str)
        } else {
            a.strip_prefix(&format!("{option}="))
        }
    })
}

/// The devices there now, listed only when asked (listing opens the system's MIDI and
/// audio, which a launch that remembers no such device need not do).
type Listing<'a> = &'a dyn Fn() -> Vec<String>;

/// Remembered device options with those naming a MIDI input or output device that is not
/// among `midi_inputs` / `outputs` now left out (nice-plug refuses to start with a device
/// it cannot find); what was left out, said.
pub fn present(args: &[String], midi_inputs: Listing, outputs: Listing) -> (Vec<String>, Vec<String>) {
    let mut args = args.to_vec();
    let mut gone = Vec::new();
    for (option, available, what) in [(MIDI_INPUT, midi_inputs, "MIDI input"), (OUTPUT_DEVICE, outputs, "audio output")]
    {
        if let Some(value) = option_value(&args, option).map(str::to_string) {
            if !available().contains(&value) {
                gone.push(format!("the remembered {what} '{value}' is not there: starting without it"));
                args = with_option(&args, option, None);
            }
        }
    }
    (args, gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_option_is_set_in_place_of_the_old_or_left_out() {
        let args = strings(&["--backend", "alsa", "--midi-input", "Old", "--output-device=Card"]);
        assert_eq!(
            with_option(&args, MIDI_INPUT, Some("New")),
            strings(&["--backend", "alsa", "--output-device=Card", "--midi-input", "New"])
        );
        assert_eq!(with_option(&args, OUTPUT_DEVICE, None), strings(&["--backend", "alsa", "--midi-input", "Old"]));
        assert_eq!(option_value(&args, OUTPUT_DEVICE), Some("Card"));
        assert_eq!(option_value(&args, MIDI_INPUT), Some("Old"));
    }

    #[test]
    fn a_remembered_device_that_is_gone_is_left_out_and_said() {
        let args = strings(&["--backend", "alsa", "--midi-input", "Keystation 49", "--output-device", "USB Audio"]);
        let (kept, gone) = present(&args, &|| strings(&["Midi Through:0"]), &|| strings(&["USB Audio"]));
        assert_eq!(kept, strings(&["--backend", "alsa", "--output-device", "USB Audio"]));
        assert_eq!(gone, ["the remembered MIDI input 'Keystation 49' is not there: starting without it"]);
    }
}
