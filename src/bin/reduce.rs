//! `reduce`: react a polymer with one unit type removed, write the length to a
//! result file. Run by hand, and by `orchestrate` as its child process.

#![warn(clippy::too_many_lines)]

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use polymer_fanout::cli::{self, reduce::ReduceArgs};
use polymer_fanout::protocol;

#[global_allocator]
static ALLOCATOR: polymer_fanout::memory::Guarded = polymer_fanout::memory::Guarded::new("reduce");

fn main() -> ExitCode {
    // A file past `ulimit -f` is an error on the write (EFBIG) that names
    // the file, not a silent death by SIGXFSZ.
    polymer_fanout::signals::ignore_file_size_limit();
    let args = ReduceArgs::parse();
    // First: orchestrate may already be gone.
    if let Some(parent) = args.parent_pid
        && let Err(err) = protocol::heed_parent_pid(parent)
    {
        cli::say(&format!("reduce: error: {err:#}"));
        return ExitCode::FAILURE;
    }
    if let Some(what) = args.generate {
        return cli::generate(what, ReduceArgs::command());
    }
    match cli::reduce::run(&args) {
        Ok(length) if !args.quiet => match cli::print("reduce", &length.to_string()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(status) => status,
        },
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            cli::say(&format!("reduce: error: {err:#}"));
            ExitCode::FAILURE
        }
    }
}
