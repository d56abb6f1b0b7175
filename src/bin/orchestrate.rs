//! `orchestrate`: spawn one `reduce` child per letter, see each finish, check
//! its result file, and report the shortest reacted polymer.

#![warn(clippy::too_many_lines)]

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use polymer_fanout::cli::{self, orchestrate::Args, print, say};
use polymer_fanout::files::Target;
use polymer_fanout::orchestrator::{self, Interrupted};
use polymer_fanout::report::{Report, Verdict, joblog, json, text, timeline};
use polymer_fanout::signals::Signals;
use polymer_fanout::supervise::queue::Slurm;
use polymer_fanout::sys::contain;

#[global_allocator]
static ALLOCATOR: polymer_fanout::memory::Guarded =
    polymer_fanout::memory::Guarded::new("orchestrate");

fn main() -> ExitCode {
    // A file past `ulimit -f` is an error on the write (EFBIG) that names
    // the file, not a silent death by SIGXFSZ.
    polymer_fanout::signals::ignore_file_size_limit();
    let args = Args::parse();
    if let Some(what) = args.generate {
        return cli::generate(what, Args::command());
    }
    if let (true, Some(dir)) = (args.status, &args.results_dir) {
        return cli::status(dir, args.json, &mut Slurm);
    }
    if let Err(usage) = args.check_mode_options() {
        usage.exit();
    }
    // First, while this process has one thread: what removes the run's
    // folders however it ends, and what the children's container needs.
    // Dropped last, when every child is gone; the container's guard kills
    // whatever is left.
    let _janitor = (args.check_child.is_some() || args.mode == cli::orchestrate::ModeName::Process)
        // SAFETY: nothing before this line starts a thread (clap, the
        // file-size signal and the option checks run on this one).
        .then(|| unsafe { orchestrator::janitor::start() });
    let _teardown = (args.check_child.is_some() || args.children_run_here()).then(contain::prepare);
    if let Some(program) = &args.check_child {
        return cli::check_child(program);
    }
    match run(&args) {
        Ok(status) => status,
        Err(err) => {
            say(&format!("orchestrate: error: {err:#}"));
            match err.downcast_ref::<Interrupted>() {
                Some(interrupted) => ExitCode::from(interrupted.exit_status()),
                None => ExitCode::FAILURE,
            }
        }
    }
}

/// Writes the job log and the timeline asked for; whether both were
/// written (a failure is said in one line each).
fn write_files(report: &Report, joblog: Option<Target>, timeline: Option<Target>) -> bool {
    let mut ok = true;
    for (target, content) in [
        (joblog, joblog::joblog as fn(&Report) -> String),
        (timeline, timeline::timeline),
    ] {
        if let Some(target) = target
            && let Err(err) = target.write(content(report).as_bytes())
        {
            say(&format!("orchestrate: error: {err:#}"));
            ok = false;
        }
    }
    ok
}

/// Says how children were contained where it falls short of a PID
/// namespace: a subreaper that cannot find orphans always, a subreaper
/// or process groups alone (macOS) when verbose.
fn say_containment(verbose: bool) {
    if let Some(contain::Containment::ProcessGroups(why)) = contain::current()
        && verbose
    {
        say(&format!(
            "orchestrate: containment: process groups only ({why}): what children start \
             outside their process group would outlive orchestrate"
        ));
    }
    if let Some(contain::Containment::Subreaper(why)) = contain::current() {
        // Without /proc a subreaper cannot find the orphans it should
        // kill: said even unasked.
        let blind = !contain::can_find_orphans();
        if blind {
            say(&format!(
                "orchestrate: warning: no PID namespace ({why}), and without /proc no orphan \
                 can be found: processes children started outside their process group may \
                 still run"
            ));
        } else if verbose {
            say(&format!(
                "orchestrate: containment: subreaper only, no PID namespace ({why}): what \
                 children start would outlive a SIGKILL of orchestrate"
            ));
        }
    }
}

/// Runs the job and prints the result; the exit status when it ran.
fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let signals = Signals::install().context("could not install signal handlers")?;
    args.check_outputs()?;
    // Checked before any work, so a bad path costs nothing.
    let joblog_target = args.joblog.as_deref().map(Target::open).transpose()?;
    let timeline_target = args.timeline.as_deref().map(Target::open).transpose()?;
    let config = args.config()?;
    let bar = progress_bar(config.letters.len());
    let report = orchestrator::run(&config, &mut Slurm, &signals, &|_| {
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let report = report?;
    let ok = write_files(&report, joblog_target, timeline_target);
    if args.verbose {
        eprint!("{}", text::letter_table(&report));
    }
    say_containment(args.verbose);
    for line in text::failure_lines(&report) {
        say(&format!("orchestrate: {line}"));
    }
    let (letter, length) = match report.verdict() {
        Verdict::Minimum { letter, length } => (letter, length),
        failed @ Verdict::Failed { .. } => {
            say(&format!(
                "orchestrate: error: {}",
                text::failed_line(failed)
            ));
            return Ok(ExitCode::FAILURE);
        }
    };
    let answer = if args.quiet {
        length.to_string()
    } else if args.json {
        json::json(&report, letter, length).to_string()
    } else {
        text::summary(&report, letter, length)
    };
    if let Err(status) = print("orchestrate", &answer) {
        return Ok(status);
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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
