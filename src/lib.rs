//! Fan one job out over child processes and gather the results through files.
//!
//! The job: a *polymer* is a line of ASCII letters in which adjacent units of
//! the same letter and opposite case (`aA`, `Bb`) react and vanish,
//! repeatedly. For each of the 26 unit types, remove all its units, fully
//! react the rest, and report the shortest result.
//!
//! Two binaries sit on this library:
//! - `reduce` reacts a polymer with one unit type removed and writes the
//!   length to a result file;
//! - `orchestrate` spawns one `reduce` per letter, polls for their result
//!   files and reports the minimum.
//!
//! Modules:
//! - [`polymer`]: the validated polymer and its unit types (pure);
//! - [`reaction`]: the reaction kernels and the all-letters sweep (pure);
//! - [`input`]: reading a polymer from a file or standard input;
//! - [`protocol`]: the child's command line and the result file, the whole
//!   contract between the two processes.

pub mod export;
pub mod generate;
pub mod in_process;
pub mod input;
pub mod launcher;
pub mod orchestrator;
pub mod polymer;
pub mod protocol;
pub mod reaction;
pub mod report;
pub mod signals;
pub mod supervisor;
