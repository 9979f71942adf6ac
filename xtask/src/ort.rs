//! Fetching the ONNX Runtime shared library from the `onnxruntime` wheel on PyPI (the only
//! place it can be had here), with pip, by package name: this system's, or Windows' (the
//! `win_amd64` wheel of the same version) for the Windows build.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use continuo_core::inference::ORT_VERSION;

/// Which system's library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// The system xtask runs on.
    Here,
    /// 64-bit Windows (`x86_64-pc-windows-gnu`).
    Windows,
}

impl Platform {
    /// The library's file name inside the wheel and on disk.
    pub fn library_name(self) -> String {
        match self {
            Platform::Here => library_name(),
            Platform::Windows => "onnxruntime.dll".into(),
        }
    }

    /// Where `cargo xtask ort` puts it by default.
    pub fn default_dir(self) -> PathBuf {
        match self {
            Platform::Here => default_dir(),
            Platform::Windows => workspace_root().join("target").join("onnxruntime-windows"),
        }
    }

    /// pip's options that pick the wheel (another system's needs a platform and a Python).
    fn pip_options(self) -> &'static [&'static str] {
        match self {
            Platform::Here => &[],
            Platform::Windows => &["--platform", "win_amd64", "--python-version", "3.12"],
        }
    }
}

/// The library's file name inside the wheel and on disk.
pub fn library_name() -> String {
    if cfg!(target_os = "macos") {
        format!("libonnxruntime.{ORT_VERSION}.dylib")
    } else if cfg!(target_os = "windows") {
        "onnxruntime.dll".to_string()
    } else {
        format!("libonnxruntime.so.{ORT_VERSION}")
    }
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Where the library goes by default.
pub fn default_dir() -> PathBuf {
    workspace_root().join("target").join("onnxruntime")
}

pub fn run(args: &[String]) -> Result<(), String> {
    const USAGE: &str = "usage: cargo xtask ort [--target windows] [--dest DIR]";
    let (mut platform, mut dest) = (Platform::Here, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().map(String::as_str)) {
            ("--target", Some("windows")) => platform = Platform::Windows,
            ("--dest", Some(dir)) => dest = Some(PathBuf::from(dir)),
            _ => return Err(USAGE.into()),
        }
    }
    let lib = ensure_library_for(platform, &dest.unwrap_or_else(|| platform.default_dir()))?;
    println!("{}", lib.display());
    Ok(())
}

/// This system's library in `dest`, fetched first if missing.
pub fn ensure_library(dest: &Path) -> Result<PathBuf, String> {
    ensure_library_for(Platform::Here, dest)
}

/// `platform`'s library in `dest`, fetched first if missing.
pub fn ensure_library_for(platform: Platform, dest: &Path) -> Result<PathBuf, String> {
    let library_name = || platform.library_name();
    let lib = dest.join(library_name());
    if lib.is_file() {
        return Ok(lib);
    }
    std::fs::create_dir_all(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    let wheels = dest.join("wheel");
    eprintln!("fetching onnxruntime=={ORT_VERSION} with pip …");
    let status = Command::new("python3")
        .args(["-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:"])
        .args(platform.pip_options())
        .arg("--dest")
        .arg(&wheels)
        .arg(format!("onnxruntime=={ORT_VERSION}"))
        .status()
        .map_err(|e| format!("cannot run `python3 -m pip`: {e} (install python3-pip)"))?;
    if !status.success() {
        return Err(format!("pip could not download onnxruntime=={ORT_VERSION} ({status})"));
    }
    let wheel = std::fs::read_dir(&wheels)
        .map_err(|e| format!("{}: {e}", wheels.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| format!("no wheel in {}", wheels.display()))?;
    extract(&wheel, &library_name(), &lib)?;
    let _ = std::fs::remove_dir_all(&wheels);
    Ok(lib)
}

/// Copy the archive member whose path ends in `/name` to `to` (via a temporary file).
fn extract(wheel: &Path, name: &str, to: &Path) -> Result<(), String> {
    let file = std::fs::File::open(wheel).map_err(|e| format!("{}: {e}", wheel.display()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| format!("{}: {e}", wheel.display()))?;
    let suffix = format!("/{name}");
    let index = (0..archive.len())
        .find(|&i| matches!(archive.name_for_index(i), Some(Ok(n)) if n.ends_with(&suffix)))
        .ok_or_else(|| format!("{}: holds no {name}", wheel.display()))?;
    let mut member = archive.by_index(index).map_err(|e| e.to_string())?;
    let mut bytes = Vec::with_capacity(member.size() as usize);
    member.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    let tmp = to.with_extension("part");
    std::fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, to).map_err(|e| format!("{}: {e}", to.display()))
}
