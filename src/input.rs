//! Reading a polymer from a file or standard input, with the validation rules
//! both binaries share and errors that name the input.

use std::ffi::OsStr;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::polymer::Polymer;

/// Where a polymer comes from: a path, or `-` for standard input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Stdin,
    Path(PathBuf),
}

impl Source {
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::Stdin => None,
            Source::Path(path) => Some(path),
        }
    }
}

impl From<&OsStr> for Source {
    fn from(arg: &OsStr) -> Self {
        if arg == "-" {
            Source::Stdin
        } else {
            Source::Path(PathBuf::from(arg))
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Stdin => write!(f, "<stdin>"),
            Source::Path(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Reads and validates a polymer.
///
/// The whole input is read into one buffer that is then validated and later
/// reacted in place, so memory stays close to the input's size.
pub fn load(source: &Source) -> anyhow::Result<Polymer> {
    let raw = match source {
        Source::Stdin => {
            let mut raw = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut raw)
                .context("could not read standard input")?;
            raw
        }
        Source::Path(path) => {
            std::fs::read(path).with_context(|| format!("could not read {}", path.display()))?
        }
    };
    Polymer::parse(raw).with_context(|| source.to_string())
}
