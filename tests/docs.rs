//! The docs say what exists: every JSON field, job log column, option,
//! link and Rust item they name is one the program has now. Each test
//! fails when a documented name goes (or, for the JSON objects, when a
//! field is written that the docs do not list).

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use common::{example, orchestrate, status};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every Markdown file under docs/.
fn documents() -> Vec<PathBuf> {
    let mut docs = vec![root().join("README.md")];
    for entry in fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            docs.push(path);
        }
    }
    docs
}

/// The names in the first column of the table whose header starts with
/// `| <header> |` in `doc`.
fn table(doc: &str, header: &str) -> BTreeSet<String> {
    let names: BTreeSet<String> = doc
        .lines()
        .skip_while(|line| !line.starts_with(&format!("| {header} |")))
        .skip(2)
        .take_while(|line| line.starts_with("| `"))
        .filter_map(|line| line.split('`').nth(1))
        .map(String::from)
        .collect();
    assert!(!names.is_empty(), "no table headed {header:?}");
    names
}

fn keys(json: &serde_json::Value) -> BTreeSet<String> {
    json.as_object().unwrap().keys().cloned().collect()
}

fn output_md() -> String {
    fs::read_to_string(root().join("docs/output.md")).unwrap()
}

#[test]
fn the_json_report_has_exactly_the_documented_fields() {
    let dir = tempfile::tempdir().unwrap();
    let output = orchestrate(dir.path())
        .arg("--json")
        .arg(example())
        .output()
        .unwrap();
    let json = common::json_of(&output.stdout);
    assert_eq!(keys(&json), table(&output_md(), "JSON field"));
}

#[test]
fn the_status_json_has_exactly_the_documented_fields() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results");
    orchestrate(dir.path())
        .arg("--results-dir")
        .arg(&results)
        .arg(example())
        .assert()
        .success();
    let output = status(dir.path(), &results, true).output().unwrap();
    let json = common::json_of(&output.stdout);
    assert_eq!(keys(&json), table(&output_md(), "status field"));
}

#[test]
fn the_job_log_has_the_documented_columns() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log.tsv");
    orchestrate(dir.path())
        .arg("--joblog")
        .arg(&log)
        .arg(example())
        .assert()
        .success();
    let written = fs::read_to_string(&log).unwrap();
    let header = written.lines().next().unwrap();
    let doc = output_md();
    assert!(
        doc.lines().any(|line| line == header),
        "docs/output.md does not show the job log's header {header:?}"
    );
    for shipped in [
        "docs/joblog.tsv",
        "docs/joblog-srun.tsv",
        "docs/joblog-array.tsv",
    ] {
        let text = fs::read_to_string(root().join(shipped)).unwrap();
        assert_eq!(text.lines().next(), Some(header), "{shipped}");
    }
}

#[test]
fn every_option_the_readme_lists_is_one_orchestrate_takes() {
    let help = orchestrate(Path::new("."))
        .arg("--help")
        .output()
        .unwrap()
        .stdout;
    let help = String::from_utf8(help).unwrap();
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    let mut listed = 0;
    for line in readme.lines().filter(|l| l.starts_with("| `-")) {
        let cell = line.split('|').nth(1).unwrap();
        for option in cell
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with('-'))
        {
            listed += 1;
            let long = option.starts_with("--");
            let found = help.lines().any(|h| {
                h.trim_start()
                    .split([',', ' ', '[', '=', '<'])
                    .any(|w| w == option)
                    && (long || h.trim_start().starts_with(option))
            });
            assert!(
                found,
                "README lists {option}, which orchestrate --help does not"
            );
        }
    }
    assert!(listed > 15, "the README's option table was not found");
}

#[test]
fn every_link_in_the_docs_leads_to_a_file_that_exists() {
    let mut checked = 0;
    for doc in documents() {
        let text = fs::read_to_string(&doc).unwrap();
        for (_, rest) in text.match_indices("](").map(|(i, _)| text.split_at(i + 2)) {
            let target = rest.split(')').next().unwrap();
            if target.contains("://") || target.starts_with('#') || target.starts_with("mailto:") {
                continue;
            }
            let path = target.split('#').next().unwrap();
            let resolved = doc.parent().unwrap().join(path);
            assert!(
                resolved.exists(),
                "{} links to {target}, which does not exist",
                doc.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 5, "only {checked} links found");
}

/// Whether the source of module `module` (a path like `protocol` or
/// `supervise::array`) declares `item`.
fn declares(module: &[&str], item: &str) -> bool {
    let base = root().join("src").join(module.join("/"));
    let mut files = vec![base.with_extension("rs"), base.join("mod.rs")];
    if base.is_dir() {
        files.extend(fs::read_dir(&base).unwrap().map(|e| e.unwrap().path()));
    }
    files
        .iter()
        .filter_map(|f| fs::read_to_string(f).ok())
        .any(|text| {
            [
                "struct", "enum", "fn", "const", "trait", "type", "mod", "static",
            ]
            .iter()
            .any(|kind| text.contains(&format!("{kind} {item}")))
        })
}

#[test]
fn every_rust_item_the_docs_name_exists() {
    let mut checked = 0;
    for doc in documents() {
        let text = fs::read_to_string(&doc).unwrap();
        for span in text.split('`').skip(1).step_by(2) {
            let parts: Vec<&str> = span.split("::").collect();
            let is_path = parts.len() > 1
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'));
            if !is_path {
                continue;
            }
            // The module is the lowercase head; each item after it is
            // declared in it (a method in the file of its type).
            let split = parts
                .iter()
                .position(|p| p.starts_with(char::is_uppercase))
                .unwrap_or(parts.len() - 1);
            let (module, items) = parts.split_at(split);
            for item in items {
                assert!(
                    declares(module, item),
                    "{} names `{span}`: no {item} in src/{}",
                    doc.display(),
                    module.join("/")
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 2, "only {checked} Rust paths found");
}
