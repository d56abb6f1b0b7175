//! The folders a run makes for itself: the private folder (in the
//! temporary folder, or inside the results folder for children elsewhere)
//! and a temporary folder for `--check-child`, each made under a name no
//! other run looks at, marked, and removed when dropped; and the clean-up of
//! those that runs that are gone left behind, which removes only what a
//! marker proves abandoned and never a folder holding the input.
//!
//! Not here: the results folder's lock, record and results (`results`).

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::super::{janitor, marker};
use crate::files::shown;
use crate::input::FileId;
use crate::sys;

/// The prefix of private folders inside a results folder.
pub(super) const PRIVATE_PREFIX: &str = ".orchestrate-";

/// The prefix of private folders in the temporary folder.
pub(super) const TMP_PREFIX: &str = "orchestrate-";

/// The prefix of a private folder while it is being made (and marked).
const NEW_PREFIX: &str = ".orchestrate-new-";

/// A folder of the run's own, removed when dropped, with its marker, whose
/// lock says the run lives.
#[derive(Debug)]
pub(super) struct Private {
    pub(super) path: PathBuf,
    /// The marker, held (and so locked) until the folder is removed.
    pub(super) marker: Option<File>,
}

impl Private {
    /// A private folder of this run's in the temporary folder, after
    /// removing those of runs that are gone.
    pub(super) fn in_tmp(input: Option<FileId>) -> anyhow::Result<Private> {
        let tmp = std::env::temp_dir();
        remove_abandoned(&tmp, TMP_PREFIX, input, false)?;
        let (path, marker) = marked_folder(&tmp, TMP_PREFIX)?;
        Ok(Private {
            path,
            marker: Some(marker),
        })
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
            marker: Some(marker),
        }))
    }

    pub fn path(&self) -> &Path {
        &self.0.path
    }
}

