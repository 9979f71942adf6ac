//! `trainer export`: a checkpoint → `NAME.onnx` and its model card `NAME.json`, with the
//! training provenance and the evaluation figures (from `trainer eval`'s report, else the
//! best validation figures). With `--onnx`, an exported model is written again with this
//! version's graph, from the weights in the file: its card and golden file are kept.

use clap::Args;
use continuo_core::card::{card_path_for, ModelCard, Training};
use continuo_core::corpus::SPLIT_RULE;
use continuo_trainer::checkpoint::Checkpoint;
use continuo_trainer::export::{model_card, onnx_spec, read_weights, write_golden, write_model};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// A checkpoint, e.g. runs/essen/best.ckpt.
    #[arg(long, required_unless_present = "onnx", conflicts_with = "onnx")]
    checkpoint: Option<PathBuf>,
    /// Instead of a checkpoint: a model exported earlier (with its card beside it), to write
    /// again with this version's graph.
    #[arg(long, conflicts_with_all = ["eval", "corpus", "name"])]
    onnx: Option<PathBuf>,
    /// The ONNX file to write; its card goes beside it (NAME.json).
    #[arg(long)]
    out: PathBuf,
    /// The model's name in its card (default: the file name).
    #[arg(long)]
    name: Option<String>,
    #[arg(long, default_value = "")]
    description: String,
    /// A report from `trainer eval` whose test figures go into the card.
    #[arg(long)]
    eval: Option<PathBuf>,
    /// The prepared corpus: the start of its first test song becomes the golden file
    /// (NAME.golden.json: token ids and the trainer's logits) that the ONNX model is
    /// checked against.
    #[arg(long)]
    corpus: Option<PathBuf>,
}

pub fn run(args: &ExportArgs) -> Result<(), String> {
    super::shared::make_parent(&args.out)?;
    let Some(checkpoint) = &args.checkpoint else {
        return reexport(args.onnx.as_deref().expect("clap requires --checkpoint or --onnx"), &args.out);
    };
    let ckpt = Checkpoint::load(checkpoint)?;
    let h = &ckpt.header;
    let mut evaluation = BTreeMap::new();
    if let Some(path) = &args.eval {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let report: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let figures = report
            .get("figures")
            .and_then(|f| f.as_object())
            .ok_or_else(|| format!("{}: no `figures`", path.display()))?;
        for (k, v) in figures {
            if let Some(x) = v.as_f64() {
                evaluation.insert(k.clone(), x);
            }
        }
    }
    if let Some(best) = h.history.iter().find(|r| r.epoch == h.best_epoch) {
        evaluation.insert("validation_nll".into(), best.validation_nll);
        evaluation.insert("validation_accuracy".into(), best.validation_accuracy);
        evaluation.insert("validation_accuracy_no_hold".into(), best.validation_accuracy_no_hold);
    }
    let mut details = BTreeMap::new();
    let c = &h.config;
    details.insert("epochs".into(), h.epoch.into());
    details.insert("best_epoch".into(), h.best_epoch.into());
    details.insert("train_seconds".into(), serde_json::json!(h.train_seconds.round()));
    details.insert("batch".into(), c.batch.into());
    details.insert("window".into(), c.window.into());
    details.insert("dropout".into(), serde_json::json!(c.dropout));
    details.insert("batch_norm_folded".into(), c.batch_norm.into());
    details.insert("lr".into(), serde_json::json!(c.lr));
    details.insert("clip".into(), serde_json::json!(c.clip));
    details.insert("schedule".into(), serde_json::json!(c.schedule));
    details.insert("windows".into(), serde_json::json!(c.windows));
    details.insert("weight_decay".into(), serde_json::json!(c.weight_decay));
    if let Some(last) = h.history.last() {
        details.insert("tokens_per_second".into(), serde_json::json!(last.tokens_per_second.round()));
    }
    // The corpus given for the golden file also says its split rule (its shares).
    let corpus = args.corpus.as_deref().map(continuo_core::corpus::Corpus::read).transpose()?;
    let training = Training {
        corpus: h.corpus.split(", ").map(String::from).collect(),
        split: corpus.as_ref().map_or_else(|| SPLIT_RULE.to_string(), |c| c.manifest.split.clone()),
        command: h.command.clone(),
        preset: Some(c.preset.clone()),
        seed: Some(c.seed),
        details,
    };
    let (file, name) = super::shared::file_and_name(&args.out, args.name.as_deref())?;
    let weights = ckpt.model.inference_weights();
    let mut card = model_card(&weights, &name, &file, h.encoding.clone(), training, evaluation);
    card.description = args.description.clone();
    write_model(&weights, &args.out, &card)?;
    if let (Some(dir), Some(corpus)) = (&args.corpus, corpus) {
        let vocab = corpus.vocabulary()?;
        if vocab.tokens() != card.encoding.vocabulary.as_slice() {
            return Err(format!("{}: the corpus's vocabulary is not the model's", dir.display()));
        }
        if corpus.split(continuo_core::corpus::Split::Test).next().is_none() {
            return Err(format!("{}: the corpus has no test songs", dir.display()));
        }
        write_golden(&weights, &vocab, &corpus, &args.out)?;
    }
    report_written(&args.out);
    Ok(())
}

fn report_written(out: &Path) {
    let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    println!("wrote {} ({:.1} MB) and {}", out.display(), size as f64 / 1e6, card_path_for(out).display());
}

/// `--onnx`: the weights and card of `source`, written to `out` with this exporter's graph.
fn reexport(source: &Path, out: &Path) -> Result<(), String> {
    let weights = read_weights(source)?;
    let card_path = card_path_for(source);
    let mut card = ModelCard::load(&card_path).map_err(|e| e.to_string())?;
    let file = out.file_name().map(|f| f.to_string_lossy().into_owned()).ok_or("--out needs a file name")?;
    card.onnx = onnx_spec(&weights, &file);
    write_model(&weights, out, &card)?;
    let golden = source.with_extension("golden.json");
    if golden.is_file() && golden != out.with_extension("golden.json") {
        std::fs::copy(&golden, out.with_extension("golden.json")).map_err(|e| format!("{}: {e}", golden.display()))?;
    }
    report_written(out);
    Ok(())
}
