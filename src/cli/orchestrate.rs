//! `orchestrate`'s command line, and the [`Config`] it describes. Options
//! that belong to one mode are refused in the others here, as usage errors,
//! so that a [`Mode`] never holds what it cannot use.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{CommandFactory, Parser};

use crate::files::shown;
use crate::input::Source;
use crate::orchestrator::{Config, Mode, ProcessMode, ResultsFolder};
use crate::polymer::UnitType;
use crate::supervise::placement::Placement;
use crate::supervise::{Policy, queue};

/// Find the shortest polymer left after removing one unit type, with one
/// `reduce` child process per letter.
///
/// Exit status: 0 success, 1 failure (bad input, a letter that failed, an
/// output that could not be written), 2 usage error, 128+N when stopped by
/// signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP, 131 SIGQUIT), 141 when
/// stdout is a closed pipe.
#[derive(Debug, Parser)]
#[command(name = "orchestrate", version)]
pub struct Args {
    /// The polymer: a file of ASCII letters, or `-` for standard input.
    #[arg(value_name = "INPUT", required_unless_present_any = ["generate", "check_child", "status"])]
    pub input: Option<OsString>,

    /// Print a man page or a shell completion script, and exit, e.g.
    /// `orchestrate --generate man > orchestrate.1`.
    #[arg(long, value_name = "WHAT", value_enum, exclusive = true)]
    pub generate: Option<crate::cli::Generate>,

    /// Check that PROG keeps the child protocol (docs/protocol.md): run it
    /// through every case a child must pass, print one line per case, and
    /// exit 0 only if all pass.
    #[arg(long, value_name = "PROG", exclusive = true)]
    pub check_child: Option<PathBuf>,

    /// Show what the --results-dir folder says of its run, changing
    /// nothing: each letter's state (done with its length, running and
    /// where, queued, lost, failed, pending), the minimum so far, and a job
    /// array's ids (asking squeue where it answers); with --json, one
    /// object. Safe while a run writes the folder, or an array runs on.
    #[arg(long, requires = "results_dir", conflicts_with_all = ["input", "resume", "quiet", "verbose"])]
    pub status: bool,

    /// The child program [default: `reduce` beside this executable, then on PATH].
    #[arg(long, value_name = "PATH")]
    pub reduce_bin: Option<PathBuf>,

    /// A command prefix for every child, split like a shell would, e.g.
    /// "nice -n 10" or "srun --ntasks=1 --quiet". With children on other
    /// machines, --results-dir must be on a filesystem they all share.
    /// Under srun each child's job is named <name>-<letter>-<attempt> (<name> from
    /// --job-name, default orchestrate-<pid>), and the job of a child that
    /// had to be stopped is cancelled with scancel.
    #[arg(long, value_name = "CMD", value_parser = parse_launcher)]
    pub launcher: Option<Words>,

    /// Publish each letter's checked result here as <letter>.txt (the folder
    /// is created if missing; result files of earlier runs are removed
    /// first; one run at a time may use it). Children write into a private
    /// folder inside it [default: results stay in a temporary folder,
    /// removed on exit].
    #[arg(long, value_name = "DIR")]
    pub results_dir: Option<PathBuf>,

    /// Which unit types to try, e.g. "aeiou" (case-insensitive) [default: all 26].
    #[arg(long, value_name = "LETTERS", value_parser = parse_letters)]
    pub letters: Option<Letters>,

    /// At most N children (or threads) at once [default: one child per
    /// letter; in thread and sweep mode, one thread per core].
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub jobs: Option<u32>,

    /// Per-child wall-clock limit in seconds (fractions allowed); a child
    /// past it is stopped, with everything it started. Under srun or
    /// --sbatch it counts from when the child's work started, as its start
    /// mark says (docs/protocol.md), so time spent queueing does not count.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds)]
    pub timeout: Option<Duration>,

