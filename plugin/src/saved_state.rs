//! A saved state, made safe before nice-plug applies it (`Plugin::filter_state`): every
//! parameter's value is brought within its parameter's range. A project file or preset may
//! hold anything: nice-plug stores a value as it finds it (a Memory of 3e38, an octave shift
//! of two billion), and its own integer ranges overflow on values that far out, a panic
//! that aborts the host where it cannot unwind (issue #24). A value that is not a number
//! becomes the parameter's default; one of the wrong type is left for nice-plug to refuse.
//! The Keep, Next take and Learn buttons come back released: each acts when it goes on, and a state
//! loaded while the plugin plays must not keep a take or start a learning.
//!
//! Runs on the host's main thread, when a state is loaded.

use crate::params::ContinuoParams;
use nice_plug::plugin::ParamValue;
use nice_plug::prelude::{FloatRange, IntRange, ParamPtr, Params, PluginState};

/// The buttons a saved state restores released (each acts when it goes on).
const BUTTONS: [&str; 3] = ["keep", "next", "learn"];

/// Bring every parameter value of `state` within its parameter's range, and the buttons
/// released.
pub fn within_ranges(state: &mut PluginState) {
    for button in BUTTONS {
        if let Some(value) = state.params.get_mut(button) {
            *value = ParamValue::Bool(false);
        }
    }
    let params = ContinuoParams::default();
    for (id, ptr, _) in params.param_map() {
        if let Some(value) = state.params.get_mut(&id) {
            // SAFETY: `ptr` points into `params`, which lives to the end of this function.
            unsafe { within(value, ptr) };
        }
    }
}

/// `value` within the range of the parameter `ptr` points to.
///
/// # Safety
/// `ptr` must point to a live parameter.
unsafe fn within(value: &mut ParamValue, ptr: ParamPtr) {
    match (ptr, value) {
        (ParamPtr::IntParam(p), ParamValue::I32(v)) => {
            let (lo, hi) = int_bounds(&unsafe { &*p }.range());
            *v = (*v).clamp(lo, hi);
        }
        (ParamPtr::FloatParam(p), ParamValue::F32(v)) => {
            let (lo, hi) = float_bounds(&unsafe { &*p }.range());
            *v = if v.is_nan() { unsafe { ptr.default_plain_value() } } else { v.clamp(lo, hi) };
        }
        (ParamPtr::EnumParam(_), ParamValue::I32(v)) => {
            let last = unsafe { ptr.step_count() }.unwrap_or(0) as i32;
            *v = (*v).clamp(0, last);
        }
        _ => {}
    }
}

fn int_bounds(range: &IntRange) -> (i32, i32) {
    match range {
        IntRange::Linear { min, max } => (*min, *max),
        IntRange::Reversed(inner) => int_bounds(inner),
    }
}

fn float_bounds(range: &FloatRange) -> (f32, f32) {
    match range {
        FloatRange::Linear { min, max }
        | FloatRange::Skewed { min, max, .. }
        | FloatRange::SymmetricalSkewed { min, max, .. } => (*min, *max),
        FloatRange::Reversed(inner) => float_bounds(inner),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nice_plug::prelude::Param;
    use std::collections::BTreeMap;

    #[test]
    fn values_out_of_range_are_brought_within_and_others_are_kept() {
        let values = [
            ("oct", ParamValue::I32(i32::MAX)),
            ("inch", ParamValue::I32(i32::MIN)),
            ("mem", ParamValue::F32(3e38)),
            ("temp", ParamValue::F32(f32::NAN)),
            ("dens", ParamValue::F32(-0.5)),
            ("voice", ParamValue::I32(99)),
            ("bypass", ParamValue::I32(7)),
            ("learn", ParamValue::Bool(true)),
            ("keep", ParamValue::Bool(true)),
            ("no such", ParamValue::I32(7)),
        ];
        let mut state = PluginState {
            version: String::new(),
            params: values.iter().map(|(id, v)| (id.to_string(), v.clone())).collect(),
            fields: BTreeMap::new(),
        };
        within_ranges(&mut state);
        let p = &state.params;
        let defaults = ContinuoParams::default();
        assert!(matches!(p["oct"], ParamValue::I32(3)), "{:?}", p["oct"]);
        assert!(matches!(p["inch"], ParamValue::I32(0)), "{:?}", p["inch"]);
        assert!(matches!(p["mem"], ParamValue::F32(v) if v == 1.0), "{:?}", p["mem"]);
        assert!(matches!(p["temp"], ParamValue::F32(v) if v == defaults.temperature.default_plain_value()));
        assert!(matches!(p["dens"], ParamValue::F32(v) if v == -0.5), "within range: kept");
        assert!(matches!(p["voice"], ParamValue::I32(3)), "{:?}", p["voice"]);
        assert!(matches!((&p["learn"], &p["keep"]), (ParamValue::Bool(false), ParamValue::Bool(false))), "released");
        // The wrong type, and an unknown id: left for nice-plug (which refuses them).
        assert!(matches!(p["bypass"], ParamValue::I32(7)) && matches!(p["no such"], ParamValue::I32(7)));
    }
}
