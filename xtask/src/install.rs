//! `cargo xtask install`: the bundled plugin into `~/.clap` and `~/.vst3`, the standalone
//! into `~/.local/bin`, and the ONNX Runtime library and shipped models into Continuo's
//! per-user folder (`$CONTINUO_HOME`, else `~/.local/share/continuo`), where the plugin
//! looks for them. Run `cargo xtask bundle continuo --release` first.

use std::path::{Path, PathBuf};

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("{}: {e}", to.display()))?;
    for entry in std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))? {
        let entry = entry.map_err(|e| e.to_string())?;
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target).map_err(|e| format!("{}: {e}", target.display()))?;
        }
    }
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    if from.is_dir() {
        let _ = std::fs::remove_dir_all(to);
        copy_dir(from, to)
    } else {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::copy(from, to).map(|_| ()).map_err(|e| format!("{} → {}: {e}", from.display(), to.display()))
    }
}

pub fn run(root: &Path) -> Result<(), String> {
    let home = PathBuf::from(std::env::var_os("HOME").ok_or("HOME is not set")?);
    let data = match std::env::var_os("CONTINUO_HOME").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => home.join(".local/share/continuo"),
    };
    let bundled = root.join("target/bundled");
    let items = [
        (bundled.join("Continuo.clap"), home.join(".clap/Continuo.clap")),
        (bundled.join("Continuo.vst3"), home.join(".vst3/Continuo.vst3")),
        (bundled.join("Continuo"), home.join(".local/bin/continuo")),
    ];
    for (from, to) in &items {
        if !from.exists() {
            return Err(format!("{} is missing: run `cargo xtask bundle continuo --release` first", from.display()));
        }
        copy(from, to)?;
        println!("installed {}", to.display());
    }
    let lib = crate::ort::ensure_library(&crate::ort::default_dir())?;
    let lib_to = data.join("lib").join(lib.file_name().expect("a file"));
    copy(&lib, &lib_to)?;
    println!("installed {}", lib_to.display());
    for entry in std::fs::read_dir(root.join("models")).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|x| x == "onnx" || x == "json") {
            let to = data.join("models").join(path.file_name().expect("a file"));
            copy(&path, &to)?;
            println!("installed {}", to.display());
        }
    }
    Ok(())
}
