//! `cargo xtask perf [--quick] [--time-to-model PRESET]... [--corpus DIR]`: runs every performance measurement of
//! issue #4 in one invocation and writes the report, `docs/PERFORMANCE.md`. Every figure
//! stands beside its baseline from the same run:
//! - per-token inference (`cargo bench -p continuo-trainer --bench perf`): the stateful ONNX
//!   step against 100- and 64-token re-runs and a plain-Rust step, and how it scales;
//! - the audio thread (`cargo bench -p continuo --bench process`) against the real-time
//!   budget of its block, and the process's memory with the model loaded;
//! - training speed (`trainer train --benchmark`) for every preset, beside the PyTorch
//!   reference `trainer/reference/torch_lstm.py` with the same shapes when PyTorch is
//!   installed (`$CONTINUO_PYTHON`, else `python3`), with the trainer's peak memory;
//! - how training speed grows with hidden size and layers, and epoch time with corpus size;
//! - with `--time-to-model PRESET` (repeatable): training that preset to early stopping on
//!   Essen, or on the prepared corpus of `--corpus DIR` (tens of minutes each), kept in
//!   `docs/perf/time-to-model.json` for later reports.

use continuo_core::inference::ORT_VERSION;
use continuo_trainer::presets::PRESETS;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Runs of each training measurement; the median is reported.
const REPEATS: usize = 3;

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Run a command to completion; its stdout, and its peak resident memory in MiB.
pub(crate) fn run_measured(cmd: &mut Command) -> Result<(String, f64), String> {
    let shown = format!("{cmd:?}");
    eprintln!("$ {shown}");
    let child = cmd.stdout(std::process::Stdio::piped()).spawn().map_err(|e| format!("{shown}: {e}"))?;
    let pid = child.id() as libc::pid_t;
    let mut stdout = child.stdout.expect("piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).map(|_| s)
    });
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is valid; wait4 fills it in for the child `pid`.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet waited for; the pointers are to live locals.
    if unsafe { libc::wait4(pid, &mut status, 0, &mut usage) } < 0 {
        return Err(format!("{shown}: wait4 failed"));
    }
    let out = reader.join().expect("the reader thread").map_err(|e| e.to_string())?;
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(format!("{shown} failed (status {status})"));
    }
    Ok((out, usage.ru_maxrss as f64 / 1024.0))
}

