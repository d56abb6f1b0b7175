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
use sha2::{Digest, Sha256};

use crate::files::{self, shown};
use crate::polymer::UnitType;
use crate::protocol::ArrayTask;
use crate::supervise::array::Submitted;

/// The file name of the manifest in a results folder.
pub const FILE_NAME: &str = "orchestrate.json";

/// The Slurm job arrays of a run: their folder (inside the results folder)
/// and every submission, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrayRecord {
    pub folder: String,
    /// The name of its jobs.
    pub name: String,
    pub jobs: Vec<Submitted>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub input_sha256: String,
    pub input_length: usize,
    pub full_length: usize,
    /// `sha256:<hex>` of the child program's file.
    pub program: String,
    pub array: Option<ArrayRecord>,
}

impl Manifest {
    /// Whether results recorded under `self` are results of the work
    /// `other` describes: the same input and the same child program.
    pub fn same_work(&self, other: &Manifest) -> bool {
        self.input_sha256 == other.input_sha256
            && self.input_length == other.input_length
            && self.program == other.program
    }

    pub fn to_json(&self) -> String {
        let array = self.array.as_ref().map(|array| {
            let jobs: Vec<serde_json::Value> = array
                .jobs
                .iter()
                .map(|submitted| {
                    let tasks: Vec<String> = submitted
                        .tasks
                        .iter()
                        .map(|t| format!("{}.{}", t.letter, t.attempt))
                        .collect();
                    serde_json::json!({ "job_id": submitted.job_id, "tasks": tasks })
                })
                .collect();
            serde_json::json!({ "folder": array.folder, "name": array.name, "jobs": jobs })
        });
        let json = serde_json::json!({
            "input_sha256": self.input_sha256,
            "input_length": self.input_length,
            "full_length": self.full_length,
            "program": self.program,
            "array": array,
        });
        format!("{json:#}\n")
    }

    fn from_json(text: &str) -> Option<Manifest> {
        let json: serde_json::Value = serde_json::from_str(text).ok()?;
        let string = |key: &str| json.get(key)?.as_str().map(String::from);
        let number = |key: &str| {
            json.get(key)?
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
        };
        let array = match json.get("array") {
            Some(serde_json::Value::Object(array)) => {
                let jobs = array
                    .get("jobs")?
                    .as_array()?
                    .iter()
                    .map(|job| {
                        Some(Submitted {
                            // A number, or the record is not ours: an id
                            // reaches Slurm's commands.
                            job_id: job
                                .get("job_id")?
                                .as_str()
                                .filter(|id| crate::supervise::queue::is_job_id(id))?
                                .to_string(),
                            tasks: tasks_of(job)?,
                        })
                    })
                    .collect::<Option<Vec<_>>>()?;
                // Only a folder name this program makes: never a path.
                let folder = array.get("folder")?.as_str()?;
                if !crate::supervise::array::is_folder_name(folder) {
                    return None;
                }
                // Before names were recorded, an array was named
                // orchestrate-<pid> after the run that submitted it.
                let name = match array.get("name") {
                    Some(name) => name.as_str()?.to_string(),
                    None => format!(
                        "orchestrate-{}",
                        folder.split('-').nth(2).unwrap_or_default()
                    ),
                };
                Some(ArrayRecord {
                    folder: folder.to_string(),
                    name,
                    jobs,
                })
            }
            _ => None,
        };
        Some(Manifest {
            input_sha256: string("input_sha256")?,
            input_length: number("input_length")?,
            full_length: number("full_length")?,
            program: string("program")?,
            array,
        })
    }

    /// The manifest in `dir`: `Ok(None)` when there is none; an error when
    /// there is one that cannot be read.
    pub fn read(dir: &Path) -> anyhow::Result<Option<Manifest>> {
        let path = dir.join(FILE_NAME);
        let not_ours = || format!("{} is not a manifest orchestrate wrote", shown(&path));
        match files::open_regular(&path) {
            Ok(files::Opened::Missing) => return Ok(None),
            Err(err) => {
                return Err(err).with_context(|| format!("could not read {}", shown(&path)));
            }
            _ => {}
        }
        let content = files::read_small(&path, 1 << 20).with_context(not_ours)?;
        let text = String::from_utf8(content).ok().with_context(not_ours)?;
        Manifest::from_json(&text).map(Some).with_context(not_ours)
    }

    /// Writes the manifest into the results folder open as `handle` (whose
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

/// The tasks of one recorded submission: `"tasks": ["a.1", "q.2"]`, or,
/// as the previous version wrote them, `"letters": "aq", "attempt": 1`.
fn tasks_of(job: &serde_json::Value) -> Option<Vec<ArrayTask>> {
    if let Some(tasks) = job.get("tasks") {
        return tasks
            .as_array()?
            .iter()
            .map(|task| {
                let (letter, attempt) = task.as_str()?.split_once('.')?;
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
    let attempt = u32::try_from(job.get("attempt")?.as_u64()?).ok()?;
    let letters = UnitType::parse_set_ordered(job.get("letters")?.as_str()?)?;
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
    fn a_manifest_round_trips_and_knows_its_job() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = Manifest {
            input_sha256: sha256(b"dabAcCaCBAcCcaDA"),
            input_length: 16,
            full_length: 10,
            program: "sha256:00".into(),
            array: Some(ArrayRecord {
                folder: "slurm-array-1-2".into(),
                name: "mine".into(),
                jobs: vec![Submitted {
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
        assert_eq!(Manifest::read(dir.path()).unwrap(), None);
        let open = std::fs::File::open(dir.path()).unwrap();
        manifest.write(&open, &open, dir.path()).unwrap();
        let read = Manifest::read(dir.path()).unwrap().unwrap();
        assert_eq!(read, manifest);
        let other_input = Manifest {
            input_sha256: sha256(b"aA"),
            ..manifest.clone()
        };
        assert!(!read.same_work(&other_input));
        let other_array = Manifest {
            array: None,
            ..manifest.clone()
        };
        assert!(
            read.same_work(&other_array),
            "the array does not change the job"
        );
        std::fs::write(dir.path().join(FILE_NAME), "{").unwrap();
        assert!(Manifest::read(dir.path()).is_err());
    }

    #[test]
    fn a_manifest_of_the_previous_version_still_names_its_array_tasks() {
        let dir = tempfile::tempdir().unwrap();
        let old = r#"{"input_sha256": "00", "input_length": 16, "full_length": 10,
            "program": "sha256:00", "array": {"folder": "slurm-array-1-2",
            "jobs": [{"job_id": "42", "letters": "ca", "attempt": 2}]}}"#;
        std::fs::write(dir.path().join(FILE_NAME), old).unwrap();
        let read = Manifest::read(dir.path()).unwrap().unwrap();
        let tasks = &read.array.unwrap().jobs[0].tasks;
        let letters: String = tasks.iter().map(|t| t.letter.letter()).collect();
        assert_eq!(letters, "ca");
        assert!(tasks.iter().all(|t| t.attempt == 2));
        let array = Manifest::read(dir.path()).unwrap().unwrap().array.unwrap();
        assert_eq!(
            array.name, "orchestrate-1",
            "as that version named its jobs"
        );
    }

    #[test]
    fn sha256_is_the_standard_digest() {
        assert_eq!(
            sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
