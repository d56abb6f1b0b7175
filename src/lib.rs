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
//! - `orchestrate` spawns one `reduce` per letter, sees each finish by its
//!   exit, reads and checks its result file, and reports the minimum.
//!
//! Modules, from the bottom layer up (each uses only those above it in
//! this list):
//! - [`sys`]: the platform layer, the one place that speaks to the
//!   operating system beyond the standard library: processes and their
//!   groups, signals, locks, file identity and opening without following
//!   links, the containment of what children start (a PID namespace for
//!   the run, and one for each attempt of a program other than `reduce`),
//!   in-memory files sealed against change; per system (`unix`, `linux`),
//!   behind one API; nothing above it names a `libc` item or has a
//!   `#[cfg(...)]` about the system;
//! - [`memory`]: large buffers on huge pages, without a fault per page, and
//!   the error when memory runs out (and the binaries' allocator);
//! - [`polymer`]: the domain: units, validation, reaction kernels (also
//!   while the input is read), the all-letters sweep, the generator;
//! - [`input`]: reading a polymer from a file or standard input;
//! - [`files`]: writing files others read (atomically, or in place for a
//!   device);
//! - [`protocol`]: the contract between the processes: the child's command
//!   line, the result file, the start mark, an array task's script and
//!   status file;
//! - [`signals`]: the signals a run waits on (a child's exit, stop signals);
//! - [`supervise`]: the one supervision loop and its policy, over its
//!   backends (local children, Slurm array tasks behind a queue);
//! - [`report`]: the data of a finished run, and its renderings (summary,
//!   JSON, job log, SVG timeline);
//! - [`orchestrator`]: one run: read, react, pick a mode, gather a report;
//!   the folders a run makes, the markers that say whose they are, and the
//!   janitor that removes them however the run ends; and what a results
//!   folder says of its run (`--status`);
//! - [`conformance`]: the cases every child program must pass;
//! - [`cli`]: the two command lines, and how the binaries print.

pub mod cli;
pub mod conformance;
pub mod files;
pub mod input;
pub mod memory;
pub mod orchestrator;
pub mod polymer;
pub mod protocol;
pub mod report;
pub mod signals;
pub mod supervise;
pub mod sys;