pub(crate) fn last_json_line(out: &str) -> Result<Value, String> {
    out.lines().rev().find_map(|l| serde_json::from_str(l).ok()).ok_or_else(|| format!("no JSON in: {out}"))
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub(crate) fn shell(cmd: &str) -> String {
    Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

pub(crate) fn machine() -> String {
    let cpu = shell("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2");
    let mem = shell("free -g | awk '/Mem:/ {print $2}'");
    format!(
        "{}, {} logical cores, {} GiB, {}",
        cpu.trim(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        mem,
        shell("uname -sr")
    )
}

/// A Python with PyTorch, if there is one.
fn torch_python() -> Option<String> {
    let python = std::env::var("CONTINUO_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python).args(["-c", "import torch"]).output().is_ok_and(|o| o.status.success());
    ok.then_some(python)
}

fn trainer_benchmark(
    root: &Path,
    corpus: &Path,
    preset: &str,
    extra: &[&str],
    windows: usize,
) -> Result<(Value, f64), String> {
    let out_dir = std::env::temp_dir().join("continuo-perf-train");
    let mut cmd = Command::new(root.join("target/release/trainer"));
    cmd.arg("train")
        .arg("--corpus")
        .arg(corpus)
        .arg("--out")
        .arg(&out_dir)
        .args(["--preset", preset, "--benchmark", &windows.to_string()])
        .args(extra);
    let (out, peak) = run_measured(&mut cmd)?;
    Ok((last_json_line(&out)?, peak))
}

fn torch_reference(root: &Path, python: &str, t: &Value, windows: usize) -> Result<Value, String> {
    let n = |k: &str| t[k].as_u64().unwrap_or(0).to_string();
    let mut cmd = Command::new(python);
    cmd.arg(root.join("trainer/reference/torch_lstm.py"));
    for k in ["vocab", "embed", "hidden", "layers", "batch", "window", "threads"] {
        cmd.arg(format!("--{k}")).arg(n(k));
    }
    cmd.args(["--windows", &windows.to_string(), "--dropout", &format!("{:.2}", t["dropout"].as_f64().unwrap_or(0.0))]);
    if t["batch_norm"].as_bool() == Some(true) {
        cmd.arg("--batch-norm");
    }
    last_json_line(&run_measured(&mut cmd)?.0)
}

/// The Essen corpus prepared for training: `data-out/essen`, prepared from
/// `../shared/data/essen-kern` when missing.
fn essen_corpus(root: &Path) -> Result<PathBuf, String> {
    let corpus = root.join("data-out/essen");
    if !corpus.join("corpus.json").is_file() {
        let source = root.join("../shared/data/essen-kern");
        let mut cmd = Command::new(root.join("target/release/trainer"));
        cmd.arg("prepare").arg("-i").arg(&source).arg("-o").arg(&corpus);
        run_measured(&mut cmd)?;
    }
    Ok(corpus)
}

fn time_to_model(root: &Path, corpus: &Path, preset: &str) -> Result<Value, String> {
    let out = root.join("runs/time-to-model").join(preset);
    let _ = std::fs::remove_dir_all(&out);
    let trainer = root.join("target/release/trainer");
    let started = Instant::now();
    let (log, peak) = run_measured(
        Command::new(&trainer)
            .arg("train")
            .arg("--corpus")
            .arg(corpus)
            .arg("--out")
            .arg(&out)
            .args(["--preset", preset]),
    )?;
    let wall = started.elapsed().as_secs_f64();
    let eval_dir = out.join("eval");
    run_measured(
        Command::new(&trainer)
            .arg("eval")
            .arg("--checkpoint")
            .arg(out.join("best.ckpt"))
            .arg("--corpus")
            .arg(corpus)
            .arg("--out")
            .arg(&eval_dir),
    )?;
    let eval = read_json(&eval_dir.join("eval.json"))?;
    let done = log.lines().rev().find(|l| l.starts_with("done after")).unwrap_or("");
    let done = done.split("; checkpoints in").next().unwrap_or("").to_string();
    Ok(json!({
        "command": format!(
            "trainer train --corpus {} --out runs/time-to-model/{preset} --preset {preset}",
            corpus.strip_prefix(root).unwrap_or(corpus).display()
        ),
        "wall_seconds": wall, "peak_rss_mib": peak, "summary": done, "eval": eval,
        "date": shell("date -u +%Y-%m-%d"), "machine": machine(),
    }))
}

pub fn run(root: &Path, args: &[String]) -> Result<(), String> {
    let quick = args.iter().any(|a| a == "--quick");
    let out_dir = root.join("target/perf");
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    crate::ort::ensure_library(&crate::ort::default_dir())?;
    run_measured(cargo().current_dir(root).args(["build", "--release", "-p", "continuo-trainer"]))?;
    // Time to a model first, while nothing else of this run loads the machine.
    let time_to_model = times_to_model(root, args)?;
    let (inference, process) = benches(root, &out_dir, quick)?;
    let corpus = essen_corpus(root)?;
    let python = torch_python();
    let windows = if quick { 4 } else { 12 };
    let training = training_beside_torch(root, &corpus, python.as_deref(), windows)?;
    let scale_training = training_at_scale(root, &corpus, windows)?;
    let corpora: Vec<Value> = ["essen", "oneills", "bach"]
        .iter()
        .filter_map(|c| {
            read_json(&root.join("data-out").join(c).join("corpus.json"))
                .ok()
                .map(|j| json!({ "name": c, "manifest": j }))
        })
        .collect();
    let report = Report {
        command: format!("cargo xtask perf{}", args.iter().map(|a| format!(" {a}")).collect::<String>()),
        date: shell("date -u '+%Y-%m-%d %H:%M UTC'"),
        machine: machine(),
        torch: python.as_ref().map(|py| shell(&format!("{py} -c 'import torch; print(torch.__version__)'"))),
        inference,
        process,
        training,
        scale_training,
        corpora,
        time_to_model,
    };
    let md = report.markdown();
    std::fs::write(root.join("docs/PERFORMANCE.md"), &md).map_err(|e| e.to_string())?;
    std::fs::write(out_dir.join("report.json"), serde_json::to_string_pretty(&report.json()).unwrap())
        .map_err(|e| e.to_string())?;
    println!("{md}");
    eprintln!("wrote docs/PERFORMANCE.md and target/perf/report.json");
    Ok(())
}

/// Each `--time-to-model PRESET` trained on `--corpus DIR` (default: the Essen corpus) into
/// `docs/perf/time-to-model.json`, beside the presets measured before; all of them.
fn times_to_model(root: &Path, args: &[String]) -> Result<Value, String> {
    let ttm_path = root.join("docs/perf/time-to-model.json");
    let mut ttm = read_json(&ttm_path).unwrap_or_else(|_| json!({}));
    let ttm_corpus =
        args.windows(2).find(|w| w[0] == "--corpus").map_or_else(|| essen_corpus(root), |w| Ok(root.join(&w[1])))?;
    for preset in args.windows(2).filter(|w| w[0] == "--time-to-model").map(|w| w[1].as_str()) {
        ttm[preset] = time_to_model(root, &ttm_corpus, preset)?;
        std::fs::create_dir_all(ttm_path.parent().unwrap()).map_err(|e| e.to_string())?;
        std::fs::write(&ttm_path, serde_json::to_string_pretty(&ttm).unwrap()).map_err(|e| e.to_string())?;
    }
    Ok(ttm)
}

/// The inference benchmark (`trainer/benches/perf.rs`) and the audio thread's
/// (`plugin/benches/process.rs`), each writing JSON into `out_dir`.
fn benches(root: &Path, out_dir: &Path, quick: bool) -> Result<(Value, Value), String> {
    let inference_json = out_dir.join("inference.json");
    let mut cmd = cargo();
    cmd.current_dir(root)
        .args(["bench", "-p", "continuo-trainer", "--bench", "perf", "--", "--json"])
        .arg(&inference_json);
    if quick {
        cmd.arg("--quick");
    }
    run_measured(&mut cmd)?;
    let process_json = out_dir.join("process.json");
    let blocks = if quick { "5000" } else { "100000" };
    run_measured(
        cargo()
            .current_dir(root)
            .args(["bench", "-p", "continuo", "--bench", "process", "--", "--blocks", blocks, "--json"])
            .arg(&process_json),
    )?;
    Ok((read_json(&inference_json)?, read_json(&process_json)?))
}

/// Every preset's training speed beside the PyTorch reference's (when `python` has
/// PyTorch). Each pair of measurements three times, alternating, and the median run of each
/// kept: on a shared machine one run of either can be off by 2x.
fn training_beside_torch(
    root: &Path,
    corpus: &Path,
    python: Option<&str>,
    windows: usize,
) -> Result<Vec<Value>, String> {
    let mut training = Vec::new();
    for preset in PRESETS.iter().map(|p| p.name) {
        let w = if preset == "sona" { windows / 2 } else { windows };
        let (mut ours, mut torch) = (Vec::new(), Vec::new());
        for _ in 0..REPEATS {
            ours.push(trainer_benchmark(root, corpus, preset, &[], w)?);
            if let Some(py) = python {
                torch.push(torch_reference(root, py, &ours[0].0, w)?);
            }
        }
        let speed = |v: &Value| f(&v["tokens_per_second"]);
        ours.sort_by(|a, b| speed(&a.0).total_cmp(&speed(&b.0)));
        torch.sort_by(|a, b| speed(a).total_cmp(&speed(b)));
        let (ours_median, peak) = ours[ours.len() / 2].clone();
        let runs: Vec<f64> = ours.iter().map(|o| speed(&o.0)).collect();
        let torch_runs: Vec<f64> = torch.iter().map(speed).collect();
        let torch_median = torch.get(torch.len() / 2).cloned();
        training.push(json!({ "preset": preset, "ours": ours_median, "ours_runs": runs, "peak_rss_mib": peak, "torch": torch_median, "torch_runs": torch_runs }));
    }
    Ok(training)
}

/// The `default` recipe's training speed at 1–3 layers of 128–512 units.
fn training_at_scale(root: &Path, corpus: &Path, windows: usize) -> Result<Vec<Value>, String> {
    let mut scale_training = Vec::new();
    for layers in [1, 2, 3] {
        for hidden in [128, 256, 512] {
            let w = (windows * 256 / hidden / layers).max(2);
            let size = ["--hidden", &hidden.to_string(), "--layers", &layers.to_string()].map(String::from);
            let size: Vec<&str> = size.iter().map(String::as_str).collect();
            let (ours, _) = trainer_benchmark(root, corpus, "default", &size, w)?;
            scale_training.push(ours);
        }
    }
    Ok(scale_training)
}

struct Report {
    command: String,
    date: String,
    machine: String,
    torch: Option<String>,
    inference: Value,
    process: Value,
    training: Vec<Value>,
    scale_training: Vec<Value>,
    corpora: Vec<Value>,
    /// By preset.
    time_to_model: Value,
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// The lowest and highest of a list of runs, as text.
fn range(runs: &Value) -> String {
    let v: Vec<f64> = runs.as_array().into_iter().flatten().map(f).collect();
    let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    if v.is_empty() {
        "–".into()
    } else {
        format!("{lo:.0}–{hi:.0}")
    }
}

/// A duration in µs as text: µs below 10 ms, else ms.
fn us(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.1} ms", v / 1000.0)
    } else {
        format!("{v:.1} µs")
    }
}

impl Report {
    fn json(&self) -> Value {
        json!({
            "command": self.command, "date": self.date, "machine": self.machine, "torch": self.torch,
            "inference": self.inference, "process": self.process, "training": self.training,
            "scale_training": self.scale_training, "time_to_model": self.time_to_model,
        })
    }

    fn markdown(&self) -> String {
        let mut m = String::new();
        let w = &mut m;
        let _ = writeln!(w, "# Performance\n");
        let _ = writeln!(
            w,
            "Made by `{}` on {}, on {}. ONNX Runtime {} (PyPI wheel), one intra-op thread, no spinning.",
            self.command, self.date, self.machine, ORT_VERSION
        );
        let _ = writeln!(
            w,
            "Every figure stands beside its baseline measured in the same run; timings are never test thresholds.\n"
        );

        self.inference(w);
        self.audio_thread(w);
        self.training_throughput(w);
        self.time_to_model(w);
        self.memory(w);
        self.session_memory(w);
        self.scale(w);
        m
    }

    /// Per-token inference: the stateful step against re-runs and the plain-Rust floor.
    fn inference(&self, w: &mut String) {
        let _ = writeln!(w, "## Per-token inference (the plugin's path, one thread)\n");
        let _ = writeln!(w, "Each next token timed on its own (`trainer/benches/perf.rs`). Ratios are of medians.\n");
        let _ = writeln!(w, "| model | ONNX stateful step (ours), median / p99 | re-run over last 100 tokens | … last 64 | plain-Rust step (floor) | ours vs 100-token re-run | ours vs floor |");
        let _ = writeln!(w, "|---|---|---|---|---|---|---|");
        for r in self.inference["inference"].as_array().into_iter().flatten() {
            let med = |k: &str| f(&r[k]["median_us"]);
            let p99 = |k: &str| f(&r[k]["p99_us"]);
            let _ = writeln!(
                w,
                "| {} | {} / {} | {} / {} | {} / {} | {} / {} | {:.1}× faster | {:.2}× |",
                r["model"].as_str().unwrap_or(""),
                us(med("onnx_step")),
                us(p99("onnx_step")),
                us(med("onnx_window_100")),
                us(p99("onnx_window_100")),
                us(med("onnx_window_64")),
                us(p99("onnx_window_64")),
                us(med("plain_step")),
                us(p99("plain_step")),
                med("onnx_window_100") / med("onnx_step"),
                med("onnx_step") / med("plain_step"),
            );
        }
        let _ = writeln!(w, "\nGoals: ≥ 50× faster than 100-token re-runs; within 3× of the plain-Rust floor (last column: ours ÷ floor).\n");
        let _ = writeln!(
            w,
            "What bounds the first ratio: a step multiplies every layer's input weights W and recurrent weights R by one token's vectors, reading all of them from cache or memory, while a re-run reads R once per token but W once per window (one batched product). So a step can be at most about 100 × R ÷ (W + R) times faster than a 100-token re-run:"
        );
        for r in self.inference["inference"].as_array().into_iter().flatten() {
            let (layers, hidden, embed) = (f(&r["layers"]), f(&r["hidden"]), f(&r["embed"]));
            let recurrent = layers * 4.0 * hidden * hidden;
            let input = 4.0 * hidden * (embed + (layers - 1.0) * hidden);
            let _ = writeln!(
                w,
                "- {}: R {:.2} M weights, W {:.2} M: at most {:.0}×.",
                r["model"].as_str().unwrap_or(""),
                recurrent / 1e6,
                input / 1e6,
                100.0 * recurrent / (recurrent + input)
            );
        }
        let _ = writeln!(w);
    }

    /// The audio thread against its real-time budget.
    fn audio_thread(&self, w: &mut String) {
        let _ = writeln!(w, "## Audio thread\n");
        let _ = writeln!(
            w,
            "`Engine::process` with the real worker and model, continuous mode, pass-through, 16 of the player's notes in per block (`plugin/benches/process.rs`), timed on a thread with {}. Baseline: the block's real-time budget at 48 kHz.\n",
            if self.process["real_time_priority"].as_bool() == Some(true) { "real-time priority (SCHED_FIFO 50), as hosts run audio threads" } else { "normal priority (real-time scheduling was refused)" }
        );
        let _ = writeln!(w, "| block | blocks timed | budget | median | share of budget | p99 | p99.9 | worst | share of budget | baseline loop: median, worst | events out per block | late steps |");
        let _ = writeln!(w, "|---|---|---|---|---|---|---|---|---|---|---|---|");
        for r in self.process["process"].as_array().into_iter().flatten() {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {:.4} % | {} | {} | {} | {:.3} % | {}, {} | {:.1} | {} |",
                r["block"],
                r["blocks"],
                us(f(&r["budget_us"])),
                us(f(&r["median_us"])),
                f(&r["median_percent"]),
                us(f(&r["p99_us"])),
                us(f(&r["p999_us"])),
                us(f(&r["worst_us"])),
                f(&r["worst_percent"]),
                us(f(&r["baseline_median_us"])),
                us(f(&r["baseline_worst_us"])),
                f(&r["events_out_per_block"]),
                r["late_steps"]
            );
        }
        let _ = writeln!(
            w,
            "\nGoals: median under 0.1 %, worst under 1 %. The baseline loop is timed right after every block on the same thread: a fixed piece of arithmetic about as long as a block's median, touching no memory. Its worst case is as bad as `process`'s: on this shared 2-vCPU virtual machine, about one microsecond of any work in 10^5 is stalled for tens of microseconds (interrupts, the hypervisor). A worst case under 1 % of a 64-sample block (13 µs) cannot be measured here.\n"
        );

        let _ = writeln!(w, "The built-in voice (`plugin/src/synth.rs`; SoundFont: Debian's TimGM6mb through `plugin/src/soundfont.rs`) rendering a 512-sample block with 16 notes sounding, in the same run, on the same thread:\n");
        let _ = writeln!(w, "| patch | blocks timed | budget | median | share of budget | p99 |");
        let _ = writeln!(w, "|---|---|---|---|---|---|");
        for r in self.process["voice"].as_array().into_iter().flatten() {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {:.2} % | {} |",
                r["patch"].as_str().unwrap_or("?"),
                r["blocks"],
                us(f(&r["budget_us"])),
                us(f(&r["median_us"])),
                f(&r["median_percent"]),
                us(f(&r["p99_us"]))
            );
        }
        let _ = writeln!(w);
    }

    /// Training throughput of every preset beside the PyTorch reference.
    fn training_throughput(&self, w: &mut String) {
        let _ = writeln!(w, "## Training throughput\n");
        let _ = writeln!(w, "`trainer train --benchmark N` on the Essen corpus (the training loop's own windows: forward, backward, clipping, Adam) beside `trainer/reference/torch_lstm.py` with the same shapes, batch, window and threads (PyTorch {}).\n", self.torch.as_deref().unwrap_or("not installed: no reference run"));
        let _ = writeln!(
            w,
            "Each side ran {REPEATS} times, alternating; the table gives the median run, and the range of the runs.\n"
        );
        let _ = writeln!(w, "| preset | network | ours, tokens/s (range) | PyTorch, tokens/s (range) | ours ÷ PyTorch | trainer peak memory |");
        let _ = writeln!(w, "|---|---|---|---|---|---|");
        for t in &self.training {
            let o = &t["ours"];
            let torch = f(&t["torch"]["tokens_per_second"]);
            let _ = writeln!(
                w,
                "| {} | {} × {}, embedding {}, vocabulary {}, batch {} × {}{} | {:.0} ({}) | {} | {} | {:.0} MiB |",
                t["preset"].as_str().unwrap_or(""),
                o["layers"],
                o["hidden"],
                o["embed"],
                o["vocab"],
                o["batch"],
                o["window"],
                if o["batch_norm"].as_bool() == Some(true) { ", batch norm" } else { "" },
                f(&o["tokens_per_second"]),
                range(&t["ours_runs"]),
                if torch.is_nan() { "–".into() } else { format!("{torch:.0} ({})", range(&t["torch_runs"])) },
                if torch.is_nan() { "–".into() } else { format!("{:.2}×", f(&o["tokens_per_second"]) / torch) },
                f(&t["peak_rss_mib"]),
            );
        }
        let _ = writeln!(w, "\nGoal: ≥ 1.0× PyTorch on CPU.\n");
    }

    /// Time to a model: each preset trained to early stopping.
    fn time_to_model(&self, w: &mut String) {
        let _ = writeln!(w, "## Time to a model\n");
        let measured = self.time_to_model.as_object().filter(|o| !o.is_empty());
        for (preset, t) in measured.into_iter().flatten() {
            let _ = writeln!(
                w,
                "- `{preset}`{}: `{}` (with `cargo xtask perf --time-to-model {preset}`, on {}): {:.1} min of wall time, peak memory {:.0} MiB; {}. Test NLL on its corpus (`trainer eval --checkpoint`) {:.3} nats/token (perplexity {:.2}), accuracy {:.1} %.",
                PRESETS.iter().find(|p| p.name == preset).map_or(String::new(), |p| format!(" ({})", p.description)),
                t["command"].as_str().unwrap_or(""),
                t["date"].as_str().unwrap_or(""),
                f(&t["wall_seconds"]) / 60.0,
                f(&t["peak_rss_mib"]),
                t["summary"].as_str().unwrap_or(""),
                f(&t["eval"]["figures"]["test_nll_nats"]),
                f(&t["eval"]["figures"]["test_perplexity"]),
                f(&t["eval"]["figures"]["test_accuracy"]) * 100.0,
            );
        }
        if measured.is_none() {
            let _ = writeln!(w, "Not measured yet: `cargo xtask perf --time-to-model esac`.");
        }
        let _ = writeln!(w);
    }

    /// Peak memory.
    fn memory(&self, w: &mut String) {
        let _ = writeln!(w, "## Memory\n");
        let mem = &self.process["memory"];
        let _ = writeln!(
            w,
            "The plugin's process core with its worker and the shipped model (`plugin/benches/process.rs`): resident {:.0} MiB with the model loaded, against {:.0} MiB before loading (ONNX Runtime and the model: +{:.0} MiB). The trainer's peak resident memory is in the training table above.\n",
            f(&mem["rss_with_model_mib"]), f(&mem["rss_before_mib"]), f(&mem["rss_with_model_mib"]) - f(&mem["rss_before_mib"])
        );
    }

    /// The session memory's cost per step, and the answer step against the step before it.
    fn session_memory(&self, w: &mut String) {
        let _ = writeln!(w, "## Session memory\n");
        let _ = writeln!(w, "A whole continuation step (model, sampling, steering; `Continuer::next`) after a session of 2,000 tokens, with the session memory blended in at the plugin's default against the same step without it, alternating in rounds (`trainer/benches/perf.rs`). Goal: within 20 %.\n");
        let _ = writeln!(w, "| model | step, median / p99 | with memory, median / p99 | cost of the memory |");
        let _ = writeln!(w, "|---|---|---|---|");
        for r in self.inference["memory_step"].as_array().into_iter().flatten() {
            let (without, with) = (f(&r["without"]["median_us"]), f(&r["with"]["median_us"]));
            let _ = writeln!(
                w,
                "| `{}` (memory {:.1}) | {} / {} | {} / {} | {:+.1} % |",
                r["model"].as_str().unwrap_or(""),
                f(&r["memory"]),
                us(without),
                us(f(&r["without"]["p99_us"])),
                us(with),
                us(f(&r["with"]["p99_us"])),
                (with / without - 1.0) * 100.0
            );
        }
        let _ = writeln!(w);
        let a = &self.inference["answer_step"];
        if a.is_object() {
            let (without, with) = (f(&a["without"]["median_us"]), f(&a["with"]["median_us"]));
            let _ = writeln!(
                w,
                "The answer step today (`{}`: metre and lookback inputs, Memory 0.4, Develop and the cadence at their defaults) \
                 against the step before them (`{}`, a model of the same shape without metre or lookback inputs, Memory 0.4), \
                 median / p99: {} / {} against {} / {}: {:.2}× (issue #22 allows 1.5×).\n",
                a["today"].as_str().unwrap_or(""),
                a["before"].as_str().unwrap_or(""),
                us(with),
                us(f(&a["with"]["p99_us"])),
                us(without),
                us(f(&a["without"]["p99_us"])),
                with / without
            );
        }
    }

    /// How the costs scale with the network and the corpus.
    fn scale(&self, w: &mut String) {
        let _ = writeln!(w, "## Scale\n");
        let _ = writeln!(w, "Per-token inference (median, random weights, vocabulary 64) and training speed (Essen, batch 64 × 64) by layers × hidden size; relative to 1 × 128.\n");
        let _ = writeln!(w, "| layers × hidden | ONNX step | plain-Rust step | relative step cost | training tokens/s | relative training time |");
        let _ = writeln!(w, "|---|---|---|---|---|---|");
        let inf = self.inference["scale_inference"].as_array().cloned().unwrap_or_default();
        let base_inf = inf.first().map(|r| f(&r["onnx_step"]["median_us"])).unwrap_or(f64::NAN);
        let base_train = self.scale_training.first().map(|r| f(&r["tokens_per_second"])).unwrap_or(f64::NAN);
        for (r, t) in inf.iter().zip(&self.scale_training) {
            let step = f(&r["onnx_step"]["median_us"]);
            let tps = f(&t["tokens_per_second"]);
            let _ = writeln!(
                w,
                "| {} × {} | {} | {} | {:.1}× | {:.0} | {:.1}× |",
                r["layers"],
                r["hidden"],
                us(step),
                us(f(&r["plain_step"]["median_us"])),
                step / base_inf,
                tps,
                base_train / tps
            );
        }
        let _ = writeln!(w, "\nTraining time per epoch grows with the corpus's training tokens (the loop is linear in them); at the measured speeds:\n");
        let _ = writeln!(
            w,
            "| corpus | training tokens | epoch at `esac` speed | epoch at `default` speed | epoch at `sona` speed |"
        );
        let _ = writeln!(w, "|---|---|---|---|---|");
        let speed = |p: &str| {
            self.training
                .iter()
                .find(|t| t["preset"] == p)
                .map(|t| f(&t["ours"]["tokens_per_second"]))
                .unwrap_or(f64::NAN)
        };
        for c in &self.corpora {
            let tokens = f(&c["manifest"]["summary"]["tokens"]["train"]);
            let _ = writeln!(
                w,
                "| {} | {:.0} | {:.0} s | {:.0} s | {:.0} s |",
                c["name"].as_str().unwrap_or(""),
                tokens,
                tokens / speed("esac"),
                tokens / speed("default"),
                tokens / speed("sona")
            );
        }
    }
}
