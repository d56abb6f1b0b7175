//! The machine's name; the boot it is in is not told here.
//!
//! Not here: what makes a name acceptable in a file or a report
//! (`protocol`, `orchestrator::marker`).

use std::ffi::OsString;
use std::os::windows::ffi::OsStringExt;

use windows_sys::Win32::System::SystemInformation::{ComputerNameDnsHostname, GetComputerNameExW};

/// This host's name (its DNS host name); `None` when the system does not
/// say.
pub fn name() -> Option<OsString> {
    let mut buffer = [0u16; 256];
    let mut len = buffer.len() as u32;
    // SAFETY: writes at most `len` UTF-16 units into the buffer we own and
    // sets `len` to the number written (without the NUL).
    let ok = unsafe { GetComputerNameExW(ComputerNameDnsHostname, buffer.as_mut_ptr(), &mut len) };
    if ok == 0 {
        return None;
    }
    Some(OsString::from_wide(
        &buffer[..(len as usize).min(buffer.len())],
    ))
}

/// `None`: Windows has no boot id that a process reads cheaply, so a
/// marker's run is judged gone by its lock alone.
pub fn boot_id() -> Option<String> {
    None
}
