//! `cargo xtask windows [--no-build]`: Continuo for 64-bit Windows, cross-built here with
//! MinGW-w64 (`rustup target add x86_64-pc-windows-gnu`, Debian's `gcc-mingw-w64-x86-64`).
//! It lays out `target/windows/Continuo/`:
//! - the plugin as `Continuo.clap` and as `Continuo.vst3/Contents/x86_64-win/Continuo.vst3`
//!   (the VST3 bundle layout on Windows);
//! - the standalone `Continuo.exe` and `trainer.exe`;
//! - the Windows ONNX Runtime library (`cargo xtask ort --target windows`) and the shipped
//!   models;
//! - `install.bat` and `INSTALL.txt` (`scripts/windows/`).
//!
//! and zips it as `target/windows/Continuo-windows-x86_64.zip`. `scripts/windows-test.sh`
//! tests what it makes under Wine.

use crate::ort::{ensure_library_for, Platform};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Rust target Continuo is cross-built for.
pub const TARGET: &str = "x86_64-pc-windows-gnu";

/// The files of the unpacked zip, each with where it comes from.
fn layout(root: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let release = root.join("target").join(TARGET).join("release");
    let ort = ensure_library_for(Platform::Windows, &Platform::Windows.default_dir())?;
    let mut files = vec![
        (release.join("continuo.dll"), "Continuo.clap".to_string()),
        (release.join("continuo.dll"), "Continuo.vst3/Contents/x86_64-win/Continuo.vst3".to_string()),
        (release.join("continuo.exe"), "Continuo.exe".to_string()),
        (release.join("trainer.exe"), "trainer.exe".to_string()),
        (ort, "onnxruntime.dll".to_string()),
        (root.join("scripts/windows/install.bat"), "install.bat".to_string()),
        (root.join("scripts/windows/INSTALL.txt"), "INSTALL.txt".to_string()),
    ];
    let mut models: Vec<PathBuf> = std::fs::read_dir(root.join("models"))
        .map_err(|e| format!("models/: {e}"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "onnx" || x == "json"))
        .collect();
    models.sort();
    for model in models {
        let name = model.file_name().expect("a file").to_string_lossy().into_owned();
        files.push((model, format!("models/{name}")));
    }
    Ok(files)
}

/// Cross-build the plugin, the standalone and the trainer for Windows, in release.
fn build(root: &Path) -> Result<(), String> {
    let installed = Command::new("rustc").args(["--print", "target-libdir", "--target", TARGET]).output();
    let has_std = installed.ok().filter(|o| o.status.success()).is_some_and(|o| {
        let dir = String::from_utf8_lossy(&o.stdout).trim().to_string();
        Path::new(&dir).is_dir()
    });
    if !has_std {
        return Err(format!("the Rust target {TARGET} is missing: run `rustup target add {TARGET}`"));
    }
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .args(["build", "--release", "--locked", "--target", TARGET, "-p", "continuo", "-p", "continuo-trainer"])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "the Windows build failed ({status}); it needs MinGW-w64's linker (Debian: gcc-mingw-w64-x86-64)"
        ));
    }
    Ok(())
}

/// Text files as Windows reads them: CRLF line ends.
fn windows_text(bytes: Vec<u8>, name: &str) -> Vec<u8> {
    if !(name.ends_with(".bat") || name.ends_with(".txt")) {
        return bytes;
    }
    String::from_utf8_lossy(&bytes).replace("\r\n", "\n").replace('\n', "\r\n").into_bytes()
}

/// Copy the layout into `out` (emptied first) and zip it beside, under `Continuo/`.
fn assemble(files: &[(PathBuf, String)], out: &Path, zip_path: &Path) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(out);
    let file = std::fs::File::create(zip_path).map_err(|e| format!("{}: {e}", zip_path.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (from, name) in files {
        let bytes = std::fs::read(from).map_err(|e| format!("{}: {e} (build first?)", from.display()))?;
        let bytes = windows_text(bytes, name);
        let to = out.join(name);
        std::fs::create_dir_all(to.parent().expect("inside out")).map_err(|e| format!("{}: {e}", to.display()))?;
        std::fs::write(&to, &bytes).map_err(|e| format!("{}: {e}", to.display()))?;
        zip.start_file(format!("Continuo/{name}"), options).map_err(|e| e.to_string())?;
        zip.write_all(&bytes).map_err(|e| e.to_string())?;
    }
    zip.finish().map_err(|e| format!("{}: {e}", zip_path.display()))?;
    Ok(())
}

pub fn run(root: &Path, args: &[String]) -> Result<(), String> {
    match args {
        [] => build(root)?,
        [flag] if flag == "--no-build" => {}
        _ => return Err("usage: cargo xtask windows [--no-build]".into()),
    }
    let files = layout(root)?;
    let dir = root.join("target/windows");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let zip_path = dir.join("Continuo-windows-x86_64.zip");
    assemble(&files, &dir.join("Continuo"), &zip_path)?;
    for (_, name) in &files {
        println!("Continuo/{name}");
    }
    let size = std::fs::metadata(&zip_path).map(|m| m.len()).unwrap_or(0);
    println!("wrote {} ({:.1} MB)", zip_path.display(), size as f64 / 1e6);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_text_files_get_crlf_and_the_rest_is_left_alone() {
        assert_eq!(windows_text(b"a\nb\r\nc".to_vec(), "install.bat"), b"a\r\nb\r\nc");
        assert_eq!(windows_text(b"a\nb".to_vec(), "Continuo.clap"), b"a\nb");
    }
}
