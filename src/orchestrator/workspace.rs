//! Where a process-mode run keeps its files.
//!
//! Every run has a *private folder*: the children's snapshot of the polymer
//! and one result path per attempt live there, so no other run and no
//! sibling child can write a file this run believes, and the user's input
//! is never re-opened by a child. It is removed when the run ends, however
//! it ends. A run killed outright (SIGKILL, a machine that went down) cannot
//! remove it: the next run does, in the temporary folder and in the
//! results folder alike, but only once it is provably abandoned. In the
//! temporary folder, each run holds a lock (flock) on a file in its folder
//! for as long as it lives, and the folder appears under its name only once
//! that lock is held; a folder whose lock can be taken belongs to no live
//! process.
//!
//! With `--results-dir`, the private folder is inside it when children run
//! on other machines (so that they share it), the folder is locked for the
//! run (a second run there refuses, naming the first), and validated
//! results are *published* there as `<letter>.txt` by the orchestrator
//! alone, through the folder's descriptor (a folder renamed or replaced by
//! a symlink during the run is still the one written), under a
//! manifest that says what they are results of. At the start, result files
//! of earlier runs are removed, so at the end the folder holds this run's
//! results only; with `--resume`, those of the same input and program are kept and
//! reused instead. A run refuses to start when a result would land on its
//! own input.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::Interrupted;
use super::manifest::{self, Manifest};
use crate::files::{self, shown};
use crate::input::FileId;
use crate::polymer::UnitType;
use crate::sealed;
use crate::signals::Signals;

/// The prefix of private folders inside a results folder.
const PRIVATE_PREFIX: &str = ".orchestrate-";

/// What a results folder kept from an earlier run of the same input and
/// program.
#[derive(Debug, Default)]
pub struct Kept {
    /// Each letter asked for whose result is there and valid.
    pub results: Vec<(UnitType, usize)>,
    /// The earlier run's manifest.
    pub recorded: Option<Manifest>,
}

/// The prefix of private folders in the temporary folder.
const TMP_PREFIX: &str = "orchestrate-";

/// The file in a results folder that names the run holding its lock.
const HOLDER_FILE: &str = ".orchestrate.pid";

/// The lock file in a private folder of the temporary folder.
const LOCK_FILE: &str = ".orchestrate-lock";

/// A run's folders: the private one, and the results folder if any.
#[derive(Debug)]
pub struct Workspace {
    private: Private,
    results: Option<ResultsDir>,
}

/// The private folder, removed when dropped, with its lock if it has one.
#[derive(Debug)]
struct Private {
    path: PathBuf,
    _lock: Option<File>,
}

#[derive(Debug)]
struct ResultsDir {
    path: PathBuf,
    /// The folder, open: it holds the folder's lock (flock) for as long as
    /// the run lasts, and results are written through it, so a folder
    /// renamed or replaced under its path is still the one written.
    handle: File,
}

impl Workspace {
    /// A workspace with a private folder in the temporary folder, or, for
    /// children on other machines (`children_here` false), inside
    /// `results_dir`, which is then prepared for this run. `input` is the
    /// input's file, which no result may replace.
    pub fn create(
        results_dir: Option<&Path>,
        input: Option<FileId>,
        resume: bool,
        children_here: bool,
    ) -> anyhow::Result<Workspace> {
        let in_tmp = || -> anyhow::Result<Private> {
            let tmp = std::env::temp_dir();
            remove_abandoned_temporary_folders(&tmp);
            locked_private_folder(&tmp)
        };
        let Some(dir) = results_dir else {
            return Ok(Workspace {
                private: in_tmp()?,
                results: None,
            });
        };
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create results folder {}", shown(dir)))?;
        let path = std::path::absolute(dir)
            .with_context(|| format!("could not resolve {}", shown(dir)))?;
        let locked = lock(&path)?;
        remove_abandoned_private_folders(&path, input)?;
        check_input(&path, input)?;
        if !resume {
            cancel_recorded_arrays(&path);
            clear_results(&path, input)?;
        }
        // Children on this machine need no shared folder: theirs stays out
        // of the results folder, which is then only ever written through
        // its descriptor.
        let private = if children_here {
            in_tmp()?
        } else {
            let private = tempfile::Builder::new()
                .prefix(&format!("{PRIVATE_PREFIX}{}-", std::process::id()))
                .tempdir_in(&path)
                .with_context(|| format!("could not create a folder in {}", shown(&path)))?;
            Private {
                path: private.keep(),
                _lock: None,
            }
        };
        Ok(Workspace {
            private,
            results: Some(locked),
        })
    }

    /// The private folder.
    pub fn private(&self) -> &Path {
        &self.private.path
    }

