//! The bench scripts' helpers work on every table the scripts can write.
//! (The scripts are bash and Python, run on Linux.)
#![cfg(unix)]

mod common;

use std::path::Path;
use std::process::Command;

/// Regression: `benches/large.sh 3 1000000000` (one size) ended in a
/// division by zero in the chart.
#[test]
fn the_chart_draws_a_table_of_one_size() {
    let python = Command::new("python3").arg("--version").output();
    if !python.is_ok_and(|o| o.status.success()) {
        assert!(!common::must_not_skip(), "python3 is missing");
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("large.csv");
    std::fs::write(
        &table,
        "size,case,wall_ms,ratio_to_cat,user_s,sys_s,peak_kb,minor_faults\n\
         1000000001,cat (reading the input once),132.2,1.00,0.00,0.12,1680,130\n\
         1000000001,reduce -q -o - (full reaction),827.7,6.26,0.86,0.21,195140,1197\n",
    )
    .unwrap();
    let chart = dir.path().join("large.svg");
    let output = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/chart.py"))
        .arg(&table)
        .arg(&chart)
        .output()
        .unwrap();
    common::assert_success(&output);
    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("reduce -q -o -"),
        "{svg}"
    );
}
