//! Windows: no signals, process groups, `fork` or file descriptors, so this
//! part gives the layer's API the Windows way. What children start is
//! contained by a job object per attempt that the system kills when
//! orchestrate's handle to it closes, however orchestrate ends; a stop is
//! the job's termination; Ctrl+C, Ctrl+Break and a closed console arrive
//! as console events, which a thread of the system's runs; locks are
//! `LockFileEx`'s; a file's identity is its volume and file index; the
//! children's polymer is a private file that this process holds open so
//! that no one can write to it while they read it.
//!
//! Not here: the API this part provides (`sys`, which re-exports it), or
//! what the domain decides with it.

pub mod contain;
pub mod fs;
pub mod host;
pub mod lock;
pub mod memory;
pub mod process;
pub mod signals;
pub mod time;
pub mod user;

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, INVALID_HANDLE_VALUE};

/// A handle this process owns, closed when dropped.
#[derive(Debug)]
pub(in crate::sys) struct Owned(HANDLE);

// SAFETY: a Windows handle may be used and closed from any thread.
unsafe impl Send for Owned {}
// SAFETY: the calls made through `&Owned` are thread-safe system calls.
unsafe impl Sync for Owned {}

impl Owned {
    /// Takes ownership of `handle`, as a system call returned it; `None`
    /// for the values that say the call failed.
    pub(in crate::sys) fn new(handle: HANDLE) -> Option<Owned> {
        (!handle.is_null() && handle != INVALID_HANDLE_VALUE).then_some(Owned(handle))
    }

    pub(in crate::sys) fn raw(&self) -> HANDLE {
        self.0
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: the handle is ours (see `new`) and closed once, here.
        unsafe { CloseHandle(self.0) };
    }
}

/// A path as the system's calls take it: UTF-16, NUL-terminated.
pub(in crate::sys) fn wide(path: &std::path::Path) -> Vec<u16> {
    use std::os::windows::ffi::OsStrExt;
    path.as_os_str().encode_wide().chain(Some(0)).collect()
}

/// Splits a command prefix into words by Windows' own rules
/// (`CommandLineToArgvW`: the program's path is taken whole, quoted or
/// not, backslashes and all; the arguments after it follow the C
/// runtime's rules for quotes and backslashes).
pub fn split_command_line(line: &str) -> Result<Vec<std::ffi::OsString>, String> {
    use std::os::windows::ffi::OsStringExt;
    use windows_sys::Win32::Foundation::LocalFree;
    use windows_sys::Win32::UI::Shell::CommandLineToArgvW;
    if line.contains('\0') {
        return Err("a NUL character".to_string());
    }
    // An empty line would be read as this program's own path.
    let line = line.trim_start_matches([' ', '\t']);
    if line.is_empty() {
        return Ok(Vec::new());
    }
    let wide: Vec<u16> = line.encode_utf16().chain(Some(0)).collect();
    let mut count = 0;
    // SAFETY: a NUL-terminated UTF-16 string we own; the call returns an
    // array of `count` NUL-terminated strings in one block (or null),
    // which is freed with LocalFree below and not used after.
    let words = unsafe {
        let argv = CommandLineToArgvW(wide.as_ptr(), &mut count);
        if argv.is_null() {
            return Err(std::io::Error::last_os_error().to_string());
        }
        let words = (0..usize::try_from(count).unwrap_or(0))
            .map(|i| {
                let word = *argv.add(i);
                let len = (0..).take_while(|&at| *word.add(at) != 0).count();
                std::ffi::OsString::from_wide(std::slice::from_raw_parts(word, len))
            })
            .collect();
        LocalFree(argv.cast());
        words
    };
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn case(line: &str, words: &[&str]) {
        let split = split_command_line(line).unwrap();
        assert_eq!(
            split,
            words
                .iter()
                .map(std::ffi::OsString::from)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_command_prefix_is_split_by_windows_rules() {
        case(
            r#""C:\Program Files\tool.exe" --flag"#,
            &[r"C:\Program Files\tool.exe", "--flag"],
        );
        case(
            r"C:\tools\run.exe -n 10",
            &[r"C:\tools\run.exe", "-n", "10"],
        );
        case(
            r#"run.exe "two words" a\b"#,
            &["run.exe", "two words", r"a\b"],
        );
        case(r#"run.exe \"quoted\""#, &["run.exe", r#""quoted""#]);
        case("  ", &[]);
    }
}
