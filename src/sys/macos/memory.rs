//! Huge pages on request: macOS gives none to ordinary allocations, so
//! asking is a no-op.
//!
//! Not here: which buffers ask, and how much of them (`memory`).

use std::mem::MaybeUninit;

/// Does nothing: advice that macOS has no way to take.
pub fn advise_huge_pages(_region: &mut [MaybeUninit<u8>]) {}
