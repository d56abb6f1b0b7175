//! What a run found, and every way it is shown: the [`Report`] (the data of
//! a finished run: its phases, every attempt, the verdict), rendered for
//! people ([`text`]: summary, failure lines, the `--verbose` table), for
//! programs ([`json`]), and for study afterwards ([`joblog`], [`timeline`]);
//! and the status view of a results folder ([`status`]).
//!
//! Not here: running anything (the orchestrator), or writing files
//! (`files`).

pub mod joblog;
pub mod json;
pub mod status;
pub mod text;
pub mod timeline;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::polymer::UnitType;
use crate::supervise::Attempt;

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
    /// The letters asked for.
    pub letters: Vec<UnitType>,
    /// Where the per-letter reactions ran: `process`, `thread`, `serial`
    /// or `sweep` (the mode's name on the command line).
    pub mode: &'static str,
    /// How many children or threads ran at once, at most.
    pub concurrency: usize,
    /// How what children started was contained (`pid-namespace` or
    /// `subreaper`); none without children on this machine.
    pub containment: Option<&'static str>,
    pub elapsed: Duration,
}

/// A letter asked for, with its final attempt (`None` if never started)
/// and how many attempts it took.
#[derive(Clone, Copy, Debug)]
pub struct LetterRun<'a> {
    pub letter: UnitType,
    pub attempts: u32,
    pub last: Option<&'a Attempt>,
}

/// What the run amounts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every letter succeeded: the shortest length and its letter
    /// (alphabetically first on ties).
    Minimum { letter: UnitType, length: usize },
    /// Some letters failed (`failed`), others were stopped or never
    /// started because of it (`unfinished`), out of `total`.
    Failed {
        failed: usize,
        unfinished: usize,
        total: usize,
    },
}

impl fmt::Display for Verdict {
    /// The final line of a failed run (without the program's prefix).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Verdict::Minimum { letter, length } => {
                write!(f, "minimum: {length} units, after removing {letter}")
            }
            Verdict::Failed {
                failed,
                unfinished,
                total,
            } => {
                write!(f, "{failed} of {total} letters failed")?;
                if unfinished > 0 {
                    write!(
                        f,
                        " ({unfinished} more cancelled or never started; --keep-going runs them all)"
                    )?;
                }
                write!(f, "; no minimum reported")
            }
        }
    }
}

impl Report {
    /// Each letter asked for, alphabetically, with its final attempt.
    pub fn letter_runs(&self) -> Vec<LetterRun<'_>> {
        let mut last: BTreeMap<UnitType, &Attempt> = BTreeMap::new();
        for attempt in &self.attempts {
            let slot = last.entry(attempt.letter).or_insert(attempt);
            if attempt.attempt > slot.attempt {
                *slot = attempt;
            }
        }
        let mut letters = self.letters.clone();
        letters.sort();
        letters
            .into_iter()
            .map(|letter| {
                let last = last.get(&letter).copied();
                LetterRun {
                    letter,
                    attempts: last.map_or(0, |a| a.attempt),
                    last,
                }
            })
            .collect()
    }

    /// Each letter run to success, with its reacted length.
    pub fn results(&self) -> BTreeMap<UnitType, usize> {
        self.letter_runs()
            .into_iter()
            .filter_map(|run| Some((run.letter, run.last?.outcome.length()?)))
            .collect()
    }

    /// The minimum, only when every letter asked for succeeded: a minimum
    /// over a partial set would be wrong.
    pub fn verdict(&self) -> Verdict {
        let runs = self.letter_runs();
        let failed = runs
            .iter()
            .filter(|run| run.last.is_some_and(|a| a.outcome.is_failure()))
            .count();
        let succeeded = runs
            .iter()
            .filter_map(|run| Some((run.last?.outcome.length()?, run.letter)))
            .collect::<Vec<_>>();
        if succeeded.len() == runs.len()
            && let Some(&(length, letter)) = succeeded.iter().min()
        {
            return Verdict::Minimum { letter, length };
        }
        Verdict::Failed {
            failed,
            unfinished: runs.len() - succeeded.len() - failed,
            total: runs.len(),
        }
    }

    /// The attempts that failed, each with whether a later attempt at the
    /// same letter followed it (a retried failure is only a warning).
    pub fn failures(&self) -> Vec<(&Attempt, bool)> {
        let runs = self.letter_runs();
        let last_number = |letter: UnitType| {
            runs.iter()
                .find(|run| run.letter == letter)
                .map_or(0, |run| run.attempts)
        };
        self.attempts
            .iter()
            .filter(|a| a.outcome.is_failure())
            .map(|a| (a, a.attempt < last_number(a.letter)))
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::supervise::Outcome;

    pub(crate) fn letter(c: char) -> UnitType {
        c.to_string().parse().unwrap()
    }

    pub(crate) fn attempt(c: char, attempt: u32, outcome: Outcome) -> Attempt {
        Attempt {
            letter: letter(c),
            attempt,
            spawned: Duration::from_millis(1),
            started: Duration::from_millis(1),
            duration: Duration::from_millis(1),
            host: None,
            outcome,
            stderr_tail: Vec::new(),
        }
    }

    pub(crate) fn report(results: &[(char, usize)], letters: &str) -> Report {
        Report {
            input_length: 16,
            full_length: 10,
            phases: Vec::new(),
            attempts: results
                .iter()
                .map(|&(c, n)| attempt(c, 1, Outcome::Ok(n)))
                .collect(),
            letters: letters.chars().map(letter).collect(),
            mode: "process",
            concurrency: 2,
            containment: None,
            elapsed: Duration::from_millis(3),
        }
    }

    #[test]
    fn the_minimum_breaks_ties_alphabetically() {
        let r = report(&[('d', 4), ('b', 4), ('c', 5)], "bcd");
        assert_eq!(
            r.verdict(),
            Verdict::Minimum {
                letter: letter('b'),
                length: 4
            }
        );
    }

    #[test]
    fn there_is_no_minimum_over_a_partial_set() {
        let r = report(&[('a', 4), ('b', 8)], "abc");
        assert_eq!(
            r.verdict(),
            Verdict::Failed {
                failed: 0,
                unfinished: 1,
                total: 3
            }
        );
    }

    #[test]
    fn a_retried_failure_counts_once_and_only_its_last_attempt_decides() {
        let mut r = report(&[('a', 4)], "ab");
        r.attempts.push(attempt('b', 1, Outcome::Exit(1)));
        r.attempts.push(attempt('b', 2, Outcome::Ok(3)));
        assert_eq!(
            r.verdict(),
            Verdict::Minimum {
                letter: letter('b'),
                length: 3
            }
        );
        let failures = r.failures();
        assert_eq!(failures.len(), 1);
        assert!(failures[0].1, "the failure was retried");
        r.attempts.push(attempt('b', 3, Outcome::Timeout));
        assert_eq!(
            r.verdict().to_string(),
            "1 of 2 letters failed; no minimum reported"
        );
    }

    #[test]
    fn the_final_line_counts_letters_stopped_because_of_a_failure() {
        let mut r = report(&[('a', 4)], "abcd");
        r.attempts.push(attempt('b', 1, Outcome::Exit(3)));
        r.attempts.push(attempt('c', 1, Outcome::Cancelled));
        assert_eq!(
            r.verdict().to_string(),
            "1 of 4 letters failed (2 more cancelled or never started; --keep-going runs them all); no minimum reported"
        );
    }
}
