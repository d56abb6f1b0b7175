//! Who holds a lock, from the kernel's table of locks (`/proc/locks`),
//! which is read without taking any lock.
//!
//! Not here: taking a lock (`unix::lock`), or what holding one means
//! (`orchestrator::status`).

use std::io;
use std::os::unix::fs::MetadataExt;

use crate::sys::unix::fs::FileId;

/// Who holds the lock of the folder `dir` (`unix::lock`'s
/// `try_lock_folder`), from the table of locks; an error where it cannot
/// be read.
pub fn folder_holder(dir: &std::path::Path) -> io::Result<crate::sys::lock::Holder> {
    use crate::sys::lock::Holder;
    Ok(match holder(FileId::at(dir)?)? {
        Some(pid) => Holder::Process(pid),
        None => Holder::Free,
    })
}

/// The process on this machine that holds an flock on `file`, if one does;
/// an error where the table of locks cannot be read. (The table lists only
/// the locks of processes this one can see: a holder in another PID
/// namespace, or on another machine sharing the file, is not found.)
pub fn holder(file: FileId) -> io::Result<Option<u32>> {
    let table = std::fs::read_to_string("/proc/locks")?;
    Ok(flock_holders(&table, file.inode).find_map(|(pid, device)| {
        // The table names the filesystem's device, which is not always the
        // one `stat` gives (a btrfs subvolume has one of its own): the
        // inode alone is then confirmed by the process having the file
        // open.
        (device == file.device || holds_open(pid, file)).then_some(pid)
    }))
}

/// The pids holding an flock on an inode numbered `ino`, each with the
/// device the table names, from a `/proc/locks` table (lines like
/// `1: FLOCK  ADVISORY  WRITE 1234 fe:00:5678 0 EOF`; waiters are marked
/// `->` and do not hold it).
fn flock_holders(table: &str, ino: u64) -> impl Iterator<Item = (u32, u64)> + '_ {
    table.lines().filter_map(move |line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_, "FLOCK", _, _, pid, file, ..] = fields.as_slice() else {
            return None;
        };
        let mut parts = file.split(':');
        let major = u32::from_str_radix(parts.next()?, 16).ok()?;
        let minor = u32::from_str_radix(parts.next()?, 16).ok()?;
        let inode: u64 = parts.next()?.parse().ok()?;
        (inode == ino).then_some((pid.parse().ok()?, libc::makedev(major, minor)))
    })
}

/// Whether process `pid` has `file` open.
fn holds_open(pid: u32, file: FileId) -> bool {
    let Ok(open) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    open.flatten().any(|fd| {
        // The descriptor's link leads to the open file itself.
        std::fs::metadata(fd.path()).is_ok_and(|m| m.dev() == file.device && m.ino() == file.inode)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flock_holders_are_found_by_inode_and_waiters_do_not_count() {
        let table = "\
1: POSIX  ADVISORY  WRITE 11 fe:01:77 0 EOF
2: FLOCK  ADVISORY  WRITE 22 fe:01:770 0 EOF
2: -> FLOCK  ADVISORY  WRITE 33 fe:01:77 0 EOF
3: FLOCK  ADVISORY  WRITE 44 fe:01:77 0 EOF
4: OFDLCK ADVISORY  WRITE -1 fe:01:77 0 EOF
5: FLOCK  ADVISORY  WRITE 55 00:2f:77 0 EOF
";
        let holders: Vec<(u32, u64)> = flock_holders(table, 77).collect();
        assert_eq!(
            holders,
            [(44, libc::makedev(0xfe, 1)), (55, libc::makedev(0, 0x2f))]
        );
        assert_eq!(
            flock_holders(table, 770).collect::<Vec<_>>(),
            [(22, libc::makedev(0xfe, 1))]
        );
        assert_eq!(flock_holders(table, 7).count(), 0);
    }

    #[test]
    fn a_holder_on_another_device_number_counts_only_if_it_has_the_folder_open() {
        let dir = tempfile::tempdir().unwrap();
        let file = FileId::at(dir.path()).unwrap();
        assert!(!holds_open(std::process::id(), file));
        let _open = std::fs::File::open(dir.path()).unwrap();
        assert!(holds_open(std::process::id(), file));
        let other = FileId {
            inode: file.inode + 1,
            ..file
        };
        assert!(!holds_open(std::process::id(), other));
    }
}
