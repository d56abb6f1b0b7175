//! The report for programs: one JSON object with these fields
//! (`docs/output.md` documents each, and a test holds the two together):
//! `schema`, `min_length`, `best_letter`, `full_length`, `input_length`,
//! `results`, `kept` (and `cached`, its name before), `elapsed_ms`,
//! `mode`, `jobs`, `attempts`, `hosts`, `containment`.

use super::Report;
use crate::polymer::UnitType;

/// The version of this object's layout (`"schema"`): fields are only ever
/// added, and a renamed one is still written under its old name beside
/// the new.
pub const SCHEMA: u32 = 2;

/// The JSON report of a run whose verdict is the minimum `length` after
/// removing `letter`.
pub fn json(report: &Report, letter: UnitType, length: usize) -> serde_json::Value {
    let results: serde_json::Map<String, serde_json::Value> = report
        .results()
        .iter()
        .map(|(l, &n)| (l.to_string(), n.into()))
        .collect();
    let kept: Vec<String> = report
        .attempts
        .iter()
        .filter(|a| a.outcome.is_kept())
        .map(|a| a.letter.to_string())
        .collect();
    let runs = report
        .attempts
        .iter()
        .filter(|a| !a.outcome.is_kept())
        .count();
    // Where each letter's last attempt ran, when known.
    let hosts: serde_json::Map<String, serde_json::Value> = report
        .letter_runs()
        .into_iter()
        .filter_map(|run| Some((run.letter.to_string(), run.last?.host.clone()?.into())))
        .collect();
    serde_json::json!({
        "schema": SCHEMA,
        "min_length": length,
        "best_letter": letter.to_string(),
        "full_length": report.full_length,
        "input_length": report.input_length,
        "results": results,
        "cached": kept,
        "kept": kept,
        "elapsed_ms": (report.elapsed.as_secs_f64() * 1e6).round() / 1e3,
        "mode": report.mode,
        "jobs": report.concurrency,
        "attempts": runs,
        "hosts": hosts,
        "containment": report.containment,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{letter, report};
    use super::*;

    #[test]
    fn the_json_report_names_the_minimum_and_every_result() {
        let json = json(&report(&[('a', 6), ('c', 4)], "ac"), letter('c'), 4);
        assert_eq!(json["min_length"], 4);
        assert_eq!(json["best_letter"], "c");
        assert_eq!(json["full_length"], 10);
        assert_eq!(json["results"], serde_json::json!({"a": 6, "c": 4}));
        assert_eq!(json["elapsed_ms"], 3.0);
        assert_eq!(json["mode"], "process");
        assert_eq!(json["schema"], SCHEMA);
        assert_eq!(
            json["kept"], json["cached"],
            "the old name is still written"
        );
    }
}
