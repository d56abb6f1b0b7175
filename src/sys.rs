//! The platform layer: system calls the layers above need and the standard
//! library does not offer, each behind a safe function.
//!
//! For now it holds what runs where nothing may allocate or take a lock (a
//! process forked from a multithreaded one, before or instead of an exec):
//! removing a folder tree with system calls and stack buffers only.
//!
//! Not here: what is removed or why (`supervise::contain`, `orchestrator`).

use std::ffi::CStr;

/// How deep [`remove_tree`] goes: a run's folders are two levels deep.
const DEEPEST: usize = 8;

/// Removes the folder `path` and everything in it, never following a
/// symlink (a link is removed, not what it leads to), using system calls
/// and stack buffers only: async-signal-safe, so it may run in a process
/// forked from a multithreaded one. What cannot be removed is left.
pub fn remove_tree(path: &CStr) {
    remove_in(libc::AT_FDCWD, path, 0);
}

/// Removes `name` in the folder open as `dir` (a file, a link, or a folder
/// and what is in it).
fn remove_in(dir: libc::c_int, name: &CStr, depth: usize) {
    // SAFETY: unlinkat with a NUL-terminated name; a failure changes
    // nothing.
    if unsafe { libc::unlinkat(dir, name.as_ptr(), 0) } == 0 {
        return;
    }
    if depth >= DEEPEST {
        return;
    }
    // SAFETY: openat with a NUL-terminated name; O_NOFOLLOW keeps a link
    // swapped in for the folder from being followed.
    let fd = unsafe {
        libc::openat(
            dir,
            name.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return;
    }
    empty(fd, depth);
    // SAFETY: close of a descriptor we opened; unlinkat with a
    // NUL-terminated name.
    unsafe {
        libc::close(fd);
        libc::unlinkat(dir, name.as_ptr(), libc::AT_REMOVEDIR);
    }
}

/// Removes everything in the folder open as `fd`.
fn empty(fd: libc::c_int, depth: usize) {
    // Entries are 8-byte aligned records: a u64 buffer keeps them so.
    let mut buffer = [0u64; 512];
    let bytes = std::mem::size_of_val(&buffer);
    // At most a bounded number of rounds: each removes what it lists.
    for _ in 0..1024 {
        // SAFETY: lseek with integer arguments only; getdents64 writes at
        // most `bytes` bytes into `buffer`, which we own.
        let read = unsafe {
            libc::lseek(fd, 0, libc::SEEK_SET);
            libc::syscall(libc::SYS_getdents64, fd, buffer.as_mut_ptr(), bytes)
        };
        if read <= 0 {
            return;
        }
        let listed = &buffer[..];
        // SAFETY: the kernel wrote `read` bytes of records into `buffer`.
        let listed =
            unsafe { std::slice::from_raw_parts(listed.as_ptr().cast::<u8>(), read as usize) };
        let mut removed_any = false;
        let mut at = 0;
        // Each record: inode (8), offset (8), length (2), type (1), name.
        while at + 19 < listed.len() {
            let length = usize::from(u16::from_ne_bytes([listed[at + 16], listed[at + 17]]));
            if length == 0 || at + length > listed.len() {
                return;
            }
            let record = &listed[at + 19..at + length];
            at += length;
            let Ok(name) = CStr::from_bytes_until_nul(record) else {
                continue;
            };
            if name == c"." || name == c".." {
                continue;
            }
            remove_in(fd, name, depth + 1);
            removed_any = true;
        }
        if !removed_any {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_goes_whole_and_a_link_in_it_takes_nothing_with_it() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("kept.txt"), "kept").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        std::fs::create_dir_all(tree.join("a/b/c")).unwrap();
        for i in 0..300 {
            std::fs::write(
                tree.join(format!("a/file-{i:03}-with-a-long-name.txt")),
                "x",
            )
            .unwrap();
        }
        std::fs::write(tree.join("a/b/c/deep.txt"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path(), tree.join("a/link")).unwrap();
        let path = std::ffi::CString::new(tree.as_os_str().as_encoded_bytes()).unwrap();
        remove_tree(&path);
        assert!(!tree.exists());
        assert!(outside.path().join("kept.txt").exists());
    }

    #[test]
    fn a_missing_folder_or_a_plain_file_is_no_error() {
        let dir = tempfile::tempdir().unwrap();
        remove_tree(
            &std::ffi::CString::new(
                dir.path()
                    .join("missing")
                    .into_os_string()
                    .into_encoded_bytes(),
            )
            .unwrap(),
        );
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        remove_tree(
            &std::ffi::CString::new(file.clone().into_os_string().into_encoded_bytes()).unwrap(),
        );
        assert!(!file.exists());
    }
}
