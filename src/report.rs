//! What a run found: each letter's outcome, the minimum, and how the run is
//! shown to people (a one-line summary) and to programs (JSON).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::polymer::UnitType;

/// How one attempt at one letter ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A valid result: the reacted length.
    Ok(usize),
    /// The child exited with this non-zero status.
    Exit(i32),
    /// The child was killed by this signal (not by us).
    Signal(i32),
    /// The child ran past `--timeout` and was stopped.
    Timeout,
    /// The child exited successfully without writing its result file.
    NoResult,
    /// The result file is not a newline-terminated non-negative integer.
    BadResult(String),
    /// The child could not be started.
    SpawnError(String),
    /// Stopped by the orchestrator because the run was ending.
    Killed,
}

impl Outcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok(_))
    }

    /// Whether the letter itself failed: neither a result nor stopped as
    /// collateral of the run ending. Only these are retried and reported.
    pub fn is_failure(&self) -> bool {
        !matches!(self, Outcome::Ok(_) | Outcome::Killed)
    }

    /// The short tag used in job logs: `ok`, `exit 3`, `signal 9`, ...
    pub fn tag(&self) -> String {
        match self {
            Outcome::Ok(_) => "ok".into(),
            Outcome::Exit(code) => format!("exit {code}"),
            Outcome::Signal(signal) => format!("signal {signal}"),
            Outcome::Timeout => "timeout".into(),
            Outcome::NoResult => "no-result".into(),
            Outcome::BadResult(_) => "bad-result".into(),
            Outcome::SpawnError(_) => "spawn-error".into(),
            Outcome::Killed => "killed".into(),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok(length) => write!(f, "reacted to {length} units"),
            Outcome::Exit(code) => write!(f, "exited with status {code}"),
            Outcome::Signal(signal) => {
                write!(f, "killed by signal {signal} ({})", signal_name(*signal))
            }
            Outcome::Timeout => write!(f, "timed out and was stopped"),
            Outcome::NoResult => write!(f, "exited successfully without writing its result file"),
            Outcome::BadResult(excerpt) => write!(
                f,
                "wrote a malformed result file (expected digits and a newline, found \"{excerpt}\")"
            ),
            Outcome::SpawnError(reason) => write!(f, "could not be started: {reason}"),
            Outcome::Killed => write!(f, "was stopped because the run ended"),
        }
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => "signal",
    }
}

/// One attempt at one letter, as the job log and timeline show it.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub letter: UnitType,
    /// 1 for the first try, 2 for the first retry, ...
    pub number: u32,
    /// When the child was spawned, from the start of the run.
    pub spawned: Duration,
    /// When the work itself began (the child's own start, after any
    /// queueing by a launcher such as `srun`); `spawned` when unknown.
    pub start: Duration,
    /// From `start` to the end of the attempt.
    pub duration: Duration,
    pub outcome: Outcome,
    /// The last lines the child wrote to stderr, for failures.
    pub stderr_tail: Vec<String>,
}

/// A step of the run before the fan-out (reading, validation, reaction).
#[derive(Clone, Debug)]
pub struct Phase {
    pub name: &'static str,
    pub start: Duration,
    pub duration: Duration,
}

/// The outcome of a whole run.
#[derive(Clone, Debug)]
pub struct Report {
    /// Units in the validated input.
    pub input_length: usize,
    /// The fully reacted length with nothing removed.
    pub full_length: usize,
    /// The steps before the fan-out, in order.
    pub phases: Vec<Phase>,
    /// Every attempt, in the order they ended.
    pub attempts: Vec<Attempt>,
    /// Each letter run to success, with its reacted length.
    pub results: BTreeMap<UnitType, usize>,
    /// The letters asked for.
    pub letters: Vec<UnitType>,
    pub mode: &'static str,
    pub jobs: usize,
    pub elapsed: Duration,
}

impl Report {
    /// The shortest length and its letter (alphabetically first on ties);
    /// `None` unless every letter asked for succeeded, because a minimum
    /// over a partial set would be wrong.
    pub fn minimum(&self) -> Option<(UnitType, usize)> {
        if self.letters.iter().any(|l| !self.results.contains_key(l)) {
            return None;
        }
        self.results
            .iter()
            .map(|(&letter, &length)| (letter, length))
            .min_by_key(|&(letter, length)| (length, letter))
    }

    /// The attempts that count as failures (not retried away, not killed
    /// as collateral of another failure).
    pub fn failures(&self) -> impl Iterator<Item = &Attempt> {
        self.attempts.iter().filter(|a| a.outcome.is_failure())
    }

    /// Whether a later attempt at the same letter followed this one.
    pub fn retried(&self, attempt: &Attempt) -> bool {
        self.attempts
            .iter()
            .any(|a| a.letter == attempt.letter && a.number > attempt.number)
    }

