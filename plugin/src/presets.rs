//! Presets: the whole set of parameters under a name. The factory presets are built in; a
//! musician's own are JSON files in the per-user folder's `presets/` (`NAME.json`: the name
//! and each parameter's value as its text, `{"name": "Mine", "values": {"temp": "0.90", …}}`).
//! A preset is applied on the GUI thread through the host's parameter setter (so the host
//! records the change, as a move of every control), from the editor's Presets row or by a
//! program change on the input channel (the audio thread only passes its number on).
//! Reading and writing files allocate; nothing here runs on the audio thread.

use crate::error::PluginError;
use crate::params::ContinuoParams;
use nice_plug::prelude::{ParamPtr, ParamSetter, Params};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Parameters a preset leaves alone: the momentary Keep, Next take and Learn, and Bypass.
const NOT_IN_PRESETS: [&str; 4] = ["keep", "next", "learn", "bypass"];

/// A preset: its name and the text of each parameter's value, by parameter id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preset {
    pub name: String,
    pub values: BTreeMap<String, String>,
}

/// The factory presets, as changes from the defaults: (name, [(parameter id, value text)]).
const FACTORY: [(&str, &[(&str, &str)]); 5] = [
    ("Default", &[]),
    ("Echo my motif", &[("mem", "0.80"), ("dev", "0.60"), ("temp", "0.85"), ("rep", "0.30")]),
    ("Sparse answers", &[("dens", "-0.60"), ("rest", "1.0"), ("temp", "0.90"), ("bars", "2 bars")]),
    ("Busy fills", &[("dens", "0.60"), ("rest", "-1.0"), ("temp", "1.10"), ("leap", "0.20"), ("bars", "1 bar")]),
    ("Walking in register", &[("leap", "-0.60"), ("dens", "0.30"), ("regc", "60"), ("regw", "12 semitones")]),
];

/// Where a musician's presets are kept: `presets/` in the per-user folder.
pub fn folder() -> Option<PathBuf> {
    continuo_core::inference::data_dir().map(|d| d.join("presets"))
}

/// The parameters a preset holds, with their pointers.
fn preset_params(params: &ContinuoParams) -> Vec<(String, ParamPtr)> {
    params
        .param_map()
        .into_iter()
        .filter(|(id, _, _)| !NOT_IN_PRESETS.contains(&id.as_str()))
        .map(|(id, p, _)| (id, p))
        .collect()
}

/// The parameters' values now, as a preset named `name`.
pub fn capture(params: &ContinuoParams, name: &str) -> Preset {
    let values = preset_params(params)
        .into_iter()
        // SAFETY: the pointers come from `params`' own map, alive here.
        .map(|(id, p)| (id, unsafe { p.normalized_value_to_string(p.unmodulated_normalized_value(), false) }))
        .collect();
    Preset { name: name.to_string(), values }
}

/// The factory presets: each is the defaults with its changes.
pub fn factory(params: &ContinuoParams) -> Vec<Preset> {
    let defaults = defaults(params);
    FACTORY
        .iter()
        .map(|(name, changes)| {
            let mut values = defaults.clone();
            values.extend(changes.iter().map(|(id, text)| (id.to_string(), text.to_string())));
            Preset { name: name.to_string(), values }
        })
        .collect()
}

/// Every preset parameter's default, as text.
fn defaults(params: &ContinuoParams) -> BTreeMap<String, String> {
    preset_params(params)
        .into_iter()
        // SAFETY: as in `capture`.
        .map(|(id, p)| (id, unsafe { p.normalized_value_to_string(p.default_normalized_value(), false) }))
        .collect()
}

/// Each of `preset`'s values as a parameter and its normalized value; the first value that
/// names no parameter, or that its parameter cannot read, is an error (nothing is applied).
pub fn resolve(params: &ContinuoParams, preset: &Preset) -> Result<Vec<(ParamPtr, f32)>, String> {
    let map = preset_params(params);
    preset
        .values
        .iter()
        .map(|(id, text)| {
            let (_, ptr) = map.iter().find(|(i, _)| i == id).ok_or_else(|| format!("no parameter `{id}`"))?;
            // SAFETY: as in `capture`.
            let normalized = unsafe { ptr.string_to_normalized_value(text) }
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("`{id}`: `{text}` is not a value of {}", unsafe { ptr.name() }))?;
            Ok((*ptr, normalized))
        })
        .collect()
}

