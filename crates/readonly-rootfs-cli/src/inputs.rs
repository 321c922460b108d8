//! The PATH arguments: files, directories (recursively, `*.yaml`, `*.yml`,
//! `*.json`) and `-` for standard input.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

/// How standard input is named in reports.
pub const STDIN_NAME: &str = "<stdin>";

const MANIFEST_EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => STDIN_NAME.to_string(),
            Input::File(path) => path.display().to_string(),
        }
    }
}

/// The inputs the arguments name, in argument order; each directory's
/// manifests sorted by path. Errors name the path that cannot be read.
pub fn expand(paths: &[PathBuf]) -> Vec<Result<Input, String>> {
    let mut inputs = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(Ok(Input::Stdin));
            continue;
        }
        match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk(path, &mut inputs),
            // A file named on the command line is read whatever its name.
            Ok(_) => inputs.push(Ok(Input::File(path.clone()))),
            Err(e) => inputs.push(Err(format!("{}: {e}", path.display()))),
        }
    }
    inputs
}

/// Manifests under `dir`. Hidden entries (`.git`, ...) are skipped, and
/// symbolic links to directories are not followed (no cycles).
fn walk(dir: &Path, inputs: &mut Vec<Result<Input, String>>) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return inputs.push(Err(format!("{}: {e}", dir.display()))),
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => paths.push(entry.path()),
            Err(e) => inputs.push(Err(format!("{}: {e}", dir.display()))),
        }
    }
    paths.sort();
    for path in paths {
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        let is_link = fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
        match fs::metadata(&path) {
            Ok(meta) if meta.is_dir() && !is_link => walk(&path, inputs),
            Ok(meta) if meta.is_file() && is_manifest(&path) => {
                inputs.push(Ok(Input::File(path)));
            }
            Ok(_) => {}
            Err(e) if is_manifest(&path) => inputs.push(Err(format!("{}: {e}", path.display()))),
            Err(_) => {}
        }
    }
}

fn is_manifest(path: &Path) -> bool {
    path.extension()
        .and_then(OsStr::to_str)
        .is_some_and(|ext| MANIFEST_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()))
}
