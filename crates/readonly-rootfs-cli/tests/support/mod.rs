//! Running the built `readonly-rootfs` binary, as a user or CI would.

#![allow(dead_code)] // each test file uses a part

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The `--output json` records.
    pub fn records(&self) -> Vec<Value> {
        match serde_json::from_str(&self.stdout) {
            Ok(Value::Array(records)) => records,
            other => panic!(
                "stdout is not a JSON array ({other:?}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            ),
        }
    }
}

/// `crates/readonly-rootfs-cli/tests/data`: the tests run from there, so
/// reports name files as the arguments do.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `readonly-rootfs ARGS` in `dir` with `stdin` as standard input.
pub fn run_in(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_readonly-rootfs"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the readonly-rootfs binary runs");
    let mut input = child.stdin.take().expect("stdin is piped");
    input.write_all(stdin.as_bytes()).expect("stdin is written");
    drop(input);
    let output = child.wait_with_output().expect("readonly-rootfs ends");
    Output {
        status: output
            .status
            .code()
            .expect("exited, not killed by a signal"),
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs `readonly-rootfs ARGS` in the test data directory.
pub fn run(args: &[&str]) -> Output {
    run_in(&data_dir(), args, "")
}

/// A fresh scratch directory for one test, removed when dropped.
pub struct ScratchDir(PathBuf);

impl std::ops::Deref for ScratchDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn scratch_dir(test: &str) -> ScratchDir {
    let dir =
        std::env::temp_dir().join(format!("readonly-rootfs-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    ScratchDir(dir)
}
