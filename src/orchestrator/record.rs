//! What a results folder holds results *of*: the record that makes results
//! reusable (`--resume`) and that lets a later run refuse results of
//! another input or program instead of mixing them in.
//!
//! `orchestrate.json` in the results folder, written atomically before any
//! result is published there: the SHA-256 of the validated input, its
//! length and reacted length, the identity of the child program (the
//! SHA-256 of its file), and, for a Slurm job array, its folder (also the
//! name of its jobs) and every submission: job id and tasks.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::files::{self, shown};
use crate::polymer::UnitType;
use crate::protocol::ArrayTask;
use crate::supervise::array::Submitted;

/// The file name of the record in a results folder.
pub const FILE_NAME: &str = "orchestrate.json";

/// The version of the record's layout this program writes (`"schema"`);
/// it reads every earlier one, and refuses a later one.
pub const SCHEMA: u32 = 2;

/// The Slurm job arrays of a run: their folder (inside the results folder)
/// and every submission, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrayRecord {
    pub folder: String,
    /// The name of its jobs.
    pub name: String,
    /// Every submission (`"jobs"` in the file), in order.
    pub submissions: Vec<Submitted>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub input_sha256: String,
    pub input_length: usize,
    pub full_length: usize,
    /// `sha256:<hex>` of the child program's file.
    pub program: String,
    pub array: Option<ArrayRecord>,
}

impl Record {
    /// Whether results recorded under `self` are results of the work
    /// `other` describes: the same input and the same child program.
    pub fn same_work(&self, other: &Record) -> bool {
        self.input_sha256 == other.input_sha256
            && self.input_length == other.input_length
            && self.program == other.program
    }

    pub fn to_json(&self) -> String {
        let wire = Wire::from(self);
        // Serialising plain strings and numbers cannot fail.
        let json = serde_json::to_string_pretty(&wire).unwrap_or_default();
        format!("{json}\n")
    }

    fn from_json(text: &str) -> Option<Record> {
        let wire: Wire = serde_json::from_str(text).ok()?;
        Record::try_from(wire).ok()
    }

    /// The record in `dir`: `Ok(None)` when there is none; an error when
    /// there is one that cannot be read.
    pub fn read(dir: &Path) -> anyhow::Result<Option<Record>> {
        let path = dir.join(FILE_NAME);
        let not_ours = || {
            format!(
                "{} is not a record this version of orchestrate can read",
                shown(&path)
            )
        };
        match files::open_regular(&path) {
            Ok(files::Opened::Missing) => return Ok(None),
            Err(err) => {
                return Err(err).with_context(|| format!("could not read {}", shown(&path)));
            }
            _ => {}
        }
        let content = files::read_small(&path, 1 << 20).with_context(not_ours)?;
        let text = String::from_utf8(content).ok().with_context(not_ours)?;
        Record::from_json(&text).map(Some).with_context(not_ours)
    }

    /// Writes the record into the results folder open as `handle` (whose
    /// path is `dir`, for errors), atomically, staged in `staging`.
    pub fn write(
        &self,
        staging: &std::fs::File,
        handle: &std::fs::File,
        dir: &Path,
    ) -> anyhow::Result<()> {
        files::write_atomically_at(
            staging,
            handle,
            FILE_NAME,
            self.to_json().as_bytes(),
            &dir.join(FILE_NAME),
        )
    }
}

/// The record as it is written: each version's fields, read back by every
/// later version.
#[derive(Serialize, Deserialize)]
struct Wire {
    /// Absent from the records of the first version.
    #[serde(default = "first_schema")]
    schema: u32,
    input_sha256: String,
    input_length: usize,
    full_length: usize,
    program: String,
    #[serde(default)]
    array: Option<WireArray>,
}

#[derive(Serialize, Deserialize)]
struct WireArray {
    folder: String,
    /// Absent before names were recorded: an array was then named
    /// `orchestrate-<pid>` after the run that submitted it.
    #[serde(default)]
    name: Option<String>,
    jobs: Vec<WireJob>,
}

/// A submission: `"tasks": ["a.1", "q.2"]`, or, as the first version wrote
/// them, `"letters": "aq", "attempt": 1`.
#[derive(Serialize, Deserialize)]
struct WireJob {
    job_id: String,
    #[serde(default)]
    tasks: Option<Vec<String>>,
    #[serde(default, skip_serializing)]
    letters: Option<String>,
    #[serde(default, skip_serializing)]
    attempt: Option<u32>,
}

