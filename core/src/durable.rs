//! Files written so that a crash or a power cut leaves the old file or the new one, never an
//! empty or a half-written one: the bytes go to a temporary file of this process's own in the
//! same folder, are flushed to the disk (`fsync`), and the file is renamed into place; then
//! the folder is flushed too, so that the new name itself survives. Used for models, their
//! cards and golden files (`trainer export`, Learn) and the plugin's takes.
//!
//! Plain functions; any thread but the audio thread (they block on the disk).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Temporary files written by this process so far: with the process id, a name no other
/// writer (another instance, another process) uses at the same time.
static WRITTEN: AtomicU64 = AtomicU64::new(0);

/// A temporary name beside `path`, unique to this process and this call.
pub fn temporary_beside(path: &Path) -> PathBuf {
    let n = WRITTEN.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{}-{n}.part", std::process::id()))
}

/// Write `bytes` to `path`, replacing what was there, durably (see the module's note).
pub fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = temporary_beside(path);
    let written = (|| {
        let mut file = std::fs::File::create_new(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    sync_folder_of(path)
}

/// Flush the folder that holds `path`, so that a name just made or renamed in it survives
/// a power cut. Where folders cannot be opened for that (not Unix), nothing to do.
pub fn sync_folder_of(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let folder = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::File::open(folder)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_durable_write_replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        write_durably(&path, b"first").unwrap();
        write_durably(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["model.json"]);
        // Into a folder that is not there: an error, and nothing left.
        assert!(write_durably(&dir.path().join("absent/model.json"), b"x").is_err());
    }

    #[test]
    fn temporary_names_are_never_the_same_twice() {
        let path = Path::new("/tmp/take.mid");
        let (a, b) = (temporary_beside(path), temporary_beside(path));
        assert_ne!(a, b);
        assert!(a.file_name().unwrap().to_string_lossy().contains(&std::process::id().to_string()));
        assert_eq!(a.parent(), path.parent());
    }
}
