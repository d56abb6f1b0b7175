//! What marks a folder as this program's, and the one decision every
//! clean-up asks: is this folder ours, and is the run that made it gone?
//!
//! A run writes a *marker* into each folder it makes in a place others
//! share (the temporary folder, a results folder): a small file naming the
//! host and the boot it was made on and the run's pid, which the run keeps
//! locked (`flock`) for as long as it lives. A folder is removed by a later
//! run only when [`judge`] calls it [`Verdict::Abandoned`]: a real folder
//! (not a symlink) and a regular marker in it, both owned by this user,
//! whose run is provably gone: made on this host in an earlier boot, or
//! with a lock that can be taken. A name that merely looks like ours, a
//! marker that is a FIFO, a device or a symlink, or one owned by another
//! user, is never ours. Nothing here blocks: the marker is opened without
//! following links and without waiting on a FIFO.
//!
//! Not here: which folders a run makes, or when it cleans up (`workspace`).

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use crate::sys::{self, user::Owner};

/// The marker's file name.
pub const MARKER: &str = ".orchestrate-marker";

/// The marker's first line.
const MAGIC: &str = "orchestrate folder";

/// The longest marker there is.
const LONGEST: u64 = 4096;

/// What a marker says of the run that wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Mark {
    host: String,
    boot: String,
    pid: u32,
}

impl Mark {
    fn here() -> Mark {
        Mark {
            host: host(),
            boot: boot(),
            pid: std::process::id(),
        }
    }

    fn text(&self) -> String {
        format!(
            "{MAGIC}\nhost {}\nboot {}\npid {}\n",
            self.host, self.boot, self.pid
        )
    }

    fn parse(text: &str) -> Option<Mark> {
        let mut lines = text.lines();
        (lines.next()? == MAGIC).then_some(())?;
        let host = lines.next()?.strip_prefix("host ")?.to_string();
        let boot = lines.next()?.strip_prefix("boot ")?.to_string();
        let pid = lines.next()?.strip_prefix("pid ")?.parse().ok()?;
        lines.next().is_none().then_some(Mark { host, boot, pid })
    }
}

/// What [`judge`] found of a folder.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict<Held = File> {
    /// Not provably this program's, this user's: never touched.
    NotOurs,
    /// Ours, and its run may still be alive.
    Live,
    /// Ours, and its run is gone: it may be removed. The marker's lock is
    /// held, so no other run judges it at the same time.
    Abandoned(Held),
}

/// Writes the marker into `folder` (which this run just made) and locks
/// it; the lock lasts as long as the file returned is open. The file is
/// closed on exec, so children never hold it.
pub fn mark(folder: &Path) -> io::Result<File> {
    let mut file = sys::fs::create_private(&folder.join(MARKER))?;
    file.write_all(Mark::here().text().as_bytes())?;
    lock(&file)?;
    Ok(file)
}

/// Whether `folder` is ours and whether the run that made it is gone.
pub fn judge(folder: &Path) -> Verdict {
    let Some(me) = sys::user::me() else {
        return Verdict::NotOurs;
    };
    let is_ours = |meta: &std::fs::Metadata| Owner::of(meta) == me;
    match folder.symlink_metadata() {
        Ok(meta) if meta.is_dir() && is_ours(&meta) => {}
        _ => return Verdict::NotOurs,
    }
    let opened = sys::fs::open_unblocking_nofollow(&folder.join(MARKER));
    let Ok(file) = opened else {
        return Verdict::NotOurs;
    };
    let Ok(meta) = file.metadata() else {
        return Verdict::NotOurs;
    };
    if !meta.is_file() || !is_ours(&meta) || meta.len() > LONGEST {
        return Verdict::NotOurs;
    }
    let mut text = String::new();
    if (&file).take(LONGEST).read_to_string(&mut text).is_err() {
        return Verdict::NotOurs;
    }
    let Some(mark) = Mark::parse(&text) else {
        return Verdict::NotOurs;
    };
    decide(&mark, &Mark::here(), lock(&file).is_ok(), file)
}

/// The decision, apart from the file system: a marker made on this host
/// in another boot belongs to a run that is gone whatever its lock says;
/// otherwise a lock that could be taken says no live process holds it.
fn decide<F>(mark: &Mark, here: &Mark, locked: bool, file: F) -> Verdict<F> {
    let earlier_boot = mark.host == here.host && mark.boot != here.boot && here.boot != UNKNOWN;
    if earlier_boot || locked {
        Verdict::Abandoned(file)
    } else {
        Verdict::Live
    }
}