fn first_schema() -> u32 {
    1
}

impl From<&Record> for Wire {
    fn from(record: &Record) -> Wire {
        Wire {
            schema: SCHEMA,
            input_sha256: record.input_sha256.clone(),
            input_length: record.input_length,
            full_length: record.full_length,
            program: record.program.clone(),
            array: record.array.as_ref().map(|array| WireArray {
                folder: array.folder.clone(),
                name: Some(array.name.clone()),
                jobs: array
                    .submissions
                    .iter()
                    .map(|submitted| WireJob {
                        job_id: submitted.job_id.clone(),
                        tasks: Some(
                            submitted
                                .tasks
                                .iter()
                                .map(|t| format!("{}.{}", t.letter, t.attempt))
                                .collect(),
                        ),
                        letters: None,
                        attempt: None,
                    })
                    .collect(),
            }),
        }
    }
}

impl TryFrom<Wire> for Record {
    type Error = ();

    /// Refuses a record of a later version, and one whose ids or folder
    /// this program would not have written: an id reaches Slurm's
    /// commands, and a folder name must never be a path.
    fn try_from(wire: Wire) -> Result<Record, ()> {
        if wire.schema > SCHEMA {
            return Err(());
        }
        let array = wire.array.map(ArrayRecord::try_from).transpose()?;
        Ok(Record {
            input_sha256: wire.input_sha256,
            input_length: wire.input_length,
            full_length: wire.full_length,
            program: wire.program,
            array,
        })
    }
}

impl TryFrom<WireArray> for ArrayRecord {
    type Error = ();

    fn try_from(wire: WireArray) -> Result<ArrayRecord, ()> {
        if !crate::supervise::array::is_folder_name(&wire.folder) {
            return Err(());
        }
        let submissions = wire
            .jobs
            .into_iter()
            .map(|job| {
                if !crate::supervise::queue::is_job_id(&job.job_id) {
                    return Err(());
                }
                let tasks = tasks_of(&job).ok_or(())?;
                Ok(Submitted {
                    job_id: job.job_id,
                    tasks,
                })
            })
            .collect::<Result<Vec<_>, ()>>()?;
        let name = wire
            .name
            .unwrap_or_else(|| crate::supervise::array::name_before_names(&wire.folder));
        Ok(ArrayRecord {
            folder: wire.folder,
            name,
            submissions,
        })
    }
}

/// The tasks of one recorded submission, in either version's spelling.
fn tasks_of(job: &WireJob) -> Option<Vec<ArrayTask>> {
    if let Some(tasks) = &job.tasks {
        return tasks
            .iter()
            .map(|task| {
                let (letter, attempt) = task.split_once('.')?;
                let [letter] = letter.as_bytes() else {
                    return None;
                };
                Some(ArrayTask {
                    letter: UnitType::from_ascii(*letter)
                        .filter(|_| letter.is_ascii_lowercase())?,
                    attempt: attempt.parse().ok()?,
                })
            })
            .collect();
    }
    let attempt = job.attempt?;
    let letters = UnitType::parse_set_ordered(job.letters.as_deref()?)?;
    Some(
        letters
            .into_iter()
            .map(|letter| ArrayTask { letter, attempt })
            .collect(),
    )
}

/// The SHA-256 of `bytes`, in hex.
pub fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of an input taken piece by piece as it is read: the same
/// as [`sha256`] of the pieces put together.
#[derive(Default)]
pub struct InputDigest(Sha256);

impl InputDigest {
    pub fn update(&mut self, units: &[u8]) {
        self.0.update(units);
    }

    pub fn finish(self) -> String {
        hex(&self.0.finalize())
    }
}

