//! Running the `daybook` binary from a test: one home for the helpers the
//! command-line tests share.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The binary cargo built for these tests (the `cli` feature, a default).
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_daybook")
}

/// `daybook --data DATA ARGS...`, standard input closed.
pub fn command(data: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.arg("--data").arg(data).args(args);
    c.stdin(Stdio::null());
    c
}

/// `daybook --data DATA --now NOW ARGS...`, standard input closed.
pub fn at(data: &Path, now: &str, args: &[&str]) -> Command {
    let mut c = command(data, &["--now", now]);
    c.args(args);
    c
}

/// Runs `at(data, now, args)` to the end.
pub fn run_at(data: &Path, now: &str, args: &[&str]) -> Output {
    at(data, now, args).output().expect("run daybook")
}

/// Bytes of an output stream as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `at(data, now, args)`, expects exit 0; returns standard output.
pub fn ok_at(data: &Path, now: &str, args: &[&str]) -> String {
    let out = run_at(data, now, args);
    assert!(
        out.status.success(),
        "daybook {args:?} failed: {}\n{}",
        text(&out.stderr),
        text(&out.stdout)
    );
    text(&out.stdout)
}