/// Apply `preset` through the host's parameter setter, every parameter as one gesture.
pub fn apply(params: &ContinuoParams, preset: &Preset, setter: &ParamSetter) -> Result<(), String> {
    for (ptr, normalized) in resolve(params, preset)? {
        // SAFETY: `ptr` comes from `params`' own map; the setter is the GUI thread's.
        unsafe {
            setter.raw_context.raw_begin_set_parameter(ptr);
            setter.raw_context.raw_set_parameter_normalized(ptr, normalized);
            setter.raw_context.raw_end_set_parameter(ptr);
        }
    }
    Ok(())
}

/// A preset's file name: its name with anything but letters, digits, spaces, `-` and `_`
/// left out (valid on every system).
pub fn file_name(name: &str) -> String {
    let kept: String = name.chars().filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_')).collect();
    format!("{}.json", if kept.trim().is_empty() { "preset" } else { kept.trim() })
}

/// Write `preset` into `folder` (made if missing), durably; its path.
pub fn save(folder: &Path, preset: &Preset) -> Result<PathBuf, PluginError> {
    std::fs::create_dir_all(folder).map_err(PluginError::io(folder))?;
    let path = folder.join(file_name(&preset.name));
    let json = serde_json::to_string_pretty(preset).expect("a preset always serialises");
    continuo_core::durable::write_durably(&path, json.as_bytes()).map_err(PluginError::io(&path))?;
    Ok(path)
}

/// The presets in `folder`, sorted by name, each read and checked against the parameters; a
/// file that cannot be read or applied is listed with why (the others still load). A missing
/// folder holds none.
pub fn load_all(params: &ContinuoParams, folder: &Path) -> (Vec<Preset>, Vec<String>) {
    let Ok(entries) = std::fs::read_dir(folder) else { return (Vec::new(), Vec::new()) };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let (mut presets, mut problems) = (Vec::new(), Vec::new());
    for path in files {
        match read(params, &path) {
            Ok(preset) => presets.push(preset),
            Err(why) => problems.push(format!("{}: {why}", path.display())),
        }
    }
    presets.sort_by(|a, b| a.name.cmp(&b.name));
    (presets, problems)
}

/// One preset file, read and checked.
fn read(params: &ContinuoParams, path: &Path) -> Result<Preset, String> {
    if !continuo_core::is_regular_file(path) {
        return Err("not a regular file".into());
    }
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let preset: Preset = serde_json::from_str(&text).map_err(|e| format!("not a preset ({e})"))?;
    resolve(params, &preset)?;
    Ok(preset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_factory_preset_names_real_parameters_and_values() {
        let params = ContinuoParams::default();
        let factory = factory(&params);
        assert_eq!(factory.len(), FACTORY.len());
        for preset in &factory {
            let resolved = resolve(&params, preset).unwrap_or_else(|e| panic!("{}: {e}", preset.name));
            assert_eq!(resolved.len(), preset_params(&params).len(), "{}: every parameter", preset.name);
        }
        // The defaults are the default preset.
        assert_eq!(capture(&params, "Default"), factory[0]);
        assert!(!factory[0].values.contains_key("keep") && !factory[0].values.contains_key("bypass"));
    }

    #[test]
    fn presets_are_saved_and_read_back_and_bad_files_say_why() {
        let params = ContinuoParams::default();
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("presets");
        let mut mine = capture(&params, "Mine: slow/sparse");
        mine.values.insert("temp".into(), "0.70".into());
        let path = save(&folder, &mine).unwrap();
        assert_eq!(path.file_name().unwrap(), "Mine slowsparse.json");
        std::fs::write(folder.join("broken.json"), "{").unwrap();
        let mut unknown = mine.clone();
        unknown.name = "Unknown".into();
        unknown.values.insert("nosuch".into(), "1".into());
        save(&folder, &unknown).unwrap();
        let mut wrong = mine.clone();
        wrong.name = "Wrong".into();
        wrong.values.insert("mode".into(), "Polka".into());
        save(&folder, &wrong).unwrap();
        let (presets, problems) = load_all(&params, &folder);
        assert_eq!(presets, vec![mine]);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("broken.json") && p.contains("not a preset")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("no parameter `nosuch`")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("`Polka` is not a value of Mode")), "{problems:?}");
        assert_eq!(load_all(&params, &dir.path().join("absent")), (Vec::new(), Vec::new()));
    }
}
