//! The results folder as a run holds it: locked for the run (a second run
//! there refuses, naming the first), prepared (an earlier run's results,
//! record and job arrays cleared, unless resuming), with a staging folder
//! of the run's own inside; results published and the record written
//! through the folder's descriptor; what `--resume` keeps.
//!
//! Not here: the private and temporary folders (`folders`).

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::super::marker;
use super::super::record::{self, Record};
use super::folders::{
    PRIVATE_PREFIX, marked_folder, open_folder, private_folders, remove_abandoned,
    remove_own_folder,
};
use crate::files::{self, shown};
use crate::input::FileId;
use crate::polymer::UnitType;
use crate::supervise::array;
use crate::supervise::queue::Queue;
use crate::sys;

/// What a results folder kept from an earlier run of the same input and
/// program.
#[derive(Debug, Default)]
pub struct Kept {
    /// Each letter asked for whose result is there and valid.
    pub results: Vec<(UnitType, usize)>,
    /// The earlier run's record.
    pub recorded: Option<Record>,
}

/// The file in a results folder that names the run holding its lock.
const HOLDER_FILE: &str = ".orchestrate.pid";

/// The results folder as this run holds it: locked, with a staging
/// folder of its own inside.
#[derive(Debug)]
pub(super) struct HeldResults {
    pub(super) path: PathBuf,
    /// The folder, open: results are written through it, so a folder
    /// renamed or replaced under its path is still the one written.
    pub(super) handle: File,
    /// Where what is published is staged: a marked folder of the run's own
    /// inside it (the private folder, when children run elsewhere).
    pub(super) staging: File,
    /// That folder's name and marker, unless it is the workspace's private
    /// folder: removed through the descriptors when the run ends, so a
    /// results folder renamed or swapped meanwhile loses it all the same,
    /// and nothing is removed under the old name.
    pub(super) own: Option<(std::ffi::CString, File)>,
    /// The folder's lock, for as long as the run lasts; let go last.
    pub(super) _lock: sys::lock::FolderLock,
}

