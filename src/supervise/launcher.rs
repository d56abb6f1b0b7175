//! How a child is started: directly, or behind a launcher prefix such as
//! `nice -n 10` or `srun --ntasks=1`, and what stopping it takes besides
//! signalling its process group.
//!
//! `srun` gets one extra duty. Signalled while its job is still pending or
//! its step is being launched, `srun` can exit without cancelling the job,
//! which then runs on with nobody waiting for it. So each child's job gets
//! a name of its own (`<name>-<letter>-<attempt>`, where `<name>` is the
//! `--job-name` given in the launcher or `orchestrate-<pid>`), and a child
//! that had to be stopped has its job cancelled by that name with
//! `scancel`: a retry of the same letter has another name, so the
//! cancellation of one attempt cannot reach the next.

use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::polymer::UnitType;
use crate::protocol::Assignment;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Launcher {
    /// Run the child program itself.
    Direct,
    /// Put these words in front of it.
    Prefix(Vec<OsString>),
    /// Run it with `srun`: the program, its options (without a job name),
    /// and the base of each child's job name.
    Slurm {
        srun: OsString,
        options: Vec<OsString>,
        name: String,
    },
}

impl Launcher {
    /// The launcher for a command prefix split into words (empty: none).
    pub fn from_words(words: Vec<OsString>) -> Launcher {
        let Some((first, rest)) = words.split_first() else {
            return Launcher::Direct;
        };
        if Path::new(first).file_name() != Some(OsStr::new("srun")) {
            return Launcher::Prefix(words);
        }
        let mut options = Vec::new();
        let mut name = None;
        let mut rest = rest.iter();
        while let Some(word) = rest.next() {
            let text = word.to_string_lossy();
            if let Some(value) = text.strip_prefix("--job-name=") {
                name = Some(value.to_string());
            } else if text == "--job-name" || text == "-J" {
                name = rest.next().map(|v| v.to_string_lossy().into_owned());
            } else if let Some(value) = text.strip_prefix("-J") {
                name = Some(value.to_string());
            } else {
                options.push(word.clone());
            }
        }
        Launcher::Slurm {
            srun: first.clone(),
            options,
            name: name.unwrap_or_else(|| format!("orchestrate-{}", std::process::id())),
        }
    }

    /// The program the launcher runs (for error lines); empty for none.
    pub fn program(&self) -> &OsStr {
        match self {
            Launcher::Direct => OsStr::new(""),
            Launcher::Prefix(words) => &words[0],
            Launcher::Slurm { srun, .. } => srun,
        }
    }

    /// The command that runs `program` for `assignment`, attempt `attempt`.
    pub fn command(&self, program: &Path, assignment: &Assignment, attempt: u32) -> Command {
        let mut command = match self {
            Launcher::Direct => Command::new(program),
            Launcher::Prefix(words) => {
                let mut command = Command::new(&words[0]);
                command.args(&words[1..]).arg(program);
                command
            }
            Launcher::Slurm {
                srun,
                options,
                name,
            } => {
                let mut command = Command::new(srun);
                command
                    .arg(format!(
                        "--job-name={}",
                        job_name(name, assignment.letter, attempt)
                    ))
                    .args(options)
                    .arg(program);
                command
            }
        };
        command.args(assignment.args());
        command
    }

    /// The command that cancels whatever a stopped child's launcher may
    /// have left running, if this launcher needs one.
    pub fn cancel(&self, letter: UnitType, attempt: u32) -> Option<Command> {
        match self {
            Launcher::Slurm { name, .. } => {
                let mut command = Command::new("scancel");
                command
                    .arg("--quiet")
                    .arg(format!("--name={}", job_name(name, letter, attempt)))
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                Some(command)
            }
            Launcher::Direct | Launcher::Prefix(_) => None,
        }
    }
}

fn job_name(base: &str, letter: UnitType, attempt: u32) -> String {
    format!("{base}-{letter}-{attempt}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<OsString> {
        text.split_whitespace().map(OsString::from).collect()
    }

    fn argv(launcher: &Launcher) -> Vec<String> {
        let assignment = Assignment {
            letter: UnitType::from_ascii(b'q').unwrap(),
            result: "r/q.txt".into(),
            polymer: "p.txt".into(),
        };
        let command = launcher.command(Path::new("/bin/reduce"), &assignment, 2);
        std::iter::once(command.get_program())
            .chain(command.get_args())
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn a_plain_prefix_goes_in_front_of_the_child_command() {
        assert_eq!(Launcher::from_words(Vec::new()), Launcher::Direct);
        assert_eq!(
            argv(&Launcher::from_words(words("nice -n 10"))),
            [
                "nice",
                "-n",
                "10",
                "/bin/reduce",
                "--letter",
                "q",
                "--output",
                "r/q.txt",
                "--quiet",
                "p.txt"
            ]
        );
        assert!(
            Launcher::from_words(words("nice -n 10"))
                .cancel(UnitType::from_ascii(b'q').unwrap(), 2)
                .is_none()
        );
    }

    #[track_caller]
    fn slurm_case(prefix: &str, expected_name: &str) {
        let launcher = Launcher::from_words(words(prefix));
        let args = argv(&launcher);
        assert_eq!(
            args[1],
            format!("--job-name={expected_name}-q-2"),
            "{prefix}"
        );
        assert_eq!(&args[2..4], ["--ntasks=1", "--quiet"], "{prefix}");
        assert_eq!(args[4], "/bin/reduce");
        let cancel = launcher
            .cancel(UnitType::from_ascii(b'q').unwrap(), 2)
            .unwrap();
        let cancel: Vec<_> = cancel
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            cancel,
            ["--quiet".to_string(), format!("--name={expected_name}-q-2")]
        );
    }

    #[test]
    fn srun_children_get_their_own_job_names_which_stopping_cancels() {
        let default = format!("orchestrate-{}", std::process::id());
        slurm_case("srun --ntasks=1 --quiet", &default);
        slurm_case("/usr/bin/srun --ntasks=1 --quiet", &default);
        slurm_case("srun --job-name=mine --ntasks=1 --quiet", "mine");
        slurm_case("srun --ntasks=1 --job-name mine --quiet", "mine");
        slurm_case("srun -J mine --ntasks=1 --quiet", "mine");
        slurm_case("srun --ntasks=1 --quiet -Jmine", "mine");
    }
}
