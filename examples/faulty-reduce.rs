//! A stand-in for `reduce` that misbehaves on request, on every system:
//! point `orchestrate --reduce-bin` at it to see what a run does with a
//! child that crashes, lies, hangs with grandchildren or tries to escape.
//! The tests use it for fault injection (on Windows too, where the shell
//! script beside the tests cannot run).
//!
//! It takes reduce's child command line (`--letter L --output FILE --quiet
//! POLYMER`, and `--parent-pid N` when asked for). `FAULT_<letter>` (or
//! `FAULT_ALL`) picks the misbehaviour:
//!
//! - `exit`: prints to stderr and exits with status 3
//! - `nowrite`: exits 0 without writing a result
//! - `garbage`: writes a result that is not a number
//! - `partial`: writes a result without its newline
//! - `huge`: writes the largest 64-bit number as the result
//! - `rewrite`: writes a valid result, then overwrites it with garbage
//! - `signal`: dies by SIGSEGV (Unix; on Windows it aborts)
//! - `sibling`: also writes results where the next letter's might go
//! - `planted`: waits until a sibling planted a result at `L.1.txt` in the
//!   result's folder, then exits 0 without writing one
//! - `fifo`: replaces the result path with a symlink to a FIFO (Unix)
//! - `hang`: sleeps for ever, with a grandchild doing the same
//! - `escape`: like `hang`, with grandchildren that try to leave: one in a
//!   session of its own (on Windows detached from the console and asking
//!   to break away from the job), one orphaned in a session of its own
//!   (its parent, a child of this one, has ended), and a plain one
//! - `daemon`: leaves a grandchild behind, orphaned in a session of its
//!   own, then works normally
//! - `flaky`: fails the first time (per `STATE_DIR`), then works
//! - `tamper`: tries to append to, then to empty, the polymer it was handed
//!   (logging `tamper L kept` to `EVENT_LOG` when both are refused, `tamper
//!   L changed` otherwise), then works
//!
//! As `faulty-reduce --launch PROGRAM ARGS...` it is a launcher instead: it
//! logs `launch` to `EVENT_LOG` and runs the program.
//!
//! `REPLACE_INPUT` names a file to overwrite (with `aAbB`) before anything
//! else. Otherwise, or after `tamper`, `flaky` and `daemon`, it runs `REAL_REDUCE` with its
//! own arguments (after `SLOW` seconds, and once the file `GATE` exists,
//! when they are set). `EVENT_LOG` gets `start L` and `end L` lines.
//! `PID_LOG` gets the pid of every process it leaves hanging, each written
//! by that process itself before it does anything else, and a file
//! `PID_LOG.<pid>.ready` once that process is in place, so a test can wait
//! for all of them.

use std::fs::OpenOptions;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

/// The argument with which this program starts its own grandchildren.
const SLEEPER: &str = "--sleep-for-ever";

/// The argument that makes this program a launcher: `--launch PROGRAM
/// ARGS...` logs `launch` to `EVENT_LOG` and runs the program.
const LAUNCH: &str = "--launch";

