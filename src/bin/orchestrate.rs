//! `orchestrate`: spawn one `reduce` child per letter, poll for their result
//! files, and report the shortest reacted polymer.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use polymer_fanout::input::Source;
use polymer_fanout::orchestrator::{self, Config, Interrupted};
use polymer_fanout::polymer::UnitType;
use polymer_fanout::report::{Attempt, Report};
use polymer_fanout::signals::Signals;
use polymer_fanout::supervisor::{ChildProgram, Policy};

/// Find the shortest polymer left after removing one unit type, with one
/// `reduce` child process per letter.
///
/// Exit status: 0 success, 1 failure (bad input, a letter that failed),
/// 2 usage error, 128+N when stopped by signal N (130 for SIGINT, 143 for
/// SIGTERM).
#[derive(Debug, Parser)]
#[command(name = "orchestrate", version)]
struct Args {
    /// The polymer: a file of ASCII letters, or `-` for standard input.
    #[arg(value_name = "INPUT")]
    input: OsString,

    /// The child program [default: `reduce` beside this executable, then on PATH].
    #[arg(long, value_name = "PATH")]
    reduce_bin: Option<PathBuf>,

    /// A command prefix for every child, split like a shell would, e.g.
    /// "nice -n 10" or "srun --ntasks=1 --quiet". With children on other
    /// machines, --results-dir must be on a filesystem they all share.
    #[arg(long, value_name = "CMD", value_parser = parse_launcher)]
    launcher: Option<Words>,

    /// Keep result files in this folder (created if missing; result files
    /// of this run's letters already there are removed first) [default: a
    /// temporary folder, removed on exit].
    #[arg(long, value_name = "DIR")]
    results_dir: Option<PathBuf>,

    /// Which unit types to try, e.g. "aeiou" (case-insensitive) [default: all 26].
    #[arg(long, value_name = "LETTERS", value_parser = parse_letters)]
    letters: Option<Letters>,

    /// At most N children alive at once [default: one per letter].
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,

    /// Per-child wall-clock limit in seconds (fractions allowed); a child
    /// past it is stopped, with everything it started.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    timeout: Option<Duration>,

    /// Seconds between SIGTERM and SIGKILL when stopping a child.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, default_value = "2")]
    grace: Duration,

    /// Run every letter even after a failure, and report every failure
    /// (by default the first failure stops the run).
    #[arg(long)]
    keep_going: bool,

    /// Run a failed letter again up to N times before counting it as failed.
    #[arg(long, value_name = "N", default_value_t = 0)]
    retries: u32,

    /// Hand the children the original input instead of the polymer that
    /// orchestrate reacted once up front.
    #[arg(long)]
    no_prereact: bool,

    /// Print only the minimum length.
    #[arg(short, long, conflicts_with = "json")]
    quiet: bool,

    /// Print one JSON object: min_length, best_letter, full_length,
    /// results, elapsed_ms, ...
    #[arg(long)]
    json: bool,
}

/// A command prefix split into words. (A newtype, because clap gives
/// `Vec` fields a meaning of their own: repeated values.)
#[derive(Clone, Debug)]
struct Words(Vec<OsString>);

fn parse_launcher(value: &str) -> Result<Words, String> {
    shlex::split(value)
        .map(|words| Words(words.into_iter().map(OsString::from).collect()))
        .ok_or_else(|| "unbalanced quotes or a trailing backslash".to_string())
}

#[derive(Clone, Debug)]
struct Letters(Vec<UnitType>);

fn parse_letters(value: &str) -> Result<Letters, String> {
    UnitType::parse_set(value).map(Letters)
}

fn parse_seconds(value: &str) -> Result<Duration, String> {
    match value.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 && seconds < 1e9 => {
            Ok(Duration::from_secs_f64(seconds))
        }
        _ => Err(format!("'{value}' is not a positive number of seconds")),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("orchestrate: error: {err:#}");
            match err.downcast_ref::<Interrupted>() {
                Some(interrupted) => ExitCode::from(interrupted.exit_status()),
                None => ExitCode::FAILURE,
            }
        }
    }
}