impl HeldResults {
    /// Makes `dir` this run's: created, locked, rid of what runs that are
    /// gone left, checked against the input, cleared of an earlier run's
    /// results unless resuming; with a marked folder of this run's inside
    /// (its staging folder, and where children elsewhere get their files),
    /// returned with its path.
    pub(super) fn prepare(
        dir: &Path,
        input: Option<FileId>,
        resume: bool,
        queue: &mut dyn Queue,
    ) -> anyhow::Result<(HeldResults, PathBuf)> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create results folder {}", shown(dir)))?;
        let path = std::path::absolute(dir)
            .with_context(|| format!("could not resolve {}", shown(dir)))?;
        let (handle, lock) = lock(&path)?;
        remove_abandoned(&path, PRIVATE_PREFIX, input, true)?;
        check_input(&path, input)?;
        if !resume {
            cancel_recorded_arrays(&path, queue);
            clear_results(&path, input)?;
        }
        let (own, marker) =
            marked_folder(&path, &format!("{PRIVATE_PREFIX}{}-", std::process::id()))?;
        let opened = open_folder(&own).and_then(|staging| {
            let name = own.file_name().unwrap_or_default().as_encoded_bytes();
            Ok((staging, std::ffi::CString::new(name)?))
        });
        let (staging, name) = match opened {
            Ok(opened) => opened,
            Err(err) => {
                let _ = std::fs::remove_dir_all(&own);
                return Err(err);
            }
        };
        // From here the results folder's guard removes it.
        let results = HeldResults {
            path,
            handle,
            staging,
            own: Some((name, marker)),
            _lock: lock,
        };
        Ok((results, own))
    }

    /// The results kept from an earlier run of the same input and program
    /// (`--resume`), for the letters in `letters`, and that run's record. A result file
    /// that is not valid (malformed, not a regular file, longer than the
    /// input) is removed, and its letter runs again. Fails when the folder
    /// holds results of another input or program, or results without a
    /// record.
    pub fn kept(&self, record: &Record, letters: &[UnitType]) -> anyhow::Result<Kept> {
        let dir = &self.path;
        let recorded = Record::read(dir)?;
        let any_results = UnitType::all().any(|l| result_path(dir, l).symlink_metadata().is_ok());
        match &recorded {
            Some(recorded) if !recorded.same_work(record) => bail!(
                "results folder {} holds results of another input or child program; \
                 run without --resume to replace them, or choose another --results-dir",
                shown(dir)
            ),
            None if any_results => bail!(
                "results folder {} holds results with no record of their input ({}); \
                 run without --resume to replace them, or choose another --results-dir",
                shown(dir),
                record::FILE_NAME
            ),
            _ => {}
        }
        let mut kept = Vec::new();
        for &letter in letters {
            let path = result_path(dir, letter);
            match crate::protocol::read_result(&path, record.input_length) {
                Ok(crate::protocol::ResultFile::Length(length)) => kept.push((letter, length)),
                Ok(crate::protocol::ResultFile::Missing) => {}
                _ => {
                    std::fs::remove_file(&path).with_context(|| {
                        format!("could not remove the unusable result {}", shown(&path))
                    })?;
                }
            }
        }
        Ok(Kept {
            results: kept,
            recorded,
        })
    }

    /// Removes a job array's folder once nothing is left to collect from it.
    pub fn remove_array_folder(&self, folder: &str) {
        if array::is_folder_name(folder) {
            let _ = std::fs::remove_dir_all(self.path.join(folder));
        }
    }

    /// Records what the folder's results are of, before any is published
    /// there.
    pub fn record(&self, record: &Record) -> anyhow::Result<()> {
        record.write(&self.staging, &self.handle, &self.path)
    }

    /// Publishes a validated result as `<letter>.txt`, atomically, staged
    /// beside it.
    ///
    /// Something else put under the result's name during the run (a
    /// symlink, a FIFO, a folder) is not replaced: one line names it.
    pub fn publish(&self, letter: UnitType, length: usize) -> anyhow::Result<()> {
        let name = crate::protocol::published_name(letter);
        if let Some(what) = files::not_regular_at(&self.handle, &name) {
            bail!(
                "{} is {what}, put there during the run; the result for letter {letter} \
                 was not published over it",
                shown(&result_path(&self.path, letter))
            );
        }
        files::write_atomically_at(
            &self.staging,
            &self.handle,
            &name,
            format!("{length}\n").as_bytes(),
            &result_path(&self.path, letter),
        )
    }

    /// Writes who holds the lock, for a run that finds it locked; removed
    /// when the guard drops.
    pub fn name_holder(&self) -> anyhow::Result<()> {
        files::write_atomically_at(
            &self.staging,
            &self.handle,
            HOLDER_FILE,
            format!("{}\n", std::process::id()).as_bytes(),
            &self.path.join(HOLDER_FILE),
        )
    }
}

impl Drop for HeldResults {
    fn drop(&mut self) {
        let (Ok(holder), Ok(marker)) = (
            std::ffi::CString::new(HOLDER_FILE),
            std::ffi::CString::new(marker::MARKER),
        ) else {
            return;
        };
        let _ = sys::fs::remove_at(&self.handle, &holder);
        if let Some((name, held)) = self.own.take() {
            // Only the marker is left in it: what was staged was renamed
            // into place, or removed when it failed. Closed first: on
            // Windows a removed file that is still open keeps its folder
            // from being removed.
            drop(held);
            let _ = sys::fs::remove_at(&self.staging, &marker);
            let _ = sys::fs::remove_folder_at(&self.handle, &name);
        }
    }
}

/// The pid the results folder's holder file names (the run that locked
/// it, if that run still lives).
pub(in crate::orchestrator) fn holder_pid(dir: &Path) -> Option<u32> {
    let text = files::read_small(&dir.join(HOLDER_FILE), 16)?;
    String::from_utf8(text).ok()?.trim_end().parse().ok()
}

/// Locks the results folder for this run, or names the run that holds it.
fn lock(dir: &Path) -> anyhow::Result<(File, sys::lock::FolderLock)> {
    let handle = sys::fs::open_folder(dir)
        .with_context(|| format!("could not open results folder {}", shown(dir)))?;
    match sys::lock::try_lock_folder(&handle) {
        Ok(lock) => return Ok((handle, lock)),
        // Held: said below, naming the holder.
        Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {}
        Err(err) => {
            return Err(err)
                .with_context(|| format!("could not lock results folder {}", shown(dir)));
        }
    }
    let holder = holder_pid(dir)
        .or_else(|| private_folders(dir).into_iter().map(|(_, pid)| pid).next())
        .map_or_else(String::new, |pid| format!(" (pid {pid})"));
    bail!(
        "results folder {} is in use by another run of orchestrate{holder}; \
         wait for it to end or choose another --results-dir",
        shown(dir)
    )
}