    /// Seconds between SIGTERM and SIGKILL when stopping a child.
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, default_value = "2")]
    pub grace: Duration,

    /// Run every letter even after a failure, and report every failure
    /// (by default the first failure stops the run).
    #[arg(long)]
    pub keep_going: bool,

    /// Run a failed letter again up to N times before counting it as failed.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub retries: u32,

    /// Hand the children (a private copy of) the original input instead of
    /// the polymer that orchestrate reacted once up front. orchestrate still
    /// reacts it once itself, for the full length in the report.
    #[arg(long)]
    pub no_prereact: bool,

    /// Run the letters as one Slurm job array, submitted with sbatch (ARGS:
    /// extra sbatch options, e.g. "--partition=short --time=5"), each task
    /// the same child command line as in process mode, reporting through
    /// files in --results-dir (required; on a filesystem every node shares).
    /// Unlike local children, the array keeps running if orchestrate is
    /// killed outright or its session drops: `orchestrate --resume --sbatch
    /// --results-dir DIR INPUT` then collects it, submitting nothing twice.
    /// Any stop signal (SIGINT, SIGTERM, SIGHUP, SIGQUIT), a timeout or a failure
    /// cancel it with scancel.
    #[arg(
        long,
        value_name = "ARGS",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "",
        value_parser = parse_launcher,
        requires = "results_dir",
        conflicts_with = "launcher"
    )]
    pub sbatch: Option<Words>,

    /// Reuse the results that --results-dir holds from an earlier run of
    /// the same input and child program (recorded in its orchestrate.json):
    /// only letters without a valid result run. Refuses a folder that holds
    /// results of another input.
    #[arg(long, requires = "results_dir")]
    pub resume: bool,

    /// Where and how each letter's length is found: `process` (one
    /// `reduce` child each), `thread` (the same work on a pool of --jobs
    /// threads in this process), `serial` (one after another on one
    /// thread), or `sweep` (the one-pass algorithm: every letter from the
    /// junctions of the reacted polymer, on --jobs threads).
    #[arg(long, value_name = "MODE", value_enum, default_value_t = ModeName::Process)]
    pub mode: ModeName,

    /// Write a tab-separated job log: one line per letter with its start
    /// and duration in seconds, outcome and length.
    #[arg(long, value_name = "FILE")]
    pub joblog: Option<PathBuf>,

    /// Write an SVG timeline of the run: the phases before the fan-out and
    /// one bar per letter on a shared time axis.
    #[arg(long, value_name = "FILE.svg")]
    pub timeline: Option<PathBuf>,

    /// Print a table of every letter (length, duration, outcome) on stderr.
    #[arg(short, long)]
    pub verbose: bool,

    /// Print only the minimum length.
    #[arg(short, long, conflicts_with = "json")]
    pub quiet: bool,

    /// Print one JSON object: min_length, best_letter, full_length,
    /// results, elapsed_ms, ...
    #[arg(long)]
    pub json: bool,
}

/// The modes, as the command line names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeName {
    Process,
    Thread,
    Serial,
    Sweep,
}

/// A command prefix split into words. (A newtype, because clap gives
/// `Vec` fields a meaning of their own: repeated values.)
#[derive(Clone, Debug)]
pub struct Words(Vec<OsString>);

fn parse_launcher(value: &str) -> Result<Words, String> {
    crate::sys::split_command_line(value).map(Words)
}

#[derive(Clone, Debug)]
pub struct Letters(Vec<UnitType>);

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

