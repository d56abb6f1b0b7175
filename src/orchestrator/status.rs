//! What a results folder says of its run, read without touching it
//! (`orchestrate --status`): the record (`orchestrate.json`), the published
//! results, a job array's task files, and `squeue` where it answers.
//! Nothing is started, submitted, cancelled, locked, written or removed, so
//! it is safe while another orchestrate writes the folder, and while a job
//! array runs on after its orchestrate is gone.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::record::{self, Record};
use super::workspace::{holder_pid, result_path};
use crate::files::shown;
use crate::polymer::UnitType;
use crate::protocol::{self, ResultFile};
pub use crate::report::status::{State, Status};
use crate::supervise::array::{self, TaskState};
use crate::supervise::queue::Queue;
use crate::sys::{self, lock::Holder};

/// Reads the status of `dir`, asking `queue` what it still holds of a job
/// array. An error, in one line naming the folder, when it is not a
/// results folder of orchestrate.
pub fn read(dir: &Path, queue: &mut dyn Queue) -> anyhow::Result<Status> {
    let metadata =
        std::fs::metadata(dir).with_context(|| format!("could not read {}", shown(dir)))?;
    if !metadata.is_dir() {
        bail!("{} is not a folder", shown(dir));
    }
    let Some(record) = Record::read(dir)? else {
        bail!(
            "{} holds no run of orchestrate (no {})",
            shown(dir),
            record::FILE_NAME
        );
    };
    let mut letters: Vec<(UnitType, State)> = UnitType::all()
        .map(|letter| {
            let path = result_path(dir, letter);
            let state = match protocol::read_result(&path, record.input_length) {
                Ok(ResultFile::Length(length)) => State::Done(length),
                Ok(ResultFile::Missing) => State::Pending,
                Ok(ResultFile::Invalid(why)) => State::Unusable(why),
                Err(err) => State::Unusable(format!("unreadable: {err}")),
            };
            (letter, state)
        })
        .collect();
    let mut queue_answered = None;
    if let Some(array) = &record.array {
        let queued = queue.queued(&array::identity(&array.name, &dir.join(&array.folder)));
        queue_answered = Some(queued.is_some());
        // The array's folder, opened without following a link: one that
        // leads out of the results folder is not the array's, and its
        // files say nothing.
        let folder = Inside::open(dir, &array.folder);
        for (letter, state) in &mut letters {
            if *state == State::Pending
                && let Some((id, task)) = array::last_task(&array.submissions, *letter)
            {
                *state = state_of(array::task_state(
                    folder.as_ref().map(Inside::path),
                    (&id, task),
                    record.input_length,
                    queued.as_deref(),
                ));
            }
        }
    }
    Ok(Status {
        dir: dir.to_path_buf(),
        writer: writer(dir),
        input_length: record.input_length,
        full_length: (record.full_length > 0 || record.input_length == 0)
            .then_some(record.full_length),
        array_jobs: record
            .array
            .iter()
            .flat_map(|a| a.submissions.iter().map(|j| j.job_id.clone()))
            .collect(),
        queue_answered,
        letters,
    })
}

/// Where a letter whose last attempt is an array task stands.
fn state_of(task: TaskState) -> State {
    match task {
        TaskState::Done(length) => State::Done(length),
        TaskState::Failed(code) => State::Failed(code),
        TaskState::Running(node) => State::Running(node),
        TaskState::Queued => State::Queued,
        TaskState::Lost => State::Lost,
    }
}

/// The orchestrate that holds the folder now, on this machine. Its lock is
/// looked up in the kernel's table of locks (`/proc/locks`), which never
/// takes it: a holder file left by a run killed outright names a pid that
/// may since belong to another process, or to a zombie. (The table lists
/// only the locks of processes this one can see: a writer in another PID
/// namespace, or on another machine sharing the folder, is not found.)
/// Where the system says the lock is held but not by whom (Windows), the
/// holder file names the writer. Where the table cannot be read, the
/// holder file's pid counts if that process lives and is not a zombie.
fn writer(dir: &Path) -> Option<u32> {
    match sys::lock::folder_holder(dir) {
        Ok(Holder::Process(pid)) => Some(pid),
        Ok(Holder::Free) => None,
        Ok(Holder::Unknown) => holder_pid(dir),
        Err(_) => holder_pid(dir).filter(|&pid| sys::process::lives(pid)),
    }
}