    /// The results folder, if the user named one.
    pub fn results_dir(&self) -> Option<&Path> {
        self.results.as_ref().map(|results| results.path.as_path())
    }

    /// The results kept from an earlier run of the same input and program
    /// (`--resume`),
    /// for the letters in `letters`, and that run's manifest. A result file
    /// that is not valid (malformed, not a regular file, longer than the
    /// input) is removed, and its letter runs again. Fails when the folder
    /// holds results of another input or program, or results without a
    /// manifest.
    pub fn cached(&self, manifest: &Manifest, letters: &[UnitType]) -> anyhow::Result<Kept> {
        let Some(dir) = self.results_dir() else {
            return Ok(Kept::default());
        };
        let recorded = Manifest::read(dir)?;
        let any_results = UnitType::all().any(|l| result_path(dir, l).symlink_metadata().is_ok());
        match &recorded {
            Some(recorded) if !recorded.same_work(manifest) => bail!(
                "results folder {} holds results of another input or child program; \
                 run without --resume to replace them, or choose another --results-dir",
                shown(dir)
            ),
            None if any_results => bail!(
                "results folder {} holds results with no record of their input ({}); \
                 run without --resume to replace them, or choose another --results-dir",
                shown(dir),
                manifest::FILE_NAME
            ),
            _ => {}
        }
        let mut cached = Vec::new();
        for &letter in letters {
            let path = result_path(dir, letter);
            match crate::protocol::read_result(&path, manifest.input_length) {
                Ok(crate::protocol::ResultFile::Length(length)) => cached.push((letter, length)),
                Ok(crate::protocol::ResultFile::Missing) => {}
                _ => {
                    std::fs::remove_file(&path).with_context(|| {
                        format!("could not remove the unusable result {}", shown(&path))
                    })?;
                }
            }
        }
        Ok(Kept {
            results: cached,
            recorded,
        })
    }

    /// Removes a job array's folder once nothing is left to collect from it.
    pub fn remove_array_folder(&self, folder: &str) {
        if let Some(dir) = self.results_dir()
            && crate::supervise::array::is_folder_name(folder)
        {
            let _ = std::fs::remove_dir_all(dir.join(folder));
        }
    }

    /// Records what the results folder's results are of, before any is
    /// published there.
    pub fn record(&self, manifest: &Manifest) -> anyhow::Result<()> {
        match &self.results {
            Some(results) => manifest.write(&results.handle, &results.path),
            None => Ok(()),
        }
    }

    /// Writes the children's polymer into `folder` (created), or by
    /// default the private folder, a slice at a time so that a stop signal
    /// is answered while a large one is written.
    pub fn write_polymer(
        &self,
        folder: Option<&Path>,
        units: &[u8],
        signals: &Signals,
    ) -> anyhow::Result<PathBuf> {
        let folder = folder.unwrap_or(self.private());
        std::fs::create_dir_all(folder)
            .with_context(|| format!("could not create {}", shown(folder)))?;
        let path = folder.join("polymer.txt");
        let context = || format!("could not write the children's polymer {}", shown(&path));
        let file = File::create_new(&path).with_context(context)?;
        write_in_slices(&file, units, signals).with_context(context)?;
        Ok(path)
    }

    /// Writes the children's copy of the polymer into a sealed in-memory
    /// file, which children on this machine get as their standard input
    /// (each opened afresh by the returned path, so each reads from the
    /// start) and `reduce` maps instead of copying: one copy for all of
    /// them, which no one can change. The file lives as long as the handle
    /// returned. Any error (no such files here, out of descriptors or
    /// memory) but a stop signal leaves the caller to write a plain file.
    pub fn share_polymer(units: &[u8], signals: &Signals) -> anyhow::Result<(File, PathBuf)> {
        let file = sealed::create(c"polymer").context("no sealed in-memory files")?;
        write_in_slices(&file, units, signals)
            .and_then(|()| Ok(sealed::seal(&file)?))
            .context("could not write the children's polymer in memory")?;
        let path = sealed::path_for_self(&file);
        // Each child's standard input is opened by this path.
        File::open(&path).with_context(|| format!("could not open {}", shown(&path)))?;
        Ok((file, path))
    }

    /// Publishes a validated result as `<letter>.txt` in the results folder
    /// (nothing without one), atomically, staged beside it.
    pub fn publish(&self, letter: UnitType, length: usize) -> anyhow::Result<()> {
        if let Some(results) = &self.results {
            files::write_atomically_at(
                &results.handle,
                &format!("{letter}.txt"),
                format!("{length}\n").as_bytes(),
                &result_path(&results.path, letter),
            )?;
        }
        Ok(())
    }
}