pub(in crate::orchestrator) fn result_path(dir: &Path, letter: UnitType) -> PathBuf {
    crate::protocol::published_result(dir, letter)
}

/// Refuses a results folder where a result would land on the input itself
/// (by device and inode, so a link cannot hide it), or on a folder.
fn check_input(dir: &Path, input: Option<FileId>) -> anyhow::Result<()> {
    for letter in UnitType::all() {
        let path = result_path(dir, letter);
        let Ok(link) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if let (Some(input), Ok(target)) = (input, FileId::at(&path))
            && target == input
        {
            bail!(
                "the input {} is where the result for letter {letter} goes; \
                 move the input or choose another --results-dir",
                shown(&path)
            );
        }
        if link.is_dir() {
            bail!(
                "{} is a folder where the result for letter {letter} goes",
                shown(&path)
            );
        }
    }
    Ok(())
}

/// Cancels the job arrays an earlier run recorded, before their folder
/// goes: an array outlives a killed orchestrate, and its tasks would
/// otherwise run on into a folder that is no more. Only jobs that are still
/// the array's: a recorded id may name someone else's job now.
fn cancel_recorded_arrays(dir: &Path, queue: &mut dyn Queue) {
    if let Ok(Some(Record {
        array: Some(array), ..
    })) = Record::read(dir)
    {
        array::cancel_all(
            queue,
            &array::identity(&array.name, &dir.join(&array.folder)),
        );
    }
}

