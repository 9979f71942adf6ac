//! `cargo xtask finetune [--model FILE] [--corpus DIR]`: how fast a shipped model adapts to a
//! style it has not seen (issue #13). On a prepared corpus of that style (default: the Bach
//! chorales' top voices, `data-out/bach-melody`, prepared when missing), in one run:
//! - the shipped model's test NLL, untouched;
//! - a model trained from scratch on the corpus's training songs (`esac` preset);
//! - the shipped model fine-tuned on the same songs for 30 s, 1, 2 and 5 minutes;
//! - the shipped model fine-tuned on 20 phrases (the first 8 bars of 20 training songs, about
//!   one evening of jamming) for 1 minute, against the shipped model on held-out phrases
//!   (the first 8 bars of every test song).
//!
//! Writes `docs/perf/finetune-MODEL-on-CORPUS.md` (the model's and the corpus folder's names)
//! and prints it. The figure of merit: the share of the from-scratch gain that the 2-minute
//! fine-tune reaches.

use crate::perf::{last_json_line, run_measured};
use continuo_core::corpus::{Corpus, Split};
use continuo_core::Token;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Steps in a phrase of the 20-phrase fine-tune: 8 bars of 4/4 on the 16th grid.
const PHRASE_STEPS: usize = 128;
/// Passes over the 20 phrases at most: `trainer finetune`'s default, as the plugin's Learn
/// (run until the minute is up, the phrases are learnt by heart and held-out phrases lose).
const PHRASE_EPOCHS: &str = "20";

pub fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let value = |flag: &str| args.windows(2).find(|w| w[0] == flag).map(|w| root.join(&w[1]));
    let model = value("--model").unwrap_or_else(|| root.join("models/folk-melody.onnx"));
    let corpus = value("--corpus").unwrap_or_else(|| root.join("data-out/bach-melody"));
    let trainer = root.join("target/release/trainer");
    let name = |p: &Path| p.file_stem().map_or_else(String::new, |s| s.to_string_lossy().into_owned());
    let report = format!("finetune-{}-on-{}", name(&model), name(&corpus));
    let work = root.join("runs").join(&report);
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    if !corpus.join("corpus.json").is_file() {
        let source = root.join("../shared/data/bach-chorales-midi");
        run_measured(Command::new(&trainer).arg("prepare").arg("-i").arg(source).arg("-o").arg(&corpus))?;
    }
    let shipped = eval(&trainer, &model, &corpus)?;
    let (scratch, scratch_done) = from_scratch(&trainer, &corpus, &work)?;
    let mut tuned = Vec::new();
    for minutes in ["0.5", "1", "2", "5"] {
        let out = work.join(format!("tuned-{minutes}.onnx"));
        finetune(&trainer, &model, &corpus, &out, minutes, None)?;
        tuned.push((minutes, eval(&trainer, &out, &corpus)?));
    }
    let phrases = work.join("phrases");
    write_phrases(&corpus, &phrases)?;
    let phrases_before = eval(&trainer, &model, &phrases)?;
    let phrases_model = work.join("tuned-phrases.onnx");
    finetune(&trainer, &model, &phrases, &phrases_model, "1", Some(PHRASE_EPOCHS))?;
    let phrases_after = eval(&trainer, &phrases_model, &phrases)?;
    let figures = Figures { shipped, scratch, scratch_done, tuned, phrases: (phrases_before, phrases_after) };
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let md = markdown(&rel(&model), &rel(&corpus), &figures);
    std::fs::create_dir_all(root.join("docs/perf")).map_err(|e| e.to_string())?;
    std::fs::write(root.join(format!("docs/perf/{report}.md")), &md).map_err(|e| e.to_string())?;
    println!("{md}");
    Ok(())
}

