//! `reduce`'s command line (the child side of the argv in `protocol`), and
//! the work it describes: read, remove a unit type, react, write the result.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::Parser;

use crate::input::{self, Source};
use crate::polymer::{UnitType, react_with_plain_stack};
use crate::protocol;

/// React a polymer with one unit type removed and write the reacted length
/// to a result file.
#[derive(Debug, Parser, PartialEq, Eq)]
#[command(name = "reduce", version)]
pub struct ReduceArgs {
    /// The polymer: a file of ASCII letters, or `-` for standard input.
    #[arg(value_name = "INPUT", required_unless_present = "generate")]
    pub input: Option<OsString>,

    /// Remove every unit of this type (one letter, either case) before
    /// reacting. Without it nothing is removed.
    #[arg(short, long, value_name = "LETTER")]
    pub letter: Option<UnitType>,

    /// Result file to write [default: out/<letter>.txt, or out/full.txt
    /// without --letter]. Parent folders are created. `-` writes no file.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Print nothing on stdout (by default the length is printed).
    #[arg(short, long)]
    pub quiet: bool,

    /// The reaction kernel: `fast`, or `plain-stack`, the textbook `Vec`
    /// stack that benchmarks use as the naive baseline.
    #[arg(long, value_enum, default_value_t = Kernel::Fast, hide = true)]
    pub kernel: Kernel,

    /// Print a man page or a shell completion script, and exit.
    #[arg(long, value_name = "WHAT", value_enum, exclusive = true)]
    pub generate: Option<crate::cli::Generate>,
}

/// Which reaction kernel `reduce` uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kernel {
    Fast,
    PlainStack,
}

impl ReduceArgs {
    /// The input; `-` (standard input) when none was given, which only
    /// `--generate` allows.
    pub fn source(&self) -> Source {
        Source::from(self.input.as_deref().unwrap_or(std::ffi::OsStr::new("-")))
    }

    /// The result file to write, or `None` for `--output -`.
    pub fn result_path(&self) -> Option<PathBuf> {
        match &self.output {
            Some(path) if path.as_os_str() == "-" => None,
            Some(path) => Some(path.clone()),
            None => {
                let name = self.letter.map_or("full".to_string(), |l| l.to_string());
                Some(Path::new("out").join(format!("{name}.txt")))
            }
        }
    }
}

/// Does what `args` ask and returns the reacted length.
pub fn run(args: &ReduceArgs) -> anyhow::Result<usize> {
    protocol::write_start_mark();
    let mut polymer = input::load(&args.source())?;
    let length = match (args.kernel, args.letter) {
        // An input that is already reacted (as orchestrate hands it) only
        // needs compacting where the letter was.
        (Kernel::Fast, Some(letter)) => {
            polymer.react_without(letter);
            polymer.len()
        }
        (Kernel::Fast, None) => {
            polymer.react();
            polymer.len()
        }
        (Kernel::PlainStack, letter) => {
            if let Some(letter) = letter {
                polymer.remove(letter);
            }
            react_with_plain_stack(polymer.units()).len()
        }
    };
    if let Some(path) = args.result_path() {
        protocol::write_result(&path, length)?;
    }
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ChildJob;

    #[test]
    fn the_child_command_line_round_trips_through_the_reduce_parser() {
        let job = ChildJob {
            letter: "q".parse().unwrap(),
            result: PathBuf::from("/tmp/run/q.txt"),
            polymer: PathBuf::from("/tmp/run/polymer"),
        };
        let parsed =
            ReduceArgs::try_parse_from(std::iter::once(OsString::from("reduce")).chain(job.args()))
                .unwrap();
        assert_eq!(parsed.letter, Some(job.letter));
        assert_eq!(parsed.result_path(), Some(job.result.clone()));
        assert!(parsed.quiet);
        assert_eq!(parsed.source(), Source::Path(job.polymer.clone()));
    }

    #[test]
    fn default_result_paths_follow_the_letter() {
        let parse = |args: &[&str]| ReduceArgs::try_parse_from(args).unwrap().result_path();
        assert_eq!(
            parse(&["reduce", "in.txt"]),
            Some(PathBuf::from("out/full.txt"))
        );
        assert_eq!(
            parse(&["reduce", "-l", "C", "in.txt"]),
            Some(PathBuf::from("out/c.txt"))
        );
        assert_eq!(parse(&["reduce", "-o", "-", "in.txt"]), None);
    }
}