/// The identity of a child program: the SHA-256 of its file.
/// Opened without blocking (a FIFO named as the program cannot hang the
/// run), through symlinks (a program is often one).
pub fn program_identity(program: &Path) -> anyhow::Result<String> {
    use std::io::Read as _;
    let context = || format!("could not read {}", shown(program));
    let mut file = crate::sys::fs::open_unblocking(program).with_context(context)?;
    if !file.metadata().with_context(context)?.is_file() {
        anyhow::bail!("{}: not a regular file", context());
    }
    let mut digest = Sha256::new();
    let mut buffer = vec![0; 1 << 16];
    loop {
        match file.read(&mut buffer).with_context(context)? {
            0 => break,
            n => digest.update(&buffer[..n]),
        }
    }
    Ok(format!("sha256:{}", hex(&digest.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_knows_its_job() {
        let dir = tempfile::tempdir().unwrap();
        let record = Record {
            input_sha256: sha256(b"dabAcCaCBAcCcaDA"),
            input_length: 16,
            full_length: 10,
            program: "sha256:00".into(),
            array: Some(ArrayRecord {
                folder: "slurm-array-1-2".into(),
                name: "mine".into(),
                submissions: vec![Submitted {
                    job_id: "42".into(),
                    tasks: UnitType::parse_set("cab")
                        .unwrap()
                        .into_iter()
                        .zip([1, 3, 2])
                        .map(|(letter, attempt)| ArrayTask { letter, attempt })
                        .collect(),
                }],
            }),
        };
        assert_eq!(Record::read(dir.path()).unwrap(), None);
        let open = crate::sys::fs::open_folder(dir.path()).unwrap();
        record.write(&open, &open, dir.path()).unwrap();
        let read = Record::read(dir.path()).unwrap().unwrap();
        assert_eq!(read, record);
        let other_input = Record {
            input_sha256: sha256(b"aA"),
            ..record.clone()
        };
        assert!(!read.same_work(&other_input));
        let other_array = Record {
            array: None,
            ..record.clone()
        };
        assert!(
            read.same_work(&other_array),
            "the array does not change the job"
        );
        std::fs::write(dir.path().join(FILE_NAME), "{").unwrap();
        assert!(Record::read(dir.path()).is_err());
    }

    #[test]
    fn a_record_of_the_first_version_still_names_its_array_tasks() {
        let dir = tempfile::tempdir().unwrap();
        let old = r#"{"input_sha256": "00", "input_length": 16, "full_length": 10,
            "program": "sha256:00", "array": {"folder": "slurm-array-1-2",
            "jobs": [{"job_id": "42", "letters": "ca", "attempt": 2}]}}"#;
        std::fs::write(dir.path().join(FILE_NAME), old).unwrap();
        let read = Record::read(dir.path()).unwrap().unwrap();
        let tasks = &read.array.unwrap().submissions[0].tasks;
        let letters: String = tasks.iter().map(|t| t.letter.letter()).collect();
        assert_eq!(letters, "ca");
        assert!(tasks.iter().all(|t| t.attempt == 2));
        let array = Record::read(dir.path()).unwrap().unwrap().array.unwrap();
        assert_eq!(
            array.name, "orchestrate-1",
            "as that version named its jobs"
        );
    }

    #[test]
    fn a_record_says_its_schema_and_one_of_a_later_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let record = Record {
            input_sha256: "00".into(),
            input_length: 16,
            full_length: 10,
            program: "sha256:00".into(),
            array: None,
        };
        let json: serde_json::Value = serde_json::from_str(&record.to_json()).unwrap();
        assert_eq!(json["schema"], SCHEMA);
        let later = record.to_json().replace(
            &format!("\"schema\": {SCHEMA}"),
            &format!("\"schema\": {}", SCHEMA + 1),
        );
        std::fs::write(dir.path().join(FILE_NAME), later).unwrap();
        let err = Record::read(dir.path()).unwrap_err();
        assert!(
            format!("{err:#}").contains("not a record this version of orchestrate can read"),
            "{err:#}"
        );
    }

    #[track_caller]
    fn refused(array: &str) {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            r#"{{"input_sha256": "00", "input_length": 16, "full_length": 10,
            "program": "sha256:00", "array": {array}}}"#
        );
        std::fs::write(dir.path().join(FILE_NAME), text).unwrap();
        assert!(Record::read(dir.path()).is_err(), "{array}");
    }

    #[test]
    fn a_record_naming_what_this_program_never_writes_is_refused() {
        refused(r#"{"folder": "../elsewhere", "jobs": []}"#);
        refused(r#"{"folder": "slurm-array-1-2", "jobs": [{"job_id": "-v", "tasks": []}]}"#);
        refused(r#"{"folder": "slurm-array-1-2", "jobs": [{"job_id": "4", "tasks": ["A.1"]}]}"#);
        refused(r#"{"folder": "slurm-array-1-2", "jobs": [{"job_id": "4", "tasks": ["a"]}]}"#);
        refused(r#"{"folder": "slurm-array-1-2", "jobs": [{"job_id": "4"}]}"#);
    }

    #[test]
    fn sha256_is_the_standard_digest() {
        assert_eq!(
            sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