/// Runs the fan-out and prints the result; `Ok(false)` when letters failed.
fn run(args: &Args) -> anyhow::Result<bool> {
    let signals = Signals::install().context("could not install signal handlers")?;
    let letters = args
        .letters
        .clone()
        .map(|l| l.0)
        .unwrap_or_else(|| UnitType::all().collect());
    let config = Config {
        source: Source::from(args.input.as_os_str()),
        program: ChildProgram {
            program: reduce_bin(args.reduce_bin.as_ref())?,
            launcher: args.launcher.clone().map(|w| w.0).unwrap_or_default(),
        },
        results_dir: args.results_dir.clone(),
        prereact: !args.no_prereact,
        policy: Policy {
            jobs: args.jobs.map_or(letters.len(), |jobs| jobs as usize),
            timeout: args.timeout,
            keep_going: args.keep_going,
            retries: args.retries,
            grace: args.grace,
            ..Policy::default()
        },
        letters,
    };
    let report = orchestrator::run(&config, &signals)?;
    print_failures(&report);
    let Some((_, minimum)) = report.minimum() else {
        let failed = report.failures().filter(|a| !retried(&report, a)).count();
        let unfinished = config.letters.len() - report.results.len() - failed;
        let mut line = format!(
            "orchestrate: error: {failed} of {} letters failed",
            config.letters.len()
        );
        if unfinished > 0 {
            line.push_str(&format!(
                " ({unfinished} more stopped or never started; --keep-going runs them all)"
            ));
        }
        eprintln!("{line}; no minimum reported");
        return Ok(false);
    };
    if args.quiet {
        println!("{minimum}");
    } else if args.json {
        println!("{}", report.json().unwrap_or_default());
    } else {
        println!("{}", report.summary().unwrap_or_default());
    }
    Ok(true)
}

/// One line per failed attempt, naming the letter and the reason.
fn print_failures(report: &Report) {
    for attempt in report.failures() {
        let (level, suffix) = if retried(report, attempt) {
            ("warning", format!(" (attempt {}; retried)", attempt.number))
        } else {
            ("error", String::new())
        };
        let mut line = format!(
            "orchestrate: {level}: letter {}: child {}{suffix}",
            attempt.letter, attempt.outcome
        );
        if !attempt.stderr_tail.is_empty() {
            line.push_str("; its stderr ends: ");
            line.push_str(&attempt.stderr_tail.join(" | "));
        }
        eprintln!("{line}");
    }
}

/// Whether a later attempt at the same letter followed this one.
fn retried(report: &Report, attempt: &Attempt) -> bool {
    report
        .attempts
        .iter()
        .any(|a| a.letter == attempt.letter && a.number > attempt.number)
}

/// The child program: as given, else `reduce` beside this executable, else
/// `reduce` on PATH. Checked here so that nothing is spawned in vain.
fn reduce_bin(given: Option<&PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(path) = given {
        let found = if path.components().count() > 1 {
            path.is_file().then(|| path.clone())
        } else {
            which::which(path).ok()
        };
        let Some(found) = found else {
            bail!("--reduce-bin {}: no such program", path.display());
        };
        return std::path::absolute(&found)
            .with_context(|| format!("could not resolve {}", found.display()));
    }
    let name = format!("reduce{}", std::env::consts::EXE_SUFFIX);
    if let Ok(exe) = std::env::current_exe() {
        let sibling = exe.with_file_name(&name);
        if sibling.is_file() {
            return Ok(sibling);
        }
    }
    which::which(&name).map_err(|_| {
        anyhow::anyhow!(
            "could not find the `reduce` program beside orchestrate or on PATH; \
             build it with `cargo build --release` or name it with --reduce-bin"
        )
    })
}