impl Drop for Private {
    /// Removing a folder's contents takes a directory descriptor, which a
    /// process out of descriptors (a run can end for that very reason)
    /// cannot get: what needs none is done first, by path.
    fn drop(&mut self) {
        let dir = &self.path;
        // Closed first: on Windows a removed file that is still open keeps
        // its folder from being removed.
        self.marker.take();
        let _ = std::fs::remove_file(dir.join(crate::protocol::POLYMER_FILE));
        let _ = std::fs::remove_file(dir.join(marker::MARKER));
        let _ = std::fs::remove_dir(dir);
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// A marked folder in `parent` and its held marker, named `<prefix><six letters or
/// digits>`: it is made and marked under a name no other run looks at, and
/// renamed only then, so a run that sees it can tell whether its owner
/// lives by its marker alone.
pub(super) fn marked_folder(parent: &Path, prefix: &str) -> anyhow::Result<(PathBuf, File)> {
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
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut bits = crate::files::random_token();
    (0..6)
        .map(|_| {
            let letter = ALPHABET[(bits % ALPHABET.len() as u64) as usize];
            bits /= ALPHABET.len() as u64;
            char::from(letter)
        })
        .collect()
}

/// Opens a folder of the run's own, for writing through.
pub(super) fn open_folder(path: &Path) -> anyhow::Result<File> {
    sys::fs::open_folder_nofollow(path).with_context(|| format!("could not open {}", shown(path)))
}

/// Removes the folders in `parent` whose names start with `prefix` (or
/// are being made, [`NEW_PREFIX`]) that [`marker::judge`] calls abandoned:
/// ours, and their run gone. One that holds the input, at any depth, is
/// left where it is; with `refuse`, that is an error naming it.
pub(super) fn remove_abandoned(
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
        if let marker::Verdict::Abandoned(held) = marker::judge(&path) {
            // Where a removed file that is still open keeps its folder
            // (Windows), the marker is let go and the folder tried again.
            if remove_own_folder(&path, input, refuse)? && path.symlink_metadata().is_ok() {
                drop(held);
                let _ = std::fs::remove_dir_all(&path);
            }
        }
    }
    Ok(())
}

/// The pid in the name of a private folder this program makes:
/// `.orchestrate-<pid>-<six random letters or digits>`, exactly.
fn private_folder_pid(name: &str) -> Option<u32> {
    let (pid, random) = name.strip_prefix(PRIVATE_PREFIX)?.split_once('-')?;
    let random_ok = random.len() == 6 && random.bytes().all(|b| b.is_ascii_alphanumeric());
    random_ok.then(|| pid.parse().ok()).flatten()
}

/// Private folders in `dir`, with the pid of the run that made each.
pub(super) fn private_folders(dir: &Path) -> Vec<(PathBuf, u32)> {
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
/// followed); then, with `refuse`, an error names it. Whether the folder's
/// removal was tried (not when it was spared).
pub(super) fn remove_own_folder(
    folder: &Path,
    input: Option<FileId>,
    refuse: bool,
) -> anyhow::Result<bool> {
    if input.is_some_and(|input| holds(folder, input, 0)) {
        if !refuse {
            return Ok(false);
        }
        bail!(
            "the input is inside {}, a folder an earlier run of orchestrate made and this run \
             would remove; move the input or choose another --results-dir",
            shown(folder)
        );
    }
    let _ = std::fs::remove_dir_all(folder);
    Ok(true)
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
        FileId::at_nofollow(&entry.path()).is_ok_and(|id| id == input)
            || (meta.is_dir() && holds(&entry.path(), input, depth + 1))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marked_folder_bears_its_prefix_and_a_marker_its_run_holds() {
        let parent = tempfile::tempdir().unwrap();
        let (path, held) = marked_folder(parent.path(), "run-").unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let random = name.strip_prefix("run-").unwrap();
        assert_eq!(random.len(), 6, "{name}");
        assert!(random.bytes().all(|b| b.is_ascii_alphanumeric()), "{name}");
        assert!(matches!(marker::judge(&path), marker::Verdict::Live));
        drop(held);
        assert!(matches!(
            marker::judge(&path),
            marker::Verdict::Abandoned(_)
        ));
    }

    #[test]
    fn the_clean_up_removes_only_what_a_marker_proves_abandoned() {
        let parent = tempfile::tempdir().unwrap();
        let (live, _held) = marked_folder(parent.path(), "run-").unwrap();
        let (abandoned, held) = marked_folder(parent.path(), "run-").unwrap();
        drop(held);
        // Named like ours, with no marker: someone else's.
        let lookalike = parent.path().join("run-abcdef");
        std::fs::create_dir(&lookalike).unwrap();
        // Ours and abandoned, under another prefix: not this clean-up's.
        let (other, held) = marked_folder(parent.path(), "else-").unwrap();
        drop(held);
        remove_abandoned(parent.path(), "run-", None, false).unwrap();
        assert!(live.is_dir());
        assert!(!abandoned.exists());
        assert!(lookalike.is_dir());
        assert!(other.is_dir());
    }

    #[test]
    fn an_abandoned_folder_holding_the_input_is_spared_or_refused() {
        let parent = tempfile::tempdir().unwrap();
        let (abandoned, held) = marked_folder(parent.path(), "run-").unwrap();
        drop(held);
        let deep = abandoned.join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("input.txt"), "aA\n").unwrap();
        let input = FileId::at(&deep.join("input.txt")).unwrap();
        remove_abandoned(parent.path(), "run-", Some(input), false).unwrap();
        assert!(deep.join("input.txt").is_file(), "spared");
        let err = remove_abandoned(parent.path(), "run-", Some(input), true).unwrap_err();
        assert!(format!("{err:#}").contains("input"), "{err:#}");
        assert!(deep.join("input.txt").is_file(), "refused");
        remove_abandoned(parent.path(), "run-", None, false).unwrap();
        assert!(!abandoned.exists());
    }

    #[test]
    fn a_temporary_folder_goes_when_dropped() {
        let folder = TemporaryFolder::create().unwrap();
        let path = folder.path().to_path_buf();
        std::fs::write(path.join("case"), "x").unwrap();
        assert!(path.is_dir());
        drop(folder);
        assert!(!path.exists());
    }
}