/// What the report compares: test NLL of the shipped model, of one trained from scratch
/// (and how its training ended), of the fine-tuned ones by minutes, and on the phrases
/// before and after fine-tuning on them.
struct Figures {
    shipped: f64,
    scratch: f64,
    scratch_done: String,
    tuned: Vec<(&'static str, f64)>,
    phrases: (f64, f64),
}

/// `trainer eval --model m --corpus c`: the test NLL.
fn eval(trainer: &Path, m: &Path, c: &Path) -> Result<f64, String> {
    let (out, _) =
        run_measured(Command::new(trainer).arg("eval").arg("--model").arg(m).arg("--corpus").arg(c).arg("--json"))?;
    Ok(last_json_line(&out)?["nll_nats"].as_f64().unwrap_or(f64::NAN))
}

/// A model of the `esac` recipe trained from scratch on `corpus` in `work`: its test NLL,
/// and the training's last line.
fn from_scratch(trainer: &Path, corpus: &Path, work: &Path) -> Result<(f64, String), String> {
    let run_dir = work.join("scratch");
    let (log, _) = run_measured(
        Command::new(trainer)
            .arg("train")
            .arg("--corpus")
            .arg(corpus)
            .arg("--out")
            .arg(&run_dir)
            .args(["--preset", "esac"]),
    )?;
    let done = log.lines().rev().find(|l| l.starts_with("done after")).unwrap_or("").to_string();
    let model = work.join("scratch.onnx");
    run_measured(
        Command::new(trainer).arg("export").arg("--checkpoint").arg(run_dir.join("best.ckpt")).arg("--out").arg(&model),
    )?;
    Ok((eval(trainer, &model, corpus)?, done))
}

/// The report, for `model` fine-tuned on `corpus` (paths as shown).
fn markdown(model: &str, corpus: &str, f: &Figures) -> String {
    let (shipped, scratch) = (f.shipped, f.scratch);
    let mut md = String::new();
    let _ = writeln!(md, "# Fine-tuning a shipped model to a style it has not seen\n");
    let _ = writeln!(md, "`cargo xtask finetune --model {model} --corpus {corpus}` on {}, {}. Test-split NLL (nats/token, `trainer eval --model`).\n", crate::perf::machine(), crate::perf::shell("date -u '+%Y-%m-%d %H:%M UTC'"));
    let _ = writeln!(md, "| model | test NLL | against the shipped model | share of the from-scratch gain |");
    let _ = writeln!(md, "|---|---|---|---|");
    // The share is only meaningful where training from scratch beats the shipped model.
    let gain = |nll: f64| {
        if scratch < shipped {
            format!("{:.0} %", (shipped - nll) / (shipped - scratch) * 100.0)
        } else {
            "– (from scratch is worse)".into()
        }
    };
    let change = |nll: f64| format!("{:+.1} %", (nll / shipped - 1.0) * 100.0);
    let _ = writeln!(md, "| shipped, untouched | {shipped:.4} | – | 0 % |");
    let scratch_done = f.scratch_done.split("; checkpoints in").next().unwrap_or("");
    let _ = writeln!(md, "| from scratch (`esac`, {scratch_done}) | {scratch:.4} | {} | 100 % |", change(scratch));
    for (minutes, nll) in &f.tuned {
        let _ = writeln!(
            md,
            "| shipped, fine-tuned {minutes} min (`trainer finetune --minutes {minutes}`) | {nll:.4} | {} | {} |",
            change(*nll),
            gain(*nll)
        );
    }
    let (before, after) = f.phrases;
    let _ = writeln!(md, "\nOn 20 phrases (the first {} steps of 20 training songs; every fifth held out to stop on), at most {PHRASE_EPOCHS} passes and 1 minute: held-out phrases (the first {} steps of every test song) went from {before:.4} to {after:.4} nats/token ({:+.1} %).", PHRASE_STEPS, PHRASE_STEPS, (after / before - 1.0) * 100.0);
    md
}

/// `trainer finetune` for at most `minutes`; with `epochs`, also at most that many passes
/// and with its early stopping on held-out songs, else only the time stops it.
fn finetune(
    trainer: &Path,
    model: &Path,
    corpus: &Path,
    out: &PathBuf,
    minutes: &str,
    epochs: Option<&str>,
) -> Result<(), String> {
    let (epochs, patience) = epochs.map_or(("1000", "1000"), |e| (e, "2"));
    run_measured(
        Command::new(trainer)
            .arg("finetune")
            .arg("--model")
            .arg(model)
            .arg("--corpus")
            .arg(corpus)
            .arg("--out")
            .arg(out)
            .args(["--minutes", minutes, "--epochs", epochs, "--patience", patience]),
    )
    .map(|_| ())
}

/// A corpus of phrases: the first `PHRASE_STEPS` steps of 20 training songs (training) and of
/// every test song (test), each ending with `/`.
fn write_phrases(corpus: &Path, out: &Path) -> Result<(), String> {
    let mut c = Corpus::read(corpus).map_err(|e| e.to_string())?;
    let mut train = 0;
    c.songs.retain(|s| match s.split {
        Split::Train => {
            train += 1;
            train <= 20
        }
        Split::Validation => false,
        Split::Test => true,
    });
    for s in &mut c.songs {
        s.tokens.truncate(PHRASE_STEPS);
        if s.tokens.last() != Some(&Token::SongEnd) {
            s.tokens.push(Token::SongEnd);
        }
    }
    c.write(out).map_err(|e| format!("{}: {e}", out.display()))
}
