//! PNG plots for `trainer eval` (plotters): training and validation loss by epoch, and a
//! piano roll of a seed, the model's continuation and the real one. Text needs a TrueType
//! font: the first of a few common system fonts is used; without one, plots have no labels.

use crate::checkpoint::EpochRecord;
use crate::error::TrainerError;
use plotters::prelude::*;
use std::path::Path;

const FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// Register a system font for plot text once; false if none was found.
fn font() -> bool {
    static FOUND: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FOUND.get_or_init(|| {
        FONTS.iter().any(|p| {
            std::fs::read(p).ok().is_some_and(|bytes| {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
            })
        })
    })
}

/// A drawing failure of the plot written to `path`.
fn err(path: &Path, e: impl std::fmt::Display) -> TrainerError {
    TrainerError::Plot { path: path.to_path_buf(), why: e.to_string() }
}

pub fn loss_curves(history: &[EpochRecord], path: &Path, title: &str) -> Result<(), TrainerError> {
    let labels = font();
    let root = BitMapBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let max_epoch = history.iter().map(|r| r.epoch).max().unwrap_or(1).max(2) as f64;
    let losses = history.iter().flat_map(|r| [r.train_nll, r.validation_nll]);
    let (lo, hi) = losses.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let (lo, hi) = if lo < hi { (lo * 0.95, hi * 1.05) } else { (0.0, 1.0) };
    let mut builder = ChartBuilder::on(&root);
    builder.margin(20).x_label_area_size(if labels { 40 } else { 0 }).y_label_area_size(if labels { 60 } else { 0 });
    if labels {
        builder.caption(title, ("sans-serif", 22));
    }
    let mut chart = builder.build_cartesian_2d(1.0..max_epoch, lo..hi).map_err(|e| err(path, e))?;
    if labels {
        chart.configure_mesh().x_desc("epoch").y_desc("NLL (nats/token)").draw().map_err(|e| err(path, e))?;
    }
    let train = history.iter().map(|r| (r.epoch as f64, r.train_nll));
    let val = history.iter().map(|r| (r.epoch as f64, r.validation_nll));
    let a = chart.draw_series(LineSeries::new(train, BLUE.stroke_width(2))).map_err(|e| err(path, e))?;
    if labels {
        a.label("train").legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE));
    }
    let b = chart.draw_series(LineSeries::new(val, RED.stroke_width(2))).map_err(|e| err(path, e))?;
    if labels {
        b.label("validation").legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED));
        chart.configure_series_labels().background_style(WHITE).border_style(BLACK).draw().map_err(|e| err(path, e))?;
    }
    root.present().map_err(|e| err(path, e))
}

/// A note as (start step, steps, pitch).
pub type RollNote = (u32, u32, u8);

/// Piano roll: the seed in grey, the model's continuation in red, the real continuation as
/// blue outlines over the same steps.
pub fn piano_roll(
    seed: &[RollNote],
    generated: &[RollNote],
    real: &[RollNote],
    path: &Path,
    title: &str,
) -> Result<(), TrainerError> {
    let labels = font();
    let root = BitMapBackend::new(path, (1200, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(path, e))?;
    let all = seed.iter().chain(generated).chain(real);
    let end = all.clone().map(|n| n.0 + n.1).max().unwrap_or(16).max(16) as f64;
    let lo = all.clone().map(|n| n.2).min().unwrap_or(60).saturating_sub(2) as f64;
    let hi = all.map(|n| n.2).max().unwrap_or(72).saturating_add(3) as f64;
    let mut builder = ChartBuilder::on(&root);
    builder.margin(20).x_label_area_size(if labels { 40 } else { 0 }).y_label_area_size(if labels { 50 } else { 0 });
    if labels {
        builder.caption(title, ("sans-serif", 22));
    }
    let mut chart = builder.build_cartesian_2d(0.0..end, lo..hi).map_err(|e| err(path, e))?;
    if labels {
        chart.configure_mesh().x_desc("step").y_desc("MIDI pitch").draw().map_err(|e| err(path, e))?;
    }
    let rect = |n: &RollNote, style: ShapeStyle| {
        Rectangle::new([(n.0 as f64, n.2 as f64), ((n.0 + n.1) as f64, n.2 as f64 + 0.9)], style)
    };
    chart.draw_series(seed.iter().map(|n| rect(n, RGBColor(120, 120, 120).filled()))).map_err(|e| err(path, e))?;
    chart.draw_series(generated.iter().map(|n| rect(n, RED.mix(0.8).filled()))).map_err(|e| err(path, e))?;
    chart.draw_series(real.iter().map(|n| rect(n, BLUE.stroke_width(2)))).map_err(|e| err(path, e))?;
    root.present().map_err(|e| err(path, e))
}
