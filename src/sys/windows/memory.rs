//! Huge pages on request: Windows gives large pages only to a process with
//! a privilege ordinary users lack, so asking is a no-op.
//!
//! Not here: which buffers ask, and how much of them (`memory`).

use std::mem::MaybeUninit;

/// Does nothing: advice that Windows has no way to take.
pub fn advise_huge_pages(_region: &mut [MaybeUninit<u8>]) {}
