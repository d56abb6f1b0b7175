//! Large buffers without a page fault per 4 KiB page.
//!
//! A fresh gigabyte of memory is 262,144 pages of 4 KiB, each taken by a
//! fault the first time it is touched; on a virtual machine that is about
//! half the time of a full reaction. Where transparent huge pages are
//! enabled only on request (`madvise`, the common default), asking for them
//! on a buffer makes it 512 times fewer faults of 2 MiB. The advice changes
//! no byte and is only advice: a kernel without huge pages ignores it.
//!
//! Not here: what goes into the buffers (`input`, `polymer`).

use std::mem::MaybeUninit;

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
    advise(first, end - first);
}

#[cfg(target_os = "linux")]
fn advise(address: usize, len: usize) {
    // SAFETY: `[address, address + len)` lies inside a region this process
    // owns (the caller's `&mut` slice), aligned to whole pages.
    // MADV_HUGEPAGE changes how the kernel backs those pages, never their
    // contents, and touches no other mapping; an error (no huge pages on
    // this kernel) leaves everything as it was, so it is ignored.
    unsafe {
        libc::madvise(address as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
    }
}

#[cfg(not(target_os = "linux"))]
fn advise(_address: usize, _len: usize) {}

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
    buffer.try_reserve_exact(capacity).ok()?;
    advise_huge_pages(buffer.spare_capacity_mut());
    Some(buffer)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
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
