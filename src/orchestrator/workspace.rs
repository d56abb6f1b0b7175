//! Where a process-mode run keeps its files.
//!
//! Every run has a *private folder*: the children's snapshot of the polymer
//! and one result path per attempt live there, so no other run and no
//! sibling child can write a file this run believes, and the user's input
//! is never re-opened by a child. It is removed when the run ends, however
//! it ends: by the run, or, after a SIGKILL, by what outlives the run for a
//! moment (the init of the children's PID namespace, see
//! `sys::contain`). A folder left all the same (a machine that went
//! down) is removed by a later run, but only once it is provably
//! abandoned: each folder a run makes carries a marker the run keeps
//! locked while it lives, and only a folder whose marker says its run is
//! gone is ever removed (see `marker`). A name that merely looks like ours
//! is never touched.
//!
//! With `--results-dir`, the folder is locked for the run (a second run
//! there refuses, naming the first), and validated results are *published*
//! there as `<letter>.txt` by the orchestrator alone, through the folder's
//! descriptor (a folder renamed or replaced by a symlink during the run is
//! still the one written), staged in a marked folder of the run's own
//! inside it, under a record that says what they are results of. When
//! children run on other machines, that folder is also the private one
//! (they share it). At the start, the results and record of an earlier run
//! are removed, so at the end the folder holds this run's results only;
//! result names without a record, or that are not regular files, are not
//! ours and make the run refuse. With `--resume`, those of the same input
//! and program are kept and reused instead. A run refuses to start when a
//! result would land on its own input, or when a folder it would remove
//! holds the input at any depth.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::Interrupted;
use super::record::{self, Record};
use super::{janitor, marker};
use crate::files::{self, shown};
use crate::input::FileId;
use crate::polymer::UnitType;
use crate::signals::Signals;
use crate::supervise::array;
use crate::supervise::queue::Queue;
use crate::sys::{self, sealed};

/// The prefix of private folders inside a results folder.
const PRIVATE_PREFIX: &str = ".orchestrate-";

/// What a results folder kept from an earlier run of the same input and
/// program.
#[derive(Debug, Default)]
pub struct Kept {
    /// Each letter asked for whose result is there and valid.
    pub results: Vec<(UnitType, usize)>,
    /// The earlier run's record.
    pub recorded: Option<Record>,
}

/// The prefix of private folders in the temporary folder.
const TMP_PREFIX: &str = "orchestrate-";

/// The file in a results folder that names the run holding its lock.
const HOLDER_FILE: &str = ".orchestrate.pid";

/// The prefix of a private folder while it is being made (and marked).
const NEW_PREFIX: &str = ".orchestrate-new-";

/// A run's folders: the private one, and the results folder if any.
#[derive(Debug)]
pub struct Workspace {
    private: Private,
    results: Option<HeldResults>,
}

/// A folder of the run's own, removed when dropped, with its marker, whose
/// lock says the run lives.
#[derive(Debug)]
struct Private {
    path: PathBuf,
    _marker: File,
}

/// The results folder as this run holds it: locked, with a staging
/// folder of its own inside.
#[derive(Debug)]
struct HeldResults {
    path: PathBuf,
    /// The folder, open: it holds the folder's lock (flock) for as long as
    /// the run lasts, and results are written through it, so a folder
    /// renamed or replaced under its path is still the one written.
    handle: File,
    /// Where what is published is staged: a marked folder of the run's own
    /// inside it (the private folder, when children run elsewhere).
    staging: File,
    /// That folder's name and marker, unless it is the workspace's private
    /// folder: removed through the descriptors when the run ends, so a
    /// results folder renamed or swapped meanwhile loses it all the same,
    /// and nothing is removed under the old name.
    own: Option<(std::ffi::CString, File)>,
}

impl Private {
    /// A private folder of this run's in the temporary folder, after
    /// removing those of runs that are gone.
    fn in_tmp(input: Option<FileId>) -> anyhow::Result<Private> {
        let tmp = std::env::temp_dir();
        remove_abandoned(&tmp, TMP_PREFIX, input, false)?;
        let (path, marker) = marked_folder(&tmp, TMP_PREFIX)?;
        Ok(Private {
            path,
            _marker: marker,
        })
    }
}

impl HeldResults {
    /// Makes `dir` this run's: created, locked, rid of what runs that are
    /// gone left, checked against the input, cleared of an earlier run's
    /// results unless resuming; with a marked folder of this run's inside
    /// (its staging folder, and where children elsewhere get their files),
    /// returned with its path.
    fn prepare(
        dir: &Path,
        input: Option<FileId>,
        resume: bool,
        queue: &mut dyn Queue,
    ) -> anyhow::Result<(HeldResults, PathBuf)> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create results folder {}", shown(dir)))?;
        let path = std::path::absolute(dir)
            .with_context(|| format!("could not resolve {}", shown(dir)))?;
        let handle = lock(&path)?;
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
        };
        Ok((results, own))
    }
}