/// A folder inside the results folder, held open: its files are read
/// through the handle (`/proc/self/fd/N/...`), so a folder swapped for a
/// link after it was opened is not followed either.
struct Inside {
    _handle: Option<std::fs::File>,
    path: PathBuf,
}

impl Inside {
    /// `name` in `dir`, if it is a folder there (not a link to one).
    fn open(dir: &Path, name: &str) -> Option<Inside> {
        let path = dir.join(name);
        let handle = sys::fs::open_folder_nofollow(&path).ok()?;
        let through = sys::fs::path_to_open_file(&handle);
        Some(if through.is_dir() {
            Inside {
                _handle: Some(handle),
                path: through,
            }
        } else {
            // No /proc: by its path, checked above not to be a link.
            Inside {
                _handle: None,
                path,
            }
        })
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    // What only the job arrays' tests use: Slurm runs on Linux only.
    #![cfg_attr(not(unix), allow(dead_code, unused_imports))]
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    use crate::protocol::{ArrayTask, TaskFile};
    use crate::supervise::fake_queue::{FakeQueue, Plan, World};

    /// The queue of a cluster that stands still, holding nothing yet;
    /// `silent`: it does not answer.
    fn frozen(silent: bool) -> Rc<RefCell<World>> {
        let mut world = World::new(std::path::PathBuf::new(), |_| Plan::Hang);
        world.frozen = true;
        if silent {
            world.silent = 0..usize::MAX;
        }
        Rc::new(RefCell::new(world))
    }

    /// Holds task `index` of job 77 (letter `letter`) in the queue, as the
    /// array named `name`'s in `dir`: pending, or running on `node`.
    fn hold(
        world: &Rc<RefCell<World>>,
        dir: &Path,
        name: &str,
        (index, letter): (usize, char),
        node: Option<&str>,
    ) {
        let task = ArrayTask {
            letter: UnitType::from_ascii(letter as u8).unwrap(),
            attempt: 1,
        };
        let id = format!("77_{index}");
        world
            .borrow_mut()
            .hold(&id, name, &dir.join(FOLDER), task, node);
    }

    const FOLDER: &str = "slurm-array-41-7";

    /// A results folder whose record holds one array of job 77 with a task
    /// per letter of `letters` (index in that order), as a record of this
    /// version (`named`) or of the one before, which named no array.
    fn results_folder(letters: &str, named: bool) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(FOLDER)).unwrap();
        let tasks: Vec<String> = letters.chars().map(|l| format!("{l}.1")).collect();
        let mut array = serde_json::json!({
            "folder": FOLDER,
            "jobs": [{ "job_id": "77", "tasks": tasks }],
        });
        if named {
            array["name"] = "mine".into();
        }
        let record = serde_json::json!({
            "input_sha256": "0".repeat(64),
            "input_length": 100,
            "full_length": 90,
            "program": format!("sha256:{}", "1".repeat(64)),
            "array": array,
        });
        std::fs::write(dir.path().join(record::FILE_NAME), record.to_string()).unwrap();
        dir
    }

    fn task_file(dir: &Path, letter: char, what: TaskFile, content: &str) {
        let task = ArrayTask {
            letter: UnitType::from_ascii(letter as u8).unwrap(),
            attempt: 1,
        };
        std::fs::write(task.file(&dir.join(FOLDER), what), content).unwrap();
    }

    fn states(dir: &Path, world: &Rc<RefCell<World>>, letters: &str) -> Vec<(char, State)> {
        let status = read(dir, &mut FakeQueue(Rc::clone(world))).unwrap();
        assert_eq!(status.array_jobs, ["77"]);
        let answers = world.borrow().silent.is_empty();
        assert_eq!(status.queue_answered, Some(answers));
        let world = world.borrow();
        assert!(
            world.cancelled.is_empty(),
            "--status cancelled {:?}",
            world.cancelled
        );
        assert!(world.submitted.is_empty(), "--status submitted");
        letters
            .chars()
            .map(|l| {
                let letter = UnitType::from_ascii(l as u8).unwrap();
                let (_, state) = status.letters.iter().find(|(x, _)| *x == letter).unwrap();
                (l, state.clone())
            })
            .collect()
    }

    // Job arrays are Slurm's, which runs on Linux only.
    #[cfg(unix)]
    #[test]
    fn an_arrays_letters_stand_where_the_task_files_and_the_queue_say() {
        let dir = results_folder("abcdef", true);
        task_file(dir.path(), 'a', TaskFile::Status, "0\n");
        task_file(dir.path(), 'a', TaskFile::Result, "5\n");
        task_file(dir.path(), 'e', TaskFile::Status, "3\n");
        // Published by the run: it counts whatever the task's files say.
        std::fs::write(dir.path().join("f.txt"), "8\n").unwrap();
        let world = frozen(false);
        hold(&world, dir.path(), "mine", (1, 'b'), Some("n2"));
        hold(&world, dir.path(), "mine", (2, 'c'), None);
        // The same id under another name: someone else's job.
        hold(&world, dir.path(), "theirs", (3, 'd'), Some("n1"));
        let expected = [
            ('a', State::Done(5)),
            ('b', State::Running(Some("n2".into()))),
            ('c', State::Queued),
            // Neither listed nor reported: cancelled behind the folder's
            // back, or its node failed.
            ('d', State::Lost),
            ('e', State::Failed(3)),
            ('f', State::Done(8)),
            // Never submitted.
            ('g', State::Pending),
        ];
        assert_eq!(states(dir.path(), &world, "abcdefg"), expected);
    }

    #[test]
    fn without_an_answer_from_the_queue_the_start_marks_tell_what_runs() {
        let dir = results_folder("abcd", true);
        task_file(dir.path(), 'a', TaskFile::Status, "0\n");
        task_file(dir.path(), 'a', TaskFile::Result, "5\n");
        task_file(
            dir.path(),
            'b',
            TaskFile::StartMark,
            "1700000000000000000 n3\n",
        );
        // A task reporting success without a valid result failed.
        task_file(dir.path(), 'd', TaskFile::Status, "0\n");
        task_file(dir.path(), 'd', TaskFile::Result, "999\n");
        let world = frozen(true);
        let expected = [
            ('a', State::Done(5)),
            ('b', State::Running(Some("n3".into()))),
            // Nothing can be told lost while the queue does not answer.
            ('c', State::Queued),
            ('d', State::Failed(0)),
        ];
        assert_eq!(states(dir.path(), &world, "abcd"), expected);
    }

    // Job arrays are Slurm's, which runs on Linux only.
    #[cfg(unix)]
    #[test]
    fn a_record_of_the_version_before_names_its_array_after_the_run_that_submitted_it() {
        let dir = results_folder("ab", false);
        // Listed under the name the array had: found by it.
        let world = frozen(false);
        hold(&world, dir.path(), "orchestrate-41", (0, 'a'), None);
        let expected = [('a', State::Queued), ('b', State::Lost)];
        assert_eq!(states(dir.path(), &world, "ab"), expected);
    }

    // Job arrays are Slurm's, which runs on Linux only.
    #[cfg(unix)]
    #[test]
    fn an_array_folder_that_is_gone_leaves_the_queue_to_tell() {
        let dir = results_folder("ab", true);
        let world = frozen(false);
        hold(&world, dir.path(), "mine", (0, 'a'), Some("n1"));
        std::fs::remove_dir(dir.path().join(FOLDER)).unwrap();
        let expected = [('a', State::Running(Some("n1".into()))), ('b', State::Lost)];
        assert_eq!(states(dir.path(), &world, "ab"), expected);
    }
}
