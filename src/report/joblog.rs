//! The job log: tab-separated, one line per letter (like GNU parallel's, for
//! a spreadsheet). Columns: `letter`, `attempts`, `spawned_s` (when its
//! last attempt's child was spawned), `start_s` (when its work started,
//! later under a queueing launcher), `duration_s`, `outcome`, `length`,
//! `host` (where it ran, when known).

use std::fmt::Write as _;

use super::Report;

/// The job log: a header, then one line per letter with its final attempt.
pub fn joblog(report: &Report) -> String {
    let mut log =
        String::from("letter\tattempts\tspawned_s\tstart_s\tduration_s\toutcome\tlength\thost\n");
    for run in report.letter_runs() {
        let (letter, attempts) = (run.letter, run.attempts);
        match run.last {
            Some(attempt) => {
                let length = attempt
                    .outcome
                    .length()
                    .map_or_else(String::new, |length| length.to_string());
                let _ = writeln!(
                    log,
                    "{letter}\t{attempts}\t{:.6}\t{:.6}\t{:.6}\t{}\t{length}\t{}",
                    attempt.spawned.as_secs_f64(),
                    attempt.started.as_secs_f64(),
                    attempt.duration.as_secs_f64(),
                    attempt.outcome.tag(),
                    attempt.host.as_deref().unwrap_or(""),
                );
            }
            None => {
                let _ = writeln!(log, "{letter}\t0\t\t\t\tnot-started\t\t");
            }
        }
    }
    log
}