/// Removes every `<letter>.txt`, the record and the job array folders an
/// earlier run left, so that the folder ends up holding this run's results
/// only. Result names are ours only under a record of ours and only as
/// regular files; an array folder only when marked as ours or named by
/// the record. Anything else there under one of those names is not
/// removed: the run refuses, naming it.
fn clear_results(dir: &Path, input: Option<FileId>) -> anyhow::Result<()> {
    let record = Record::read(dir).map_err(|err| {
        anyhow::anyhow!(
            "{err:#}, so it is not this run's to replace; remove it or choose another \
             --results-dir"
        )
    })?;
    let recorded_folder = record
        .as_ref()
        .and_then(|r| r.array.as_ref())
        .map(|array| array.folder.clone());
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let is_array = crate::supervise::array::is_folder_name(name)
            && entry.file_type().is_ok_and(|t| t.is_dir());
        let ours = is_array
            && (recorded_folder.as_deref() == Some(name)
                || !matches!(marker::judge(&entry.path()), marker::Verdict::NotOurs));
        if ours {
            remove_own_folder(&entry.path(), input, true)?;
        }
    }
    for letter in UnitType::all() {
        let path = result_path(dir, letter);
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        if record.is_none() || !meta.is_file() {
            let what = if meta.is_file() {
                "which no run of orchestrate recorded"
            } else {
                "which is not a regular file"
            };
            bail!(
                "results folder {} holds {letter}.txt, {what}; remove it or choose another \
                 --results-dir",
                shown(dir)
            );
        }
    }
    let paths = UnitType::all()
        .map(|letter| result_path(dir, letter))
        .chain([dir.join(record::FILE_NAME)]);
    for path in paths {
        match sys::fs::remove_file(&path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                return Err(err)
                    .with_context(|| format!("could not remove the old result {}", shown(&path)));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    // What only the job arrays' tests use: Slurm runs on Linux only.
    #![cfg_attr(not(unix), allow(dead_code, unused_imports))]
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    use crate::protocol::ArrayTask;
    use crate::supervise::fake_queue::{FakeQueue, Plan, World};

    /// The queue of a cluster that stands still, holding nothing.
    fn frozen() -> Rc<RefCell<World>> {
        let mut world = World::new(PathBuf::new(), |_| Plan::Hang);
        world.frozen = true;
        Rc::new(RefCell::new(world))
    }

    fn record(sha: &str) -> Record {
        Record {
            input_sha256: sha.into(),
            input_length: 16,
            full_length: 10,
            program: "sha256:00".into(),
            array: None,
        }
    }

    fn hold(dir: &Path, resume: bool) -> anyhow::Result<HeldResults> {
        let mut queue = FakeQueue(frozen());
        let (held, _own) = HeldResults::prepare(dir, None, resume, &mut queue)?;
        held.name_holder()?;
        Ok(held)
    }

    #[test]
    fn a_second_run_is_refused_the_folder_naming_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = hold(dir.path(), false).unwrap();
        let err = hold(dir.path(), false).unwrap_err();
        let said = format!("{err:#}");
        assert!(
            said.contains("in use by another run of orchestrate"),
            "{said}"
        );
        assert!(
            said.contains(&format!("(pid {})", std::process::id())),
            "{said}"
        );
        drop(first);
        assert!(
            hold(dir.path(), false).is_ok(),
            "free once the first is gone"
        );
    }

    // Windows names a folder by its handle where it is now, but Wine gives
    // the name it was opened by, so this cannot be tried there.
    #[cfg(unix)]
    #[test]
    fn results_are_published_through_the_folder_even_once_it_is_renamed() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("results");
        let held = hold(&dir, false).unwrap();
        held.record(&record("00")).unwrap();
        held.publish(UnitType::from_ascii(b'a').unwrap(), 6)
            .unwrap();
        let moved = parent.path().join("moved");
        std::fs::rename(&dir, &moved).unwrap();
        held.publish(UnitType::from_ascii(b'b').unwrap(), 8)
            .unwrap();
        assert_eq!(std::fs::read_to_string(moved.join("a.txt")).unwrap(), "6\n");
        assert_eq!(std::fs::read_to_string(moved.join("b.txt")).unwrap(), "8\n");
        assert!(!dir.exists(), "nothing was written by the old path");
        drop(held);
        let mut left: Vec<_> = std::fs::read_dir(&moved)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["a.txt", "b.txt", record::FILE_NAME]);
    }

    #[test]
    fn a_result_without_a_record_is_not_ours_to_replace() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("q.txt"), "5\n").unwrap();
        let err = hold(dir.path(), false).unwrap_err();
        assert!(
            format!("{err:#}").contains("which no run of orchestrate recorded"),
            "{err:#}"
        );
        assert!(dir.path().join("q.txt").is_file());
    }

    #[test]
    fn resuming_keeps_the_valid_results_of_the_same_work_and_refuses_other_work() {
        let dir = tempfile::tempdir().unwrap();
        let held = hold(dir.path(), false).unwrap();
        held.record(&record("00")).unwrap();
        held.publish(UnitType::from_ascii(b'a').unwrap(), 6)
            .unwrap();
        drop(held);
        std::fs::write(dir.path().join("b.txt"), "not a length\n").unwrap();
        let held = hold(dir.path(), true).unwrap();
        let letters = UnitType::parse_set("abc").unwrap();
        let kept = held.kept(&record("00"), &letters).unwrap();
        assert_eq!(kept.results, [(UnitType::from_ascii(b'a').unwrap(), 6)]);
        assert_eq!(kept.recorded, Some(record("00")));
        assert!(
            !dir.path().join("b.txt").exists(),
            "an unusable result goes"
        );
        let err = held.kept(&record("11"), &letters).unwrap_err();
        assert!(
            format!("{err:#}").contains("results of another input or child program"),
            "{err:#}"
        );
    }

    // Job arrays are Slurm's, which runs on Linux only.
    #[cfg(unix)]
    #[test]
    fn an_earlier_runs_array_is_cancelled_as_far_as_the_queue_lists_it_then_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let folder = "slurm-array-7-1";
        std::fs::create_dir(dir.path().join(folder)).unwrap();
        let text = format!(
            r#"{{"input_sha256": "00", "input_length": 16, "full_length": 10,
            "program": "sha256:00", "array": {{"folder": "{folder}", "name": "n",
            "jobs": [{{"job_id": "4", "tasks": ["a.1", "b.1"]}}]}}}}"#
        );
        std::fs::write(dir.path().join(record::FILE_NAME), text).unwrap();
        let world = frozen();
        let task = ArrayTask {
            letter: UnitType::from_ascii(b'b').unwrap(),
            attempt: 1,
        };
        world
            .borrow_mut()
            .hold("4_1", "n", &dir.path().join(folder), task, Some("n1"));
        let mut queue = FakeQueue(Rc::clone(&world));
        let (held, _own) = HeldResults::prepare(dir.path(), None, false, &mut queue).unwrap();
        let cancelled = world.borrow().cancelled.clone();
        assert_eq!(
            cancelled,
            [(vec!["4_1".to_string()], false)],
            "only what the queue lists as the array's"
        );
        assert!(!dir.path().join(folder).exists());
        assert!(!dir.path().join(record::FILE_NAME).exists());
        drop(held);
    }
}
