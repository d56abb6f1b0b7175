//! `reduce`'s command line (the child side of the argv in `protocol`), and
//! the work it describes: read, remove a unit type, react, write the result.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::Parser;

use crate::input::{self, Source};
use anyhow::Context;

use crate::polymer::stream::Reaction;
use crate::polymer::sweep::{self, Checked, Limits, MAX_SEGMENTS};
use crate::polymer::{self, UnitType, react_with_plain_stack};
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

    /// React on N threads [default: every core this process may use; one
    /// when orchestrate started it, which runs children side by side, but
    /// every core for a letter that cannot be swept out of the reacted
    /// polymer orchestrate hands over in one pass (it cancels too much of
    /// it, or leaves too many pieces), the child with the most to do].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,

    /// The reaction kernel: `fast`, or `plain-stack`, the textbook `Vec`
    /// stack that benchmarks use as the naive baseline.
    #[arg(long, value_enum, default_value_t = Kernel::Fast, hide = true)]
    pub kernel: Kernel,

    /// Die with this parent process (orchestrate passes its pid to the
    /// `reduce` beside it; see docs/protocol.md).
    #[arg(long, value_name = "PID", hide = true)]
    pub parent_pid: Option<crate::sys::Pid>,

    /// Print a man page or a shell completion script, and exit, e.g.
    /// `reduce --generate man > reduce.1`.
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

    /// The threads to react on: `--threads`, else one for a child of
    /// orchestrate, else `None`: every core this process may use.
    pub fn threads(&self) -> Option<usize> {
        match self.threads {
            Some(threads) => Some(threads as usize),
            None if protocol::started_by_orchestrate() => Some(1),
            None => None,
        }
    }

    /// The threads for a letter that a reacted polymer cannot be swept
    /// without in one pass ([`Checked::GaveUp`]): `--threads`, else every
    /// core this process may use. That letter's child has the most to do of
    /// all: while its siblings run, its threads share the cores with them;
    /// once they are done (they end first), it has the cores to itself.
    pub fn given_up_threads(&self) -> usize {
        match self.threads {
            Some(threads) => threads as usize,
            None => std::thread::available_parallelism().map_or(1, usize::from),
        }
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
    let source = args.source();
    let target = match args.result_path() {
        Some(path) => {
            let input = args.input.as_deref().unwrap_or(std::ffi::OsStr::new("-"));
            crate::files::check_outputs(
                crate::files::input_identity(Path::new(input)),
                &[("--output", &path, true)],
            )?;
            // A child writes into the folder it was handed, or nowhere:
            // one gone means its run is gone (never made again here).
            let as_child = args.parent_pid.is_some() || protocol::started_by_orchestrate();
            Some(if as_child {
                crate::files::Target::open(&path)?
            } else {
                protocol::result_target(&path)?
            })
        }
        None => None,
    };
    let in_place = match (args.kernel, args.letter) {
        (Kernel::Fast, Some(letter)) => {
            length_in_place(&source, letter, || args.given_up_threads())?
        }
        _ => None,
    };
    let length = match in_place {
        Some(length) => length,
        None => react(&source, args)?,
    };
    if let Some(target) = target {
        target.write(&protocol::result_content(length))?;
    }
    Ok(length)
}

/// The length without `letter` of a reacted polymer that can be read in
/// place (see `input::map_sealed`), without copying it; `None` when the
/// input is not such a polymer, or would need too many segments.
fn length_in_place(
    source: &Source,
    letter: UnitType,
    threads: impl FnOnce() -> usize,
) -> anyhow::Result<Option<usize>> {
    let Some(mapped) = input::map_sealed(source)? else {
        return Ok(None);
    };
    let bytes = mapped.bytes();
    let units = polymer::trimmed(bytes);
    let validate = || polymer::validate(bytes).with_context(|| source.to_string());
    let limits = Limits {
        max_segments: MAX_SEGMENTS,
        give_up_when_busy: true,
    };
    // One pass: the bytes are checked as the letter is swept out.
    Ok(
        match sweep::length_checked(units, letter.letter() as u8, limits) {
            Checked::Length(length) => Some(length),
            Checked::NotAPolymer => {
                validate()?;
                None
            }
            Checked::NotReacted => None,
            // Too many segments or looks: the letter is reacted out of the
            // mapping into a buffer instead, once the bytes are checked.
            Checked::GaveUp => {
                validate()?;
                // Asked only here: asking reads several files on Linux.
                let length = polymer::reacted_len_without_parallel(units, letter, threads())
                    .map_err(|_| {
                        crate::memory::exhausted(format_args!(
                            "for the {} units reacted without {letter}",
                            units.len()
                        ))
                    })?;
                Some(length)
            }
        },
    )
}