    /// Each letter asked for, alphabetically, with its final attempt
    /// (`None` for a letter never started) and how many attempts it took.
    pub fn final_attempts(&self) -> Vec<(UnitType, u32, Option<&Attempt>)> {
        let mut letters = self.letters.clone();
        letters.sort();
        letters
            .into_iter()
            .map(|letter| {
                let last = self
                    .attempts
                    .iter()
                    .filter(|a| a.letter == letter)
                    .max_by_key(|a| a.number);
                (letter, last.map_or(0, |a| a.number), last)
            })
            .collect()
    }

    /// One line per failed attempt, naming the letter and the reason, with
    /// the end of the child's stderr; retried attempts are warnings.
    pub fn failure_lines(&self) -> Vec<String> {
        self.failures()
            .map(|attempt| {
                let (level, suffix) = if self.retried(attempt) {
                    ("warning", format!(" (attempt {}; retried)", attempt.number))
                } else {
                    ("error", String::new())
                };
                let mut line = format!(
                    "{level}: letter {}: child {}{suffix}",
                    attempt.letter, attempt.outcome
                );
                if !attempt.stderr_tail.is_empty() {
                    line.push_str("; its stderr ends: ");
                    line.push_str(&attempt.stderr_tail.join(" | "));
                }
                line
            })
            .collect()
    }

    /// The --verbose table: every letter, its length, duration and outcome.
    pub fn letter_table(&self) -> String {
        let mut table = String::from("letter    length    duration  outcome\n");
        for (letter, _, last) in self.final_attempts() {
            let line = match last {
                Some(attempt) => {
                    let length = match attempt.outcome {
                        Outcome::Ok(length) => length.to_string(),
                        _ => "-".into(),
                    };
                    format!(
                        "{letter:<6} {length:>9} {:>8.3} ms  {}\n",
                        attempt.duration.as_secs_f64() * 1e3,
                        attempt.outcome.tag()
                    )
                }
                None => format!("{letter:<6} {:>9} {:>11}  not-started\n", "-", "-"),
            };
            table.push_str(&line);
        }
        table
    }

    /// The one-paragraph summary printed by default.
    pub fn summary(&self) -> Option<String> {
        let (letter, length) = self.minimum()?;
        Some(format!(
            "minimum: {length} units, after removing {letter}/{upper}\n\
             (full reaction: {full} of {input} units; {count} letters in {ms:.1} ms, {mode} mode, {jobs} at once)",
            upper = letter.letter().to_ascii_uppercase(),
            full = self.full_length,
            input = self.input_length,
            count = self.letters.len(),
            ms = self.elapsed.as_secs_f64() * 1e3,
            mode = self.mode,
            jobs = self.jobs,
        ))
    }

    /// The JSON report: one object, for programs.
    pub fn json(&self) -> Option<serde_json::Value> {
        let (letter, length) = self.minimum()?;
        let results: serde_json::Map<String, serde_json::Value> = self
            .results
            .iter()
            .map(|(l, &n)| (l.to_string(), n.into()))
            .collect();
        Some(serde_json::json!({
            "min_length": length,
            "best_letter": letter.to_string(),
            "full_length": self.full_length,
            "input_length": self.input_length,
            "results": results,
            "elapsed_ms": (self.elapsed.as_secs_f64() * 1e6).round() / 1e3,
            "mode": self.mode,
            "jobs": self.jobs,
            "attempts": self.attempts.len(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(c: char) -> UnitType {
        c.to_string().parse().unwrap()
    }

    fn report(results: &[(char, usize)], letters: &str) -> Report {
        Report {
            input_length: 16,
            full_length: 10,
            phases: Vec::new(),
            attempts: Vec::new(),
            results: results.iter().map(|&(c, n)| (letter(c), n)).collect(),
            letters: letters.chars().map(letter).collect(),
            mode: "process",
            jobs: 2,
            elapsed: Duration::from_millis(3),
        }
    }

    #[test]
    fn the_minimum_breaks_ties_alphabetically() {
        let r = report(&[('d', 4), ('b', 4), ('c', 5)], "bcd");
        assert_eq!(r.minimum(), Some((letter('b'), 4)));
    }

    #[test]
    fn there_is_no_minimum_over_a_partial_set() {
        let r = report(&[('a', 4), ('b', 8)], "abc");
        assert_eq!(r.minimum(), None);
        assert_eq!(r.summary(), None);
        assert_eq!(r.json(), None);
    }

    #[test]
    fn the_json_report_names_the_minimum_and_every_result() {
        let json = report(&[('a', 6), ('c', 4)], "ac").json().unwrap();
        assert_eq!(json["min_length"], 4);
        assert_eq!(json["best_letter"], "c");
        assert_eq!(json["full_length"], 10);
        assert_eq!(json["results"], serde_json::json!({"a": 6, "c": 4}));
        assert_eq!(json["elapsed_ms"], 3.0);
    }
}