impl Args {
    /// Refuses options that do not belong to the chosen mode, as clap
    /// refuses any other usage error (status 2).
    pub fn check_mode_options(&self) -> Result<(), clap::Error> {
        if !crate::sys::SLURM_RUNS_HERE && self.placement().needs_slurm() {
            return Err(Args::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                "--sbatch and an srun launcher need Slurm, which runs on Linux only",
            ));
        }
        if self.mode == ModeName::Process {
            return Ok(());
        }
        let process_only = [
            ("--reduce-bin", self.reduce_bin.is_some()),
            ("--launcher", self.launcher.is_some()),
            ("--results-dir", self.results_dir.is_some()),
            ("--timeout", self.timeout.is_some()),
            ("--retries", self.retries > 0),
            ("--keep-going", self.keep_going),
            ("--no-prereact", self.no_prereact),
            ("--resume", self.resume),
            ("--sbatch", self.sbatch.is_some()),
        ];
        match process_only.iter().find(|(_, given)| *given) {
            Some((flag, _)) => Err(Args::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                format!("{flag} applies only to --mode process"),
            )),
            None => Ok(()),
        }
    }

    /// Refuses, before anything is written, outputs that would land on the
    /// input or on each other: the job log, the timeline, and the results
    /// and record published in `--results-dir`.
    pub fn check_outputs(&self) -> anyhow::Result<()> {
        // (what, path, compared with the input here: results are compared
        // with it by the results folder's own check, which says more).
        let mut outputs: Vec<(String, PathBuf, bool)> = Vec::new();
        outputs.extend(
            self.joblog
                .iter()
                .map(|p| ("--joblog".to_string(), p.clone(), true)),
        );
        outputs.extend(
            self.timeline
                .iter()
                .map(|p| ("--timeline".to_string(), p.clone(), true)),
        );
        if let Some(dir) = &self.results_dir {
            let letters = self
                .letters
                .clone()
                .map_or_else(|| UnitType::all().collect(), |l| l.0);
            for letter in letters {
                outputs.push((
                    format!("the result for letter {letter}"),
                    crate::protocol::published_result(dir, letter),
                    false,
                ));
            }
            outputs.push((
                "the results folder's record".to_string(),
                dir.join(crate::orchestrator::record::FILE_NAME),
                true,
            ));
            outputs.push((
                "the results folder's lock holder".to_string(),
                dir.join(".orchestrate.pid"),
                true,
            ));
        }
        let named: Vec<(&str, &Path, bool)> = outputs
            .iter()
            .map(|(what, path, vs_input)| (what.as_str(), path.as_path(), *vs_input))
            .collect();
        let input = self
            .input
            .as_deref()
            .and_then(|input| crate::files::input_identity(Path::new(input)));
        crate::files::check_outputs(input, &named)
    }

    /// Whether the children run on this machine, where orchestrate
    /// contains them (a PID namespace): the process mode without `--sbatch`
    /// or an `srun` launcher.
    pub fn children_run_here(&self) -> bool {
        self.mode == ModeName::Process && self.placement().on_this_machine()
    }

    /// Where the children of the process mode run.
    fn placement(&self) -> Placement {
        Placement::new(
            self.launcher.clone().map(|w| w.0).unwrap_or_default(),
            self.sbatch.clone().map(|w| w.0),
        )
    }

    /// The run these options describe; fails when the child program cannot
    /// be found.
    pub fn config(&self) -> anyhow::Result<Config> {
        let letters = self
            .letters
            .clone()
            .map_or_else(|| UnitType::all().collect(), |l| l.0);
        let jobs = self.jobs.map(|jobs| jobs as usize);
        let threads =
            || jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
        let mode = match self.mode {
            ModeName::Thread => Mode::Thread { threads: threads() },
            ModeName::Serial => Mode::Serial,
            ModeName::Sweep => Mode::Sweep { threads: threads() },
            ModeName::Process => {
                Mode::Process(Box::new(self.process_mode(jobs.unwrap_or(letters.len()))?))
            }
        };
        let input = self
            .input
            .as_deref()
            .context("an INPUT is needed (a file, or - for standard input)")?;
        Ok(Config {
            source: Source::from(input),
            letters,
            mode,
        })
    }

    /// What the process mode runs, with at most `concurrency` children at once;
    /// fails when the child program cannot be found.
    fn process_mode(&self, concurrency: usize) -> anyhow::Result<ProcessMode> {
        let (program, heeds_parent_pid) = reduce_bin(self.reduce_bin.as_ref())?;
        let results = self.results_dir.clone().map(|path| ResultsFolder {
            path,
            resume: self.resume,
        });
        if let Some(words) = &self.sbatch
            && let Some(name) = queue::job_name(&words.0).filter(|n| !queue::is_job_name(n))
        {
            bail!(
                "--sbatch: the job name {name:?} cannot name an array's jobs (it must be \
                 printable ASCII without spaces, quotes, commas or '|')"
            );
        }
        let process = ProcessMode {
            program,
            heeds_parent_pid,
            policy: Policy {
                concurrency,
                timeout: self.timeout,
                keep_going: self.keep_going,
                retries: self.retries,
                grace: self.grace,
                ..Policy::default()
            },
            prereact: !self.no_prereact,
            placement: self.placement(),
            results,
        };
        process.check()?;
        Ok(process)
    }
}

/// The child program: as given, else `reduce` beside this executable, else
/// `reduce` on PATH. Checked here so that nothing is spawned in vain.
/// With it, whether it is the `reduce` beside this executable (which heeds
/// the parent-death request of the protocol).
fn reduce_bin(given: Option<&PathBuf>) -> anyhow::Result<(PathBuf, bool)> {
    let name = format!("reduce{}", std::env::consts::EXE_SUFFIX);
    // Where /proc is missing this process cannot read its own path: the
    // path it was started by (with a folder in it) stands in.
    let exe = std::env::current_exe().ok().or_else(|| {
        let started_as = PathBuf::from(std::env::args_os().next()?);
        (started_as.components().count() > 1)
            .then(|| std::path::absolute(&started_as).ok())
            .flatten()
    });
    let sibling = exe
        .map(|exe| exe.with_file_name(&name))
        .filter(|sibling| sibling.is_file());
    let is_sibling = |path: &Path| {
        let same = |a: &Path, b: &Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b);
        sibling
            .as_deref()
            .is_some_and(|sibling| same(path, sibling))
    };
    if let Some(path) = given {
        let found = if path.components().count() > 1 {
            path.is_file().then(|| path.clone())
        } else {
            which::which(path).ok()
        };
        let Some(found) = found else {
            bail!("--reduce-bin {}: no such program", shown(path));
        };
        let found = std::path::absolute(&found)
            .with_context(|| format!("could not resolve {}", shown(&found)))?;
        let ours = is_sibling(&found);
        return Ok((found, ours));
    }
    if let Some(sibling) = sibling {
        return Ok((sibling, true));
    }
    let found = which::which(&name).map_err(|_| {
        anyhow::anyhow!(
            "could not find the `reduce` program beside orchestrate or on PATH; \
             build it with `cargo build --release` or name it with --reduce-bin"
        )
    })?;
    Ok((found, false))
}
