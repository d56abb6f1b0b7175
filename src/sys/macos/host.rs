//! The boot this machine is in, which tells a file made before it from one
//! made since.
//!
//! Not here: the host's name (`unix::host`), or what a boot proves
//! (`orchestrator::marker`).

/// This boot's id (the `kern.bootsessionuuid` sysctl), which changes at
/// every boot; `None` where it cannot be read.
pub fn boot_id() -> Option<String> {
    let mut buffer = [0u8; 64];
    let mut len = buffer.len();
    // SAFETY: sysctlbyname with a NUL-terminated name writes at most `len`
    // bytes into the buffer we own and sets `len` to what it wrote.
    let rc = unsafe {
        libc::sysctlbyname(
            c"kern.bootsessionuuid".as_ptr(),
            buffer.as_mut_ptr().cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        return None;
    }
    let text = &buffer[..len.min(buffer.len())];
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let id = std::str::from_utf8(&text[..end]).ok()?.trim();
    (!id.is_empty()).then(|| id.to_string())
}
