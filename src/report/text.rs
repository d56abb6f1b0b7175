//! The report for people: the summary, one line per failure, and the
//! `--verbose` table.

use super::{Report, Verdict};
use crate::polymer::UnitType;

/// The two-line summary printed by default, for a run whose verdict is the
/// minimum `length` after removing `letter`.
pub fn summary(report: &Report, letter: UnitType, length: usize) -> String {
    let kept = report
        .attempts
        .iter()
        .filter(|a| a.outcome.is_kept())
        .count();
    let count = match kept {
        0 => format!("{} letters", report.letters.len()),
        _ => format!(
            "{} letters ({kept} kept from the results folder)",
            report.letters.len()
        ),
    };
    format!(
        "minimum: {length} units, after removing {letter}/{upper}\n\
         (full reaction: {full} of {input} units; {count} in {ms:.1} ms, {mode} mode, {jobs} at once)",
        upper = letter.letter().to_ascii_uppercase(),
        full = report.full_length,
        input = report.input_length,
        ms = report.elapsed.as_secs_f64() * 1e3,
        mode = report.mode,
        jobs = report.concurrency,
    )
}

/// One line per failed attempt, naming the letter and the reason, with the
/// end of the child's stderr; retried attempts are warnings.
pub fn failure_lines(report: &Report) -> Vec<String> {
    let this_host = crate::protocol::this_host();
    report
        .failures()
        .into_iter()
        .map(|(attempt, retried)| {
            let (level, suffix) = if retried {
                (
                    "warning",
                    format!(" (attempt {}; retried)", attempt.attempt),
                )
            } else {
                ("error", String::new())
            };
            // Where it ran, when that is not here: which node a lost letter
            // was on.
            let place = match &attempt.host {
                Some(host) if Some(host) != this_host.as_ref() => format!(" on {host}"),
                _ => String::new(),
            };
            let mut line = format!(
                "{level}: letter {}: child{place} {}{suffix}",
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

/// The final line of a run without a minimum.
pub fn failed_line(verdict: Verdict) -> String {
    verdict.to_string()
}

/// The `--verbose` table: every letter, its length, duration and outcome,
/// in columns that line up.
pub fn letter_table(report: &Report) -> String {
    let mut table = format!(
        "{:<6} {:>9} {:>11}  {:<11} {}\n",
        "letter", "length", "duration", "outcome", "host"
    );
    for run in report.letter_runs() {
        let letter = run.letter;
        let line = match run.last {
            Some(attempt) => {
                let length = attempt
                    .outcome
                    .length()
                    .map_or_else(|| "-".to_string(), |length| length.to_string());
                let ms = format!("{:.3} ms", attempt.duration.as_secs_f64() * 1e3);
                let host = attempt.host.as_deref().unwrap_or("-");
                format!(
                    "{letter:<6} {length:>9} {ms:>11}  {:<11} {host}\n",
                    attempt.outcome.tag()
                )
            }
            None => format!(
                "{letter:<6} {:>9} {:>11}  {:<11} -\n",
                "-", "-", "not-started"
            ),
        };
        table.push_str(&line);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::super::tests::report;
    use super::*;

    #[test]
    fn the_verbose_table_lines_up() {
        let mut r = report(&[('a', 123_456), ('c', 4)], "abc");
        r.attempts[0].host = Some("n1".into());
        let table = letter_table(&r);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4);
        // Every column ends where the header's does.
        let ends = |line: &str| -> Vec<usize> {
            let mut ends = Vec::new();
            let bytes = line.as_bytes();
            for i in 1..bytes.len() {
                if bytes[i] == b' ' && bytes[i - 1] != b' ' {
                    ends.push(i);
                }
            }
            ends
        };
        let header = ends(lines[0]);
        for line in &lines[1..] {
            let row = ends(line);
            assert_eq!(row[1], header[1], "length column of {line:?}");
        }
        assert!(lines[2].starts_with("b      "), "{table}");
        assert!(lines[2].contains("not-started"), "{table}");
        assert_eq!(row_host(lines[1]), "n1", "{table}");
        assert_eq!(row_host(lines[2]), "-", "{table}");
    }

    fn row_host(line: &str) -> &str {
        line.split_whitespace().last().unwrap()
    }

    #[test]
    fn a_failure_names_the_host_it_ran_on_when_that_is_elsewhere() {
        use crate::supervise::Outcome;
        let mut r = report(&[], "bc");
        let mut lost = super::super::tests::attempt('b', 1, Outcome::Lost);
        lost.host = Some("n2".into());
        let mut here = super::super::tests::attempt('c', 1, Outcome::Exit(3));
        here.host = crate::protocol::this_host();
        r.attempts = vec![lost, here];
        let lines = failure_lines(&r);
        assert_eq!(
            lines[0],
            "error: letter b: child on n2 left the Slurm queue without reporting its exit status"
        );
        assert_eq!(lines[1], "error: letter c: child exited with status 3");
    }

    #[test]
    fn the_summary_names_the_letter_in_both_cases() {
        let r = report(&[('c', 4)], "c");
        assert!(summary(&r, crate::polymer::UnitType::from_ascii(b'c').unwrap(), 4)
            .starts_with("minimum: 4 units, after removing c/C\n(full reaction: 10 of 16 units; 1 letters in 3.0 ms, process mode, 2 at once)"));
    }
}