impl Workspace {
    /// A workspace with a private folder in the temporary folder, or, for
    /// children on other machines (`children_here` false), inside
    /// `results_dir`, which is then prepared for this run (a run that does
    /// not resume first has `queue` cancel the job arrays an earlier run
    /// recorded there). `input` is the input's file, which no result may
    /// replace.
    pub fn create(
        results_dir: Option<&Path>,
        input: Option<FileId>,
        resume: bool,
        children_here: bool,
        queue: &mut dyn Queue,
    ) -> anyhow::Result<Workspace> {
        let Some(dir) = results_dir else {
            return Ok(Workspace {
                private: Private::in_tmp(input)?,
                results: None,
            });
        };
        let (mut results, own) = HeldResults::prepare(dir, input, resume, queue)?;
        // Children on this machine need no shared folder: theirs stays out
        // of the results folder, which is then only ever written through
        // its descriptor.
        let private = match (children_here, results.own.take()) {
            (false, Some((_, marker))) => Private {
                path: own,
                _marker: marker,
            },
            (_, kept) => {
                results.own = kept;
                Private::in_tmp(input)?
            }
        };
        // Who holds the lock, for a run that finds it locked; removed when
        // the results folder's guard drops.
        files::write_atomically_at(
            &results.staging,
            &results.handle,
            HOLDER_FILE,
            format!("{}\n", std::process::id()).as_bytes(),
            &results.path.join(HOLDER_FILE),
        )?;
        Ok(Workspace {
            private,
            results: Some(results),
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
    /// for the letters in `letters`, and that run's record. A result file
    /// that is not valid (malformed, not a regular file, longer than the
    /// input) is removed, and its letter runs again. Fails when the folder
    /// holds results of another input or program, or results without a
    /// record.
    pub fn kept(&self, record: &Record, letters: &[UnitType]) -> anyhow::Result<Kept> {
        let Some(dir) = self.results_dir() else {
            return Ok(Kept::default());
        };
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
        let mut cached = Vec::new();
        for &letter in letters {
            let path = result_path(dir, letter);
            match crate::protocol::read_result(&path, record.input_length) {
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
    pub fn record(&self, record: &Record) -> anyhow::Result<()> {
        match &self.results {
            Some(results) => record.write(&results.staging, &results.handle, &results.path),
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
        let new_folder = folder.filter(|folder| folder.symlink_metadata().is_err());
        let folder = folder.unwrap_or(self.private());
        std::fs::create_dir_all(folder)
            .with_context(|| format!("could not create {}", shown(folder)))?;
        // A job array's folder outlives the run: marked as ours, so that a
        // later run may remove it.
        if let Some(folder) = new_folder {
            marker::mark(folder)
                .with_context(|| format!("could not mark {} as this run's", shown(folder)))?;
        }
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
    ///
    /// Something else put under the result's name during the run (a
    /// symlink, a FIFO, a folder) is not replaced: one line names it.
    pub fn publish(&self, letter: UnitType, length: usize) -> anyhow::Result<()> {
        if let Some(results) = &self.results {
            let name = format!("{letter}.txt");
            if let Some(what) = files::not_regular_at(&results.handle, &name) {
                bail!(
                    "{} is {what}, put there during the run; the result for letter {letter} \
                     was not published over it",
                    shown(&result_path(&results.path, letter))
                );
            }
            files::write_atomically_at(
                &results.staging,
                &results.handle,
                &name,
                format!("{length}\n").as_bytes(),
                &result_path(&results.path, letter),
            )?;
        }
        Ok(())
    }
}

/// A marked folder of the run's own in the temporary folder (abandoned
/// ones swept first), removed when dropped: for work that needs a place of
/// its own but no results folder (`--check-child`).
#[derive(Debug)]
pub struct TemporaryFolder(Private);

impl TemporaryFolder {
    pub fn create() -> anyhow::Result<TemporaryFolder> {
        let tmp = std::env::temp_dir();
        remove_abandoned(&tmp, TMP_PREFIX, None, false)?;
        let (path, marker) = marked_folder(&tmp, TMP_PREFIX)?;
        Ok(TemporaryFolder(Private {
            path,
            _marker: marker,
        }))
    }

    pub fn path(&self) -> &Path {
        &self.0.path
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
        if let Some((name, _marker)) = &self.own {
            // Only the marker is left in it: what was staged was renamed
            // into place, or removed when it failed.
            let _ = sys::fs::remove_at(&self.staging, &marker);
            let _ = sys::fs::remove_folder_at(&self.handle, name);
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
        let _ = std::fs::remove_file(dir.join(marker::MARKER));
        let _ = std::fs::remove_dir(dir);
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A marked folder in `parent` and its held marker, named `<prefix><six letters or
/// digits>`: it is made and marked under a name no other run looks at, and
/// renamed only then, so a run that sees it can tell whether its owner
/// lives by its marker alone.
fn marked_folder(parent: &Path, prefix: &str) -> anyhow::Result<(PathBuf, File)> {
    let context = || format!("could not create a temporary folder in {}", shown(parent));
    // Both names are told to the janitor before the folder exists: there
    // is no moment in which a SIGKILL would leave it behind.
    let (staging, path) = loop {
        let name = random_name();
        let (staging, path) = (
            parent.join(format!("{NEW_PREFIX}{name}")),
            parent.join(format!("{prefix}{name}")),
        );
        janitor::watch(&staging);
        janitor::watch(&path);
        match sys::fs::create_private_folder(&staging) {
            Ok(()) => break (staging, path),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err).with_context(context),
        }
    };
    // Removed by path if anything fails: that needs no descriptor (they
    // may be what ran out).
    let abandon = |err: std::io::Error| {
        let _ = std::fs::remove_file(staging.join(marker::MARKER));
        let _ = std::fs::remove_dir(&staging);
        anyhow::Error::from(err).context(context())
    };
    let held = marker::mark(&staging).map_err(abandon)?;
    sys::fs::rename_no_replace(&staging, &path).map_err(abandon)?;
    Ok((path, held))
}

/// Six random letters and digits, for a folder's name.
fn random_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (0..6)
        .map(|_| {
            let letter = ALPHABET[(bits % ALPHABET.len() as u64) as usize];
            bits /= ALPHABET.len() as u64;
            char::from(letter)
        })
        .collect()
}

/// Opens a folder of the run's own, for writing through.
fn open_folder(path: &Path) -> anyhow::Result<File> {
    sys::fs::open_folder_nofollow(path).with_context(|| format!("could not open {}", shown(path)))
}

/// Removes the folders in `parent` whose names start with `prefix` (or
/// are being made, [`NEW_PREFIX`]) that [`marker::judge`] calls abandoned:
/// ours, and their run gone. One that holds the input, at any depth, is
/// left where it is; with `refuse`, that is an error naming it.
fn remove_abandoned(
    parent: &Path,
    prefix: &str,
    input: Option<FileId>,
    refuse: bool,
) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let named = name
            .to_str()
            .is_some_and(|n| n.starts_with(prefix) || n.starts_with(NEW_PREFIX));
        if !named || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = entry.path();
        // The verdict holds the marker's lock while the folder goes.
        if let marker::Verdict::Abandoned(_held) = marker::judge(&path) {
            remove_own_folder(&path, input, refuse)?;
        }
    }
    Ok(())
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
fn lock(dir: &Path) -> anyhow::Result<File> {
    let handle = sys::fs::open_folder(dir)
        .with_context(|| format!("could not open results folder {}", shown(dir)))?;
    if sys::lock::try_lock(&handle).is_ok() {
        return Ok(handle);
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

/// Removes a folder this program made, unless the input is in it, at any
/// depth (compared by device and inode while walking it, links not
/// followed); then, with `refuse`, an error names it.
fn remove_own_folder(folder: &Path, input: Option<FileId>, refuse: bool) -> anyhow::Result<()> {
    if input.is_some_and(|input| holds(folder, input, 0)) {
        if !refuse {
            return Ok(());
        }
        bail!(
            "the input is inside {}, a folder an earlier run of orchestrate made and this run \
             would remove; move the input or choose another --results-dir",
            shown(folder)
        );
    }
    let _ = std::fs::remove_dir_all(folder);
    Ok(())
}

/// Whether the file `input` is `folder` or anything in it, at any depth
/// (symlinks are not followed: removing a link leaves what it leads to).
/// A folder too deep to walk counts as holding it.
fn holds(folder: &Path, input: FileId, depth: usize) -> bool {
    const DEEPEST: usize = 64;
    if depth > DEEPEST {
        return true;
    }
    let Ok(entries) = std::fs::read_dir(folder) else {
        return false;
    };
    entries.flatten().any(|entry| {
        let Ok(meta) = entry.metadata() else {
            return false;
        };
        FileId::of(&meta) == input || (meta.is_dir() && holds(&entry.path(), input, depth + 1))
    })
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