/// Runs `command` (a program and its arguments) as a launcher would, and
/// ends as it ended.
fn launch(command: &[String]) -> ExitCode {
    log("EVENT_LOG", "launch");
    let Some((program, args)) = command.split_first() else {
        return ExitCode::from(2);
    };
    match run(Command::new(program).args(args)) {
        Ok(status) => ExitCode::from(status.code().map_or(1, |code| code as u8)),
        Err(err) => {
            eprintln!("faulty-reduce: could not launch {program}: {err}");
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(LAUNCH) {
        return launch(&args[1..]);
    }
    if args.first().map(String::as_str) == Some(SLEEPER) {
        let token = args.get(1).cloned().unwrap_or_default();
        sleep_for_ever(&token, args.get(2).map(String::as_str));
    }
    let value = |name: &str| {
        let at = args.iter().position(|arg| arg == name)?;
        args.get(at + 1).cloned()
    };
    let (Some(letter), Some(output)) = (value("--letter"), value("--output")) else {
        eprintln!("faulty-reduce: expected --letter L --output FILE");
        return ExitCode::from(2);
    };
    let output = PathBuf::from(output);
    // The start mark orchestrate asks for under a launcher, as reduce
    // writes it.
    polymer_fanout::protocol::write_start_mark();
    log("EVENT_LOG", &format!("start {letter}"));
    // REPLACE_INPUT: a file to overwrite before anything else.
    if let Some(path) = std::env::var_os("REPLACE_INPUT") {
        std::fs::write(path, "aAbB\n").expect("could not replace the input");
    }
    let mode = std::env::var(format!("FAULT_{letter}"))
        .or_else(|_| std::env::var("FAULT_ALL"))
        .unwrap_or_default();
    // Writes a result and ends with status 0.
    let write = |text: &str| {
        std::fs::write(&output, text).expect("could not write the result");
        ExitCode::SUCCESS
    };
    match mode.as_str() {
        "exit" => {
            eprintln!("reduce: simulated failure for {letter}");
            return ExitCode::from(3);
        }
        "nowrite" => return ExitCode::SUCCESS,
        "garbage" => return write("not a number\n"),
        "partial" => return write("12"),
        "huge" => return write("18446744073709551615\n"),
        "rewrite" => {
            write("1\n");
            std::thread::sleep(Duration::from_millis(50));
            return write("junk");
        }
        "sibling" => {
            let next = (letter.as_bytes()[0] + 1) as char;
            let dir = output.parent().unwrap_or(Path::new("."));
            let _ = std::fs::write(dir.join(format!("{next}.txt")), "1\n");
            let _ = std::fs::write(dir.join(format!("{next}.1.txt")), "1\n");
        }
        "signal" => die_by_a_signal(),
        "planted" => {
            let dir = output.parent().unwrap_or(Path::new("."));
            while !dir.join(format!("{letter}.1.txt")).exists() {
                std::thread::sleep(Duration::from_millis(10));
            }
            return ExitCode::SUCCESS;
        }
        "fifo" => {
            fifo_at(&output, &letter);
            return ExitCode::SUCCESS;
        }
        "daemon" => {
            let me = std::env::current_exe().expect("this program's path");
            let token = format!("{}-daemon", machine_pid());
            let mut middle = Command::new(me);
            middle
                .args([SLEEPER, &token, "orphan"])
                .stdin(Stdio::null());
            let _ = run(&mut middle);
        }
        "hang" => hang(&[Leave::Stay]),
        "escape" => hang(&[Leave::Detached, Leave::Orphaned, Leave::Stay]),
        "flaky" => {
            let state = Path::new(&std::env::var("STATE_DIR").unwrap_or_default()).join(&letter);
            if !state.exists() {
                let _ = std::fs::write(&state, "");
                eprintln!("reduce: transient failure for {letter}");
                return ExitCode::from(1);
            }
        }
        "tamper" => tamper(&letter, args.last().map(String::as_str).unwrap_or("-")),
        _ => {}
    }
    if let Ok(seconds) = std::env::var("SLOW") {
        std::thread::sleep(Duration::from_secs_f64(seconds.parse().unwrap_or(0.0)));
    }
    if let Ok(gate) = std::env::var("GATE") {
        while !Path::new(&gate).exists() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let real = std::env::var_os("REAL_REDUCE").expect("REAL_REDUCE names the real reduce");
    let status = run(Command::new(&real).args(&args));
    log("EVENT_LOG", &format!("end {letter}"));
    match status {
        Ok(status) => ExitCode::from(status.code().map_or(1, |code| code as u8)),
        Err(err) => {
            eprintln!("faulty-reduce: could not run the real reduce: {err}");
            ExitCode::from(1)
        }
    }
}

/// Starts `command`, trying again while the system refuses for a reason
/// that may pass, as orchestrate does (Wine fails a process start now and
/// then under load): the stand-in's own starts are not what is tested.
fn start(command: &mut Command) -> std::io::Result<std::process::Child> {
    let mut tries = 1;
    loop {
        match command.spawn() {
            Err(err) if tries < 5 && polymer_fanout::sys::process::start_may_pass(&err) => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            started => return started,
        }
    }
}

/// Runs `command` to its end (see [`start`]).
fn run(command: &mut Command) -> std::io::Result<std::process::ExitStatus> {
    start(command)?.wait()
}

/// Appends `line` to the file the environment variable `var` names, if set.
fn log(var: &str, line: &str) {
    if let Some(path) = std::env::var_os(var) {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("could not open a log");
        // Locked, for appends from several processes at once are not
        // atomic everywhere (Wine's are not).
        file.lock().expect("could not lock a log");
        file.seek(std::io::SeekFrom::End(0))
            .expect("could not seek in a log");
        writeln!(file, "{line}").expect("could not write a log");
    }
}

/// This process's pid as the machine names it: inside orchestrate's PID
/// namespace (Linux) `process::id` is the namespace's number, while
/// `/proc`, the machine's, names each process by the machine's.
#[cfg(target_os = "linux")]
fn machine_pid() -> u32 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| stat.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(std::process::id)
}

/// This process's pid: elsewhere there is no namespace to see through.
#[cfg(not(target_os = "linux"))]
fn machine_pid() -> u32 {
    std::process::id()
}

/// Logs this process's pid to `PID_LOG`, then marks it ready under `token`.
fn log_pid(token: &str) {
    log("PID_LOG", &machine_pid().to_string());
    if let Some(log) = std::env::var_os("PID_LOG") {
        let mut ready = log;
        ready.push(format!(".{token}.ready"));
        std::fs::write(ready, "").expect("could not write a ready file");
    }
}

/// How a grandchild tries to get away.
#[derive(Clone, Copy)]
enum Leave {
    /// It stays a plain child.
    Stay,
    /// Detached from the console and, on Windows, asking to break away
    /// from the job (refused when the job does not allow it: then as a
    /// plain child).
    Detached,
    /// Orphaned: started by a child that ends at once.
    Orphaned,
}

/// Starts the grandchildren, waits until each is in place, and sleeps.
fn hang(grandchildren: &[Leave]) -> ! {
    let me = machine_pid();
    log_pid(&me.to_string());
    let program = std::env::current_exe().expect("this program's path");
    for (index, leave) in grandchildren.iter().enumerate() {
        let token = format!("{me}-{index}");
        let sleeper = |detached: bool| {
            let mut command = Command::new(&program);
            command.args([SLEEPER, &token]).stdin(Stdio::null());
            if detached {
                detach(&mut command);
            }
            if let Leave::Orphaned = leave {
                // A child that starts the sleeper and ends.
                command.arg("orphan");
            }
            start(&mut command)
        };
        let spawned = match leave {
            // Refused (a job that allows no breakaway): as a plain child.
            Leave::Detached => sleeper(true).or_else(|_| sleeper(false)),
            Leave::Stay | Leave::Orphaned => sleeper(false),
        };
        let mut child = spawned.expect("could not start a grandchild");
        match leave {
            // The orphan's parent ends once its child is in place.
            Leave::Orphaned => drop(child.wait()),
            // The others hang, never to be waited for.
            Leave::Stay | Leave::Detached => {
                await_ready(&token);
                std::mem::forget(child);
            }
        }
    }
    sleep_for_ever(&me.to_string(), Some("awake"))
}

/// Waits until the process told `token` has logged itself ready (at once
/// without a `PID_LOG`).
fn await_ready(token: &str) {
    if let Some(log) = std::env::var_os("PID_LOG") {
        let mut ready = log;
        ready.push(format!(".{token}.ready"));
        while !Path::new(&ready).exists() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// The grandchild told `token`: logs its pid and sleeps; as an `orphan`,
/// starts another grandchild that does, waits until it is in place, and
/// ends at once; `awake` (this process, logged already) just sleeps.
fn sleep_for_ever(token: &str, how: Option<&str>) -> ! {
    match how {
        Some("orphan") => {
            let me = std::env::current_exe().expect("this program's path");
            let sleeper = |detached: bool| {
                let mut command = Command::new(&me);
                command.args([SLEEPER, token]).stdin(Stdio::null());
                if detached {
                    detach(&mut command);
                }
                start(&mut command)
            };
            // Orphaned and out of its group and session, as a daemon is
            // (refused by a job that allows no breakaway: as a plain child).
            let sleeper = sleeper(true).or_else(|_| sleeper(false));
            if sleeper.is_ok() {
                await_ready(token);
            }
            std::process::exit(0);
        }
        Some("awake") => {}
        _ => log_pid(token),
    }
    loop {
        std::thread::sleep(Duration::from_secs(1000));
    }
}

/// Detaches `command` from this process as far as the system lets it.
#[cfg(windows)]
fn detach(command: &mut Command) {
    use std::os::windows::process::CommandExt;
    // CREATE_BREAKAWAY_FROM_JOB | DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP
    command.creation_flags(0x0100_0000 | 0x0000_0008 | 0x0000_0200);
}

/// Detaches `command` from this process as far as the system lets it: a
/// session of its own (`setsid`), so it leaves its process group too.
#[cfg(unix)]
fn detach(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe and allocates nothing; it runs
    // between fork and exec in the child.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
}

/// Tries to append to the polymer at `path` (`-`: standard input), then to
/// empty it, and logs whether both were refused.
fn tamper(letter: &str, path: &str) {
    let open = |append: bool| {
        let mut options = OpenOptions::new();
        match append {
            true => options.append(true),
            false => options.write(true).truncate(true),
        };
        match path {
            "-" => stdin_file().and_then(|file| match append {
                true => (&file).write_all(b"zZ").map(|()| file),
                false => file.set_len(0).map(|()| file),
            }),
            _ => options.open(path).and_then(|mut file| match append {
                true => file.write_all(b"zZ").map(|()| file),
                false => Ok(file),
            }),
        }
    };
    let kept = open(true).is_err() && open(false).is_err();
    let verdict = if kept { "kept" } else { "changed" };
    log("EVENT_LOG", &format!("tamper {letter} {verdict}"));
}

/// Standard input as a file.
#[cfg(unix)]
fn stdin_file() -> std::io::Result<std::fs::File> {
    use std::os::fd::AsFd;
    Ok(std::io::stdin().as_fd().try_clone_to_owned()?.into())
}

/// Standard input as a file.
#[cfg(windows)]
fn stdin_file() -> std::io::Result<std::fs::File> {
    use std::os::windows::io::AsHandle;
    Ok(std::io::stdin().as_handle().try_clone_to_owned()?.into())
}

/// Dies by SIGSEGV, as a crashing program does.
#[cfg(unix)]
fn die_by_a_signal() -> ! {
    // SAFETY: resetting SIGSEGV to its default and raising it ends the
    // process; no memory is touched.
    unsafe {
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        libc::raise(libc::SIGSEGV);
    }
    std::process::abort()
}

/// Ends at once, as a crashing program does (Windows has no signals).
#[cfg(windows)]
fn die_by_a_signal() -> ! {
    std::process::abort()
}

/// Replaces the result at `output` with a symlink to a FIFO beside it.
#[cfg(unix)]
fn fifo_at(output: &Path, letter: &str) {
    let dir = output.parent().unwrap_or(Path::new("."));
    let fifo = dir.join(format!("fifo-{letter}"));
    let path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a NUL-terminated path we own.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    let _ = std::fs::remove_file(output);
    std::os::unix::fs::symlink(&fifo, output).expect("could not link the result");
}

/// Windows has no FIFOs that a path names: nothing is written.
#[cfg(windows)]
fn fifo_at(_output: &Path, _letter: &str) {}
