//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub fn input(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("inputs")
        .join(name)
}

pub fn example() -> PathBuf {
    input("example.txt")
}

pub fn reduce_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_reduce"))
}

/// `reduce` run inside `dir`, so default result paths land there.
pub fn reduce(dir: &Path) -> Command {
    let mut cmd = Command::new(reduce_bin());
    cmd.current_dir(dir)
        .timeout(std::time::Duration::from_secs(30));
    cmd
}

/// Names of the entries of `dir`, sorted; empty when it does not exist.
pub fn entries(dir: &Path) -> Vec<String> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = read
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