impl Drop for ResultsDir {
    fn drop(&mut self) {
        if let Ok(name) = std::ffi::CString::new(HOLDER_FILE) {
            // SAFETY: unlinkat with a descriptor we own and a
            // NUL-terminated name.
            unsafe { libc::unlinkat(self.handle.as_raw_fd(), name.as_ptr(), 0) };
        }
    }
}

impl Drop for Private {
    /// Removing a folder's contents takes a directory descriptor, which a
    /// process out of descriptors (a run can end for that very reason)
    /// cannot get: what needs none is done first, by path.
    fn drop(&mut self) {
        let dir = &self.path;
        let _ = std::fs::remove_file(dir.join("polymer.txt"));
        let _ = std::fs::remove_file(dir.join(LOCK_FILE));
        let _ = std::fs::remove_dir(dir);
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A private folder in the temporary folder `tmp`, locked for this run: it
/// is made and locked under a name no other run looks at, and renamed to
/// `orchestrate-*` only then, so a run that sees it can tell whether its
/// owner lives by its lock alone.
fn locked_private_folder(tmp: &Path) -> anyhow::Result<Private> {
    let context = || format!("could not create a temporary folder in {}", shown(tmp));
    let staging = tempfile::Builder::new()
        .prefix(".orchestrate-new-")
        .rand_bytes(6)
        .tempdir_in(tmp)
        .with_context(context)?
        .keep();
    // Removed by path if anything fails: that needs no descriptor (they
    // may be what ran out).
    let abandon = |err: std::io::Error| {
        let _ = std::fs::remove_file(staging.join(LOCK_FILE));
        let _ = std::fs::remove_dir(&staging);
        anyhow::Error::from(err).context(context())
    };
    let lock = File::create_new(staging.join(LOCK_FILE)).map_err(abandon)?;
    // SAFETY: flock on a descriptor we own, with integer arguments only.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(abandon(std::io::Error::last_os_error()));
    }
    let name = staging
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix(".orchestrate-new-"))
        .unwrap_or_default()
        .to_string();
    let path = tmp.join(format!("{TMP_PREFIX}{name}"));
    rename_new(&staging, &path).map_err(abandon)?;
    Ok(Private {
        path,
        _lock: Some(lock),
    })
}

