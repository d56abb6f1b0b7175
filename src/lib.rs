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
//! # Glossary
//!
//! One word per idea, in code, docs, the command line and the files; a new
//! word goes here first.
//!
//! - **job**: the whole problem above, for one input. (`--jobs N` keeps
//!   GNU parallel's name for the concurrency; in code it is
//!   `concurrency`.)
//! - **letter**: one of `a`..`z`, a unit type of the polymer (`UnitType`);
//!   each is removed in turn.
//! - **mode**: how the letters are computed: `process` (a child each),
//!   `thread`, `serial`, or `sweep`.
//! - **sweep**: the junction algorithm over a fully reacted polymer;
//!   `--mode sweep` runs it for every letter at once. One letter's run of
//!   it is a **pass**.
//! - **child**: a process running the child program (`reduce`, or any
//!   program keeping [`protocol`]) for one letter.
//! - **attempt**: one run at one letter, numbered from 1 (a retry is the
//!   next number; the number is `attempt` in code): a child, or an array
//!   task. A letter **settles** when
//!   its last attempt ends.
//! - **placement**: where the children run: here, behind a prefix,
//!   through `srun`, or as a job array
//!   ([`supervise::placement::Placement`]).
//! - **launcher**: the program orchestrate starts a child behind
//!   (`--launcher`): a prefix such as `nice`, or `srun`.
//! - **start**: when an attempt's work begins (its time limit counts from
//!   there): at the spawn, or at its **start mark**, a file it writes.
//! - **refusal**: a start the system refused for a reason that may pass
//!   (out of processes or memory for the moment); later starts are **held**
//!   while the refused one waits to be tried again (`StartError`).
//! - **clock**: where the supervision loop and its backends read the time
//!   and wait: the system's, or a fake in tests.
//! - **backend**: what the loop runs attempts on (local children, a job
//!   array); its **handle** on an attempt in flight.
//! - **queue**: a scheduler's queue (Slurm's, or a fake), behind
//!   [`supervise::queue::Queue`].
//! - **Slurm job**: a job of the Slurm scheduler, named by its **job id**;
//!   a **job array** is one submitted with `sbatch --array`, and each of
//!   its **tasks** is an attempt at a letter, named `<job id>_<index>`. A
//!   **submission** is one such `sbatch`.
//! - **snapshot**: the children's copy of the polymer.
//! - **private folder**: the run's folder for its attempts' files; a
//!   **results folder** (`--results-dir`) is where checked results are
//!   published, with its **record** (`orchestrate.json`: what the results
//!   are of, and a job array's submissions).
//! - **kept**: a result reused from an earlier run (`--resume`); the job
//!   log and the timeline (a picture of it) name it `cached`, and `--json`
//!   writes `cached` beside `kept`.
//! - **marker**: the locked file in every folder a run makes that says
//!   whose it is; the **janitor** removes a run's folders however it ends.
//! - **containment**: what keeps everything a child starts from outliving
//!   it: a PID namespace, or a subreaper where the kernel refuses one.
//! - **stop signal**: SIGINT, SIGTERM, SIGHUP or SIGQUIT; a second one
//!   (any of them) skips the grace period.
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
//! - [`supervise`]: where children run (the placement), the one
//!   supervision loop and its policy on a clock passed in, over its
//!   backends (local children, Slurm array tasks behind a queue);
//! - [`report`]: the data of a finished run, and its renderings (summary,
//!   JSON, job log, SVG timeline), and the status view of a results folder;
//! - [`orchestrator`]: one run: read, react, pick a mode, gather a report;
//!   the folders a run makes, the markers that say whose they are, and the
//!   janitor that removes them however the run ends; and what a results
//!   folder says of its run (`--status`);
//! - [`conformance`]: the cases every child program must pass;
//! - [`cli`]: the two command lines, and how the binaries print.

// No function longer than clippy.toml's threshold: a function that needs
// scrolling usually holds two steps.
#![warn(clippy::too_many_lines)]

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