/// Reads the polymer and reacts it as `args` say: with the fast kernel,
/// while reading it, on `--threads` threads.
fn react(source: &Source, args: &ReduceArgs) -> anyhow::Result<usize> {
    match args.kernel {
        Kernel::Fast => {
            let reaction = Reaction {
                threads: args.threads(),
                without: args.letter,
                size_hint: 0,
            };
            let read = input::react(source, &reaction, &mut |_| {})?;
            Ok(read.reacted.polymer.len())
        }
        Kernel::PlainStack => {
            let mut polymer = input::load(source)?;
            if let Some(letter) = args.letter {
                polymer.remove(letter);
            }
            Ok(react_with_plain_stack(polymer.units()).len())
        }
    }
}

#[cfg(test)]
mod tests {
    // What only the Linux-only tests use.
    #![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]
    use super::*;
    use crate::protocol::Assignment;

    #[test]
    fn the_child_command_line_round_trips_through_the_reduce_parser() {
        let assignment = Assignment {
            letter: "q".parse().unwrap(),
            result: PathBuf::from("/tmp/run/q.txt"),
            polymer: PathBuf::from("/tmp/run/polymer"),
        };
        let parsed = ReduceArgs::try_parse_from(
            std::iter::once(OsString::from("reduce")).chain(assignment.args()),
        )
        .unwrap();
        assert_eq!(parsed.letter, Some(assignment.letter));
        assert_eq!(parsed.result_path(), Some(assignment.result.clone()));
        assert!(parsed.quiet);
        assert_eq!(parsed.source(), Source::Path(assignment.polymer.clone()));
    }

    /// A sealed in-memory file holding `content`, and its path.
    fn sealed_file(content: &[u8]) -> (std::fs::File, Source) {
        use std::io::Write;
        let mut file = crate::sys::sealed::create(c"test").unwrap();
        file.write_all(content).unwrap();
        crate::sys::sealed::seal(&file).unwrap();
        let path = crate::sys::sealed::path_for_self(&file);
        (file, Source::Path(path))
    }

    fn unit(letter: char) -> UnitType {
        letter.to_string().parse().unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_sealed_reacted_polymer_is_read_in_place() {
        // "dabAcCaCBAcCcaDA" reacted.
        let (_file, source) = sealed_file(b"dabCBAcaDA\n");
        for (letter, expected) in [('a', 6), ('b', 8), ('c', 4), ('d', 6), ('e', 10)] {
            assert_eq!(
                length_in_place(&source, unit(letter), || 2).unwrap(),
                Some(expected),
                "{letter}"
            );
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn other_inputs_are_left_to_the_reading_path() {
        let (_file, unreacted) = sealed_file(b"dabAcCaCBAcCcaDA\n");
        assert_eq!(length_in_place(&unreacted, unit('c'), || 2).unwrap(), None);
        let mut plain = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut plain, b"dabCBAcaDA\n").unwrap();
        let plain = Source::Path(plain.path().to_path_buf());
        assert_eq!(length_in_place(&plain, unit('c'), || 2).unwrap(), None);
        assert_eq!(
            length_in_place(&Source::Stdin, unit('c'), || 2).unwrap(),
            None
        );
        // The reading path answers them.
        let args = ReduceArgs::try_parse_from(["reduce", "-l", "c", "-o", "-", "x"]).unwrap();
        assert_eq!(react(&unreacted, &args).unwrap(), 4);
    }

    /// The plain stack's length of `raw` without `letter`.
    fn plain_length_without(raw: &[u8], letter: char) -> usize {
        let mut polymer = crate::polymer::Polymer::parse(raw.to_vec()).unwrap();
        polymer.remove(unit(letter));
        react_with_plain_stack(polymer.units()).len()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn letters_past_the_sweep_limits_are_reacted_out_of_the_mapping() {
        // Each "xaXb" after the first holds one more segment without a.
        let too_many_segments = b"xaXb".repeat(MAX_SEGMENTS + 10);
        // Without q, every pair around it cancels: a look per junction.
        // Past two pieces' worth of units, so it is reacted on two threads.
        let busy = b"xqXyqY".repeat(400_000);
        for (raw, letter) in [(too_many_segments, 'a'), (busy, 'q')] {
            let (_file, source) = sealed_file(&raw);
            assert_eq!(
                length_in_place(&source, unit(letter), || 2).unwrap(),
                Some(plain_length_without(&raw, letter))
            );
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_sealed_file_that_is_not_a_polymer_is_an_error_naming_it() {
        let (_file, source) = sealed_file(b"ab1\n");
        let err = length_in_place(&source, unit('a'), || 2).unwrap_err();
        let line = format!("{err:#}");
        assert!(line.starts_with(&source.to_string()), "{line}");
        assert!(line.contains("byte offset 2: '1'"), "{line}");
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