/// Takes the marker's lock without waiting.
fn lock(file: &File) -> io::Result<()> {
    sys::lock::try_lock(file)
}

/// What a boot is called when it cannot be told.
const UNKNOWN: &str = "unknown";

/// This boot's id, which changes at every boot.
fn boot() -> String {
    sys::host::boot_id()
        .filter(|id| !id.is_empty() && !id.contains(char::is_whitespace))
        .unwrap_or_else(|| UNKNOWN.to_string())
}

/// This host's name.
fn host() -> String {
    match sys::host::name() {
        Some(name) if !name.is_empty() => name
            .to_string_lossy()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect(),
        _ => UNKNOWN.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(host: &str, boot: &str) -> Mark {
        Mark {
            host: host.into(),
            boot: boot.into(),
            pid: 7,
        }
    }

    #[track_caller]
    fn case(made: Mark, here: Mark, locked: bool, abandoned: bool) {
        let verdict = decide(&made, &here, locked, ());
        assert_eq!(
            verdict == Verdict::Abandoned(()),
            abandoned,
            "{made:?} {here:?}"
        );
    }

    #[test]
    fn a_run_is_gone_when_its_lock_is_free_or_its_boot_is_over() {
        case(mark("n1", "b1"), mark("n1", "b1"), true, true);
        case(mark("n1", "b1"), mark("n1", "b1"), false, false);
        // Made before this boot: its lock cannot be held by anyone.
        case(mark("n1", "b0"), mark("n1", "b1"), false, true);
        // Another node sharing the folder: only its lock can tell.
        case(mark("n2", "b0"), mark("n1", "b1"), false, false);
        case(mark("n2", "b0"), mark("n1", "b1"), true, true);
        // A boot that cannot be told proves nothing.
        case(mark("n1", "b0"), mark("n1", UNKNOWN), false, false);
    }

    #[test]
    fn a_marker_round_trips_and_nothing_else_parses() {
        let here = Mark::here();
        assert_eq!(Mark::parse(&here.text()), Some(here.clone()));
        for text in [
            "",
            "notes\n",
            "orchestrate folder\nhost a\nboot b\n",
            "orchestrate folder\nhost a\nboot b\npid x\n",
            &format!("{}extra\n", here.text()),
        ] {
            assert_eq!(Mark::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn a_marked_folder_is_live_while_its_run_holds_the_marker_and_abandoned_after() {
        let dir = tempfile::tempdir().unwrap();
        let held = super::mark(dir.path()).unwrap();
        assert!(matches!(judge(dir.path()), Verdict::Live));
        drop(held);
        assert!(matches!(judge(dir.path()), Verdict::Abandoned(_)));
    }

    #[cfg(unix)]
    #[test]
    fn names_fifos_links_and_foreign_markers_are_never_ours() {
        let dir = tempfile::tempdir().unwrap();
        // No marker: a name is not enough.
        let plain = dir.path().join("orchestrate-abcdef");
        std::fs::create_dir(&plain).unwrap();
        assert!(matches!(judge(&plain), Verdict::NotOurs));
        // A marker that is not one.
        std::fs::write(plain.join(MARKER), "notes\n").unwrap();
        assert!(matches!(judge(&plain), Verdict::NotOurs));
        // A FIFO as the marker: refused without blocking.
        let fifo = dir.path().join("fifo");
        std::fs::create_dir(&fifo).unwrap();
        sys::fs::make_fifo(&fifo.join(MARKER));
        assert!(matches!(judge(&fifo), Verdict::NotOurs));
        // A symlink to a real marker, and a symlink to a marked folder.
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        drop(super::mark(&real).unwrap());
        let linked = dir.path().join("linked");
        std::fs::create_dir(&linked).unwrap();
        sys::fs::symlink(&real.join(MARKER), &linked.join(MARKER)).unwrap();
        assert!(matches!(judge(&linked), Verdict::NotOurs));
        let folder_link = dir.path().join("folder-link");
        sys::fs::symlink(&real, &folder_link).unwrap();
        assert!(matches!(judge(&folder_link), Verdict::NotOurs));
        assert!(matches!(judge(&real), Verdict::Abandoned(_)));
    }
}