/// Renames `from` to `to`, failing if `to` exists (even an empty folder
/// someone made under that name).
fn rename_new(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let from = std::ffi::CString::new(from.as_os_str().as_bytes())?;
    let to = std::ffi::CString::new(to.as_os_str().as_bytes())?;
    // SAFETY: renameat2 with NUL-terminated paths and integer arguments.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    match rc {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}

/// Whether `name` is one [`locked_private_folder`] makes:
/// `orchestrate-` and six letters or digits.
fn is_tmp_folder_name(name: &str) -> bool {
    name.strip_prefix(TMP_PREFIX)
        .is_some_and(|rest| rest.len() == 6 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Removes the private folders in the temporary folder `tmp` whose run is
/// gone (killed outright): ours (same owner), with a lock file whose lock
/// can be taken. A folder without a lock file (another program's, an older
/// version's) or whose lock is held is left alone.
fn remove_abandoned_temporary_folders(tmp: &Path) {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let is_ours = entry.file_name().to_str().is_some_and(is_tmp_folder_name)
            && entry
                .metadata()
                .is_ok_and(|m| m.is_dir() && std::os::unix::fs::MetadataExt::uid(&m) == me);
        if !is_ours {
            continue;
        }
        let Ok(lock) = File::options()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(entry.path().join(LOCK_FILE))
        else {
            continue;
        };
        // SAFETY: flock on a descriptor we own, with integer arguments only.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Writes `units` and a newline to `file`, a slice at a time, stopping at
/// a stop signal.
fn write_in_slices(mut file: &File, units: &[u8], signals: &Signals) -> anyhow::Result<()> {
    const SLICE: usize = 8 << 20;
    for slice in units.chunks(SLICE) {
        if let Some(signal) = signals.stop_signal() {
            return Err(Interrupted { signal }.into());
        }
        file.write_all(slice)?;
    }
    file.write_all(b"\n")?;
    Ok(())
}

/// The pid the results folder's holder file names (the run that locked
/// it, if that run still lives).
pub(super) fn holder_pid(dir: &Path) -> Option<u32> {
    let text = files::read_small(&dir.join(HOLDER_FILE), 16)?;
    String::from_utf8(text).ok()?.trim_end().parse().ok()
}

/// Locks the results folder for this run, or names the run that holds it.
fn lock(dir: &Path) -> anyhow::Result<ResultsDir> {
    let handle =
        File::open(dir).with_context(|| format!("could not open results folder {}", shown(dir)))?;
    // SAFETY: flock on a descriptor we own, with integer arguments only.
    if unsafe { libc::flock(handle.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        // Who holds it, for a run that finds it locked; removed when the
        // guard drops, on every path from here.
        let locked = ResultsDir {
            path: dir.to_path_buf(),
            handle,
        };
        files::write_atomically_at(
            &locked.handle,
            HOLDER_FILE,
            format!("{}\n", std::process::id()).as_bytes(),
            &dir.join(HOLDER_FILE),
        )?;
        return Ok(locked);
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

/// The pid in the name of a private folder this program makes:
/// `.orchestrate-<pid>-<six random letters or digits>`, exactly.
fn private_folder_pid(name: &str) -> Option<u32> {
    let (pid, random) = name.strip_prefix(PRIVATE_PREFIX)?.split_once('-')?;
    let random_ok = random.len() == 6 && random.bytes().all(|b| b.is_ascii_alphanumeric());
    random_ok.then(|| pid.parse().ok()).flatten()
}

/// Private folders in `dir`, with the pid of the run that made each.
fn private_folders(dir: &Path) -> Vec<(PathBuf, u32)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| entry.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|entry| {
            let pid = private_folder_pid(entry.file_name().to_str()?)?;
            Some((entry.path(), pid))
        })
        .collect()
}

/// Removes a folder this program made, unless the input is in it.
fn remove_own_folder(folder: &Path, input: Option<FileId>) -> anyhow::Result<()> {
    let holds_input = input.is_some_and(|input| {
        std::fs::read_dir(folder)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| entry.metadata().ok())
            .any(|meta| FileId::of(&meta) == input)
    });
    if holds_input {
        bail!(
            "the input is inside {}, a folder an earlier run of orchestrate made and this run \
             would remove; move the input or choose another --results-dir",
            shown(folder)
        );
    }
    let _ = std::fs::remove_dir_all(folder);
    Ok(())
}

/// Removes what runs killed outright left: with the lock held, no other run
/// is using a private folder here.
fn remove_abandoned_private_folders(dir: &Path, input: Option<FileId>) -> anyhow::Result<()> {
    for (path, _) in private_folders(dir) {
        remove_own_folder(&path, input)?;
    }
    Ok(())
}

pub(super) fn result_path(dir: &Path, letter: UnitType) -> PathBuf {
    dir.join(format!("{letter}.txt"))
}

/// Refuses a results folder where a result would land on the input itself
/// (by device and inode, so a link cannot hide it), or on a folder.
fn check_input(dir: &Path, input: Option<FileId>) -> anyhow::Result<()> {
    for letter in UnitType::all() {
        let path = result_path(dir, letter);
        let Ok(link) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if let (Some(input), Ok(target)) = (input, std::fs::metadata(&path))
            && FileId::of(&target) == input
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
fn cancel_recorded_arrays(dir: &Path) {
    use crate::supervise::queue::{Identity, Queue, Slurm};
    if let Ok(Some(Manifest {
        array: Some(array), ..
    })) = Manifest::read(dir)
    {
        let ours = Identity {
            name: array.name.clone(),
            dir: dir.join(&array.folder),
        };
        // Only tasks the queue lists as the array's (its name, and a
        // script in its folder): a record is a file anyone could have
        // written, so its ids are never named to scancel. A queue that does
        // not answer gets no cancel at all; the tasks then find their
        // folder gone.
        if let Some(tasks) = Slurm.queued(&ours) {
            let tasks: Vec<String> = tasks.into_iter().map(|t| t.id).collect();
            Slurm.cancel(&ours, &tasks, false);
        }
    }
}

/// Removes every `<letter>.txt`, the manifest and the job array folders
/// left by an earlier run, so that the folder ends up holding this run's
/// results only.
fn clear_results(dir: &Path, input: Option<FileId>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        // A file being published when its run was killed (the lock is
        // ours: no run is writing one now).
        if entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(".partial-"))
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            let _ = std::fs::remove_file(entry.path());
            continue;
        }
        let ours = entry.file_type().is_ok_and(|t| t.is_dir())
            && entry
                .file_name()
                .to_str()
                .is_some_and(crate::supervise::array::is_folder_name);
        if ours {
            remove_own_folder(&entry.path(), input)?;
        }
    }
    let paths = UnitType::all()
        .map(|letter| result_path(dir, letter))
        .chain([dir.join(manifest::FILE_NAME)]);
    for path in paths {
        match std::fs::remove_file(&path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                return Err(err)
                    .with_context(|| format!("could not remove the old result {}", shown(&path)));
            }
            _ => {}
        }
    }
    Ok(())
}
