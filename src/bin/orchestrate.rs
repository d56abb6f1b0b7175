//! `orchestrate`: spawn one `reduce` child per letter, poll for their result
//! files, and report the shortest reacted polymer.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use std::io::IsTerminal;

use clap::{CommandFactory, Parser};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use polymer_fanout::export;
use polymer_fanout::input::Source;
use polymer_fanout::launcher::Launcher;
use polymer_fanout::orchestrator::{self, Config, Interrupted, Mode};
use polymer_fanout::polymer::UnitType;
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
    /// Under srun each child's job is named <name>-<letter> (<name> from
    /// --job-name, default orchestrate-<pid>), and the job of a child that
    /// had to be stopped is cancelled with scancel.
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

    /// At most N children (or threads) at once [default: one child per
    /// letter; in thread mode, one thread per core].
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

    /// Where the per-letter reactions run: `process` (one `reduce` child
    /// each), `thread` (a pool of --jobs threads in this process) or
    /// `serial` (one after another on this thread).
    #[arg(long, value_enum, default_value_t = Mode::Process)]
    mode: Mode,

    /// Write a tab-separated job log: one line per letter with its start
    /// and duration in seconds, outcome and length.
    #[arg(long, value_name = "FILE")]
    joblog: Option<PathBuf>,

    /// Write an SVG timeline of the run: the phases before the fan-out and
    /// one bar per letter on a shared time axis.
    #[arg(long, value_name = "FILE.svg")]
    timeline: Option<PathBuf>,

    /// Print a table of every letter (length, duration, outcome) on stderr.
    #[arg(short, long)]
    verbose: bool,

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
    if args.mode != Mode::Process {
        let process_only = [
            ("--reduce-bin", args.reduce_bin.is_some()),
            ("--launcher", args.launcher.is_some()),
            ("--results-dir", args.results_dir.is_some()),
            ("--timeout", args.timeout.is_some()),
            ("--retries", args.retries > 0),
            ("--keep-going", args.keep_going),
            ("--no-prereact", args.no_prereact),
        ];
        if let Some((flag, _)) = process_only.iter().find(|(_, given)| *given) {
            Args::command()
                .error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("{flag} applies only to --mode process"),
                )
                .exit();
        }
    }
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
        program: match args.mode {
            Mode::Process => Some(ChildProgram {
                program: reduce_bin(args.reduce_bin.as_ref())?,
                launcher: Launcher::from_words(
                    args.launcher.clone().map(|w| w.0).unwrap_or_default(),
                ),
            }),
            Mode::Thread | Mode::Serial => None,
        },
        results_dir: args.results_dir.clone(),
        prereact: !args.no_prereact,
        mode: args.mode,
        policy: Policy {
            jobs: args.jobs.map_or_else(
                || match args.mode {
                    Mode::Thread => std::thread::available_parallelism().map_or(1, usize::from),
                    _ => letters.len(),
                },
                |jobs| jobs as usize,
            ),
            timeout: args.timeout,
            keep_going: args.keep_going,
            retries: args.retries,
            grace: args.grace,
            ..Policy::default()
        },
        letters,
    };
    let bar = progress_bar(config.letters.len());
    let report = orchestrator::run(&config, &signals, &|_| {
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = report?;
    if let Some(path) = &args.joblog {
        export::write_joblog(path, &report)?;
    }
    if let Some(path) = &args.timeline {
        export::write_timeline(path, &report)?;
    }
    if args.verbose {
        eprint!("{}", report.letter_table());
    }
    for line in report.failure_lines() {
        eprintln!("orchestrate: {line}");
    }
    let Some((_, minimum)) = report.minimum() else {
        let failed = report.failures().filter(|a| !report.retried(a)).count();
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

/// Letters done out of total and the elapsed time, on stderr, only when
/// stderr is a terminal: logs and pipes stay clean.
fn progress_bar(total: usize) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} letters")
        .map(|style| style.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(100));
    Some(bar)
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
