//! The host's name, as the system knows it.
//!
//! Not here: what makes a name acceptable in a file or a report
//! (`protocol`, `orchestrator::marker`), or the boot (`linux::host`).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

/// This host's name, as `gethostname` gives it (possibly empty); `None`
/// when the system does not say.
pub fn name() -> Option<OsString> {
    let mut buffer = [0u8; 256];
    // SAFETY: gethostname writes at most `buffer.len()` bytes into the
    // buffer we own.
    let rc = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if rc != 0 {
        return None;
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    Some(OsString::from_vec(buffer[..end].to_vec()))
}
