//! Large buffers without a page fault per 4 KiB page.
//!
//! A fresh gigabyte of memory is 262,144 pages of 4 KiB, each taken by a
//! fault the first time it is touched; on a virtual machine that is about
//! half the time of a full reaction. Where transparent huge pages are
//! enabled only on request (`madvise`, the common default), asking for them
//! on a buffer makes it 512 times fewer faults of 2 MiB. The advice changes
//! no byte and is only advice: a kernel without huge pages ignores it.
//!
//! Not here: what goes into the buffers (`input`, `polymer`), or how the
//! advice is given (`sys::memory`).

use std::mem::MaybeUninit;

use crate::sys;

/// Buffers smaller than this are left to the allocator as they are.
pub const HUGE_FROM: usize = 4 << 20;

/// The size of a huge page on x86-64 and most arm64 kernels.
const HUGE_PAGE: usize = 2 << 20;

/// Asks for huge pages under the whole huge pages inside `region` (memory
/// this process owns, such as a `Vec`'s spare capacity); nothing for a
/// region under [`HUGE_FROM`].
pub fn advise_huge_pages(region: &mut [MaybeUninit<u8>]) {
    if region.len() < HUGE_FROM {
        return;
    }
    let start = region.as_mut_ptr() as usize;
    let first = start.next_multiple_of(HUGE_PAGE);
    let end = (start + region.len()) / HUGE_PAGE * HUGE_PAGE;
    if end <= first {
        return;
    }
    sys::memory::advise_huge_pages(&mut region[first - start..end - start]);
}

/// The error for memory that ran out: "out of memory " and what needed it.
pub fn exhausted(what: std::fmt::Arguments) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::OutOfMemory,
        format!("out of memory {what}"),
    )
}

/// An empty buffer with room for `capacity` bytes, on huge pages where it
/// is large enough; `None` when there is no memory for it.
pub fn buffer(capacity: usize) -> Option<Vec<u8>> {
    let mut buffer = Vec::new();
    reserve_exact(&mut buffer, capacity).ok()?;
    advise_huge_pages(buffer.spare_capacity_mut());
    Some(buffer)
}

thread_local! {
    /// Whether this thread is in a fallible allocation ([`reserve_exact`]),
    /// whose failure is the caller's to handle.
    static FALLIBLE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `buffer.try_reserve_exact(additional)`: the one way this crate asks for
/// memory it can do without. Under the [`Guarded`] allocator only such a
/// request may fail and return; any other ends the process.
pub fn reserve_exact<T>(
    buffer: &mut Vec<T>,
    additional: usize,
) -> Result<(), std::collections::TryReserveError> {
    FALLIBLE.with(|fallible| {
        let outer = fallible.replace(true);
        let reserved = buffer.try_reserve_exact(additional);
        fallible.set(outer);
        reserved
    })
}

/// The allocator of both binaries: the system's, except that running out
/// of memory ends the process with one line on stderr and exit status 1
/// instead of an abort with a backtrace. The buffers that can be large ask
/// for their memory with `try_reserve` and fail with an error naming what
/// needed it; this is the net under every other allocation (a thread's
/// bookkeeping, a small vector), which the standard library cannot make
/// fallible. Nothing is cleaned up on that path: what a run leaves in the
/// temporary folder is removed by what outlives it (`sys::contain`).
pub struct Guarded {
    program: &'static str,
}

impl Guarded {
    /// The allocator for `program`, which names it in the line it prints.
    pub const fn new(program: &'static str) -> Guarded {
        Guarded { program }
    }

    /// Null for a fallible request ([`reserve_exact`]); otherwise says what
    /// could not be allocated and ends the process. Allocates nothing: the
    /// line is built on the stack.
    #[cold]
    fn exhausted(&self, size: usize) -> *mut u8 {
        if FALLIBLE.with(std::cell::Cell::get) {
            return std::ptr::null_mut();
        }
        let mut line = [0u8; 160];
        let mut len = 0;
        let mut put = |bytes: &[u8]| {
            let n = bytes.len().min(line.len() - len);
            line[len..len + n].copy_from_slice(&bytes[..n]);
            len += n;
        };
        put(self.program.as_bytes());
        put(b": error: out of memory (could not allocate ");
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut left = size;
        loop {
            at -= 1;
            digits[at] = b'0' + (left % 10) as u8;
            left /= 10;
            if left == 0 {
                break;
            }
        }
        put(&digits[at..]);
        put(b" bytes)\n");
        // Nothing of the process's runs after: no destructor, no other
        // thread's code.
        sys::process::write_stderr(&line[..len]);
        sys::process::exit_now(1)
    }
}

// SAFETY: every call is passed to the system allocator unchanged, and its
// answer returned unchanged; a null answer is returned only to a fallible
// request, and otherwise ends the process, which no caller can observe.
unsafe impl std::alloc::GlobalAlloc for Guarded {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc`, passed on.
        let ptr = unsafe { std::alloc::System.alloc(layout) };
        if ptr.is_null() {
            return self.exhausted(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc_zeroed`, passed on.
        let ptr = unsafe { std::alloc::System.alloc_zeroed(layout) };
        if ptr.is_null() {
            return self.exhausted(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc`, passed on.
        let grown = unsafe { std::alloc::System.realloc(ptr, layout, new_size) };
        if grown.is_null() {
            return self.exhausted(new_size);
        }
        grown
    }
}

#[cfg(test)]
mod tests {
    // What only the Linux-only tests use.
    #![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]
    use super::*;

    /// The `AnonHugePages` of the mapping holding `address`, in KiB.
    fn huge_kib_at(address: usize) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((from, to)) = range.split_once('-')
                && let (Ok(from), Ok(to)) = (
                    usize::from_str_radix(from, 16),
                    usize::from_str_radix(to, 16),
                )
            {
                inside = (from..to).contains(&address);
            } else if inside && let Some(kib) = line.strip_prefix("AnonHugePages:") {
                return kib.trim().trim_end_matches(" kB").trim().parse().unwrap();
            }
        }
        0
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_large_buffer_is_backed_by_huge_pages_where_the_kernel_offers_them() {
        let offered = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .is_ok_and(|modes| !modes.contains("[never]"));
        let mut buffer = buffer(64 << 20).unwrap();
        buffer.resize(64 << 20, 1);
        let huge = huge_kib_at(buffer.as_ptr() as usize + (32 << 20));
        if offered {
            assert!(huge >= 32 << 10, "{huge} KiB on huge pages");
        }
        assert!(buffer.iter().all(|&b| b == 1));
    }

    #[test]
    fn small_and_odd_regions_are_left_alone() {
        let mut small = Vec::<u8>::with_capacity(100);
        advise_huge_pages(small.spare_capacity_mut());
        let mut empty = Vec::<u8>::new();
        advise_huge_pages(empty.spare_capacity_mut());
        assert!(buffer(0).is_some());
        assert!(buffer(usize::MAX / 2).is_none());
    }
}
