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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use anyhow::Context;

mod folders;
mod results;

pub use folders::TemporaryFolder;
pub(super) use results::{Kept, holder_pid, result_path};

use folders::Private;
use results::HeldResults;

use super::Interrupted;
use super::marker;
use super::record::Record;
use crate::files::shown;
use crate::input::FileId;
use crate::polymer::UnitType;
use crate::signals::Signals;
use crate::supervise::queue::Queue;
use crate::sys::sealed;

/// A run's folders: the private one, and the results folder if any.
#[derive(Debug)]
pub struct Workspace {
    private: Private,
    results: Option<HeldResults>,
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
                marker: Some(marker),
            },
            (_, kept) => {
                results.own = kept;
                Private::in_tmp(input)?
            }
        };
        results.name_holder()?;
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

    /// Where files that must outlive the run go (a job array's folder):
    /// the results folder, which a job array always has; the private
    /// folder without one.
    pub fn lasting(&self) -> &Path {
        self.results_dir().unwrap_or(self.private())
    }

    /// The results kept from an earlier run of the same input and program
    /// (`--resume`), for the letters in `letters`, and that run's record
    /// (nothing without a results folder).
    pub fn kept(&self, record: &Record, letters: &[UnitType]) -> anyhow::Result<Kept> {
        match &self.results {
            Some(results) => results.kept(record, letters),
            None => Ok(Kept::default()),
        }
    }

    /// Removes a job array's folder once nothing is left to collect from it.
    pub fn remove_array_folder(&self, folder: &str) {
        if let Some(results) = &self.results {
            results.remove_array_folder(folder);
        }
    }

    /// Records what the results folder's results are of, before any is
    /// published there.
    pub fn record(&self, record: &Record) -> anyhow::Result<()> {
        match &self.results {
            Some(results) => results.record(record),
            None => Ok(()),
        }
    }

    /// Publishes a validated result in the results folder (nothing without
    /// one).
    pub fn publish(&self, letter: UnitType, length: usize) -> anyhow::Result<()> {
        match &self.results {
            Some(results) => results.publish(letter, length),
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
        let path = folder.join(crate::protocol::POLYMER_FILE);
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
        Self::opened_for_children(file)
    }

    /// Ends `file`, into which the reacted `units` were written while they
    /// were read ([`SharedCopy`]), as [`share_polymer`](Workspace::share_polymer)
    /// would have: cut to them (what lies past them was cancelled), a
    /// newline after, sealed.
    pub fn seal_shared(file: File, units: &[u8]) -> anyhow::Result<(File, PathBuf)> {
        file.set_len(units.len() as u64)
            .and_then(|()| sealed::write_at(&file, units.len(), b"\n"))
            .and_then(|()| sealed::seal(&file))
            .context("could not write the children's polymer in memory")?;
        #[cfg(debug_assertions)]
        if let Ok(written) = std::fs::read(sealed::path_for_self(&file)) {
            debug_assert!(
                written.strip_suffix(b"\n") == Some(units),
                "the children's polymer is the reacted polymer"
            );
        }
        Self::opened_for_children(file)
    }

    /// `file` (sealed) and the path each child's standard input is opened
    /// by, checked to open.
    fn opened_for_children(file: File) -> anyhow::Result<(File, PathBuf)> {
        let path = sealed::path_for_self(&file);
        File::open(&path).with_context(|| format!("could not open {}", shown(&path)))?;
        Ok((file, path))
    }
}

/// The children's copy of the reacted polymer, written while the input is
/// read and reacted ([`crate::polymer::stream::Mirror`]), each stretch at
/// its offset as it is joined: [`Workspace::share_polymer`] in two steps,
/// so that the copying is done on the thread that joins, while the others
/// react, instead of on one thread once all is reacted.
pub struct SharedCopy {
    file: File,
    /// The file's size: the furthest a stretch reached since the last cut.
    size: AtomicUsize,
    failed: AtomicBool,
}

impl SharedCopy {
    /// A copy is cut where the polymer cancelled back this far from its
    /// size, so that it never holds much more than the polymer does.
    const CUT_FROM: usize = 1 << 20;

    /// A new, empty copy in an in-memory file; `None` where there are none.
    pub fn new() -> Option<SharedCopy> {
        Some(SharedCopy {
            file: sealed::create(c"polymer").ok()?,
            size: AtomicUsize::new(0),
            failed: AtomicBool::new(false),
        })
    }

    /// Writes `stretch` at `offset`, the polymer now ending with it. A
    /// write that fails is remembered, and the copy given up on (see
    /// [`finish`](SharedCopy::finish)).
    pub fn write(&self, offset: usize, stretch: &[u8]) {
        if self.failed.load(Ordering::Relaxed) {
            return;
        }
        let end = offset + stretch.len();
        let size = self.size.load(Ordering::Relaxed);
        let cut = size >= end + Self::CUT_FROM;
        let written = sealed::write_at(&self.file, offset, stretch).and_then(|()| {
            if cut {
                self.file.set_len(end as u64)?;
            }
            Ok(())
        });
        match written {
            Ok(()) => self
                .size
                .store(if cut { end } else { size.max(end) }, Ordering::Relaxed),
            Err(_) => self.failed.store(true, Ordering::Relaxed),
        }
    }

    /// The file, to seal ([`Workspace::seal_shared`]) with the reacted
    /// polymer it holds; `None` when a write failed.
    pub fn finish(self) -> Option<File> {
        (!self.failed.into_inner()).then_some(self.file)
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn size(copy: &SharedCopy) -> u64 {
        copy.file.metadata().unwrap().len()
    }

    #[test]
    fn a_copy_written_stretch_by_stretch_is_cut_where_the_polymer_cancelled_far_back() {
        let copy = SharedCopy::new().unwrap();
        let mib = 1 << 20;
        copy.write(0, &vec![b'a'; 3 * mib]);
        // A few units cancelled: what lies past the end is left, stale.
        copy.write(3 * mib - 10, b"b");
        assert_eq!(size(&copy), 3 * mib as u64);
        // Cancelled back two MiB: the copy ends with the polymer.
        copy.write(mib, b"cd");
        assert_eq!(size(&copy), mib as u64 + 2);
        copy.write(mib + 1, b"e");
        let file = copy.finish().expect("every write went through");
        let (file, path) =
            Workspace::seal_shared(file, &[&vec![b'a'; mib][..], b"ce"].concat()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), mib + 3);
        assert!(bytes.ends_with(b"ace\n"));
        drop(file);
    }
}
