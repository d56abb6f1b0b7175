//! Where a run's children go, decided once from the command line: as
//! children of orchestrate on this machine (directly, or behind a prefix
//! such as `nice -n 10`), through `srun` on the nodes of an allocation, or
//! as the tasks of a Slurm job array. Everything that differs between
//! them is a question to [`Placement`]: who contains what the children
//! start, how the polymer reaches them, what marks an attempt's start, and
//! what stopping one takes besides signals.
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

use super::backend::Start;
use super::queue;
use crate::polymer::UnitType;
use crate::protocol::Assignment;

/// Where the children of a run go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Children of orchestrate on this machine, started directly.
    Here,
    /// Children of orchestrate on this machine, behind these words (a
    /// launcher that is not `srun`: `nice -n 10`, `taskset -c 1`).
    Prefix(Vec<OsString>),
    /// Children of orchestrate that `srun` runs on an allocation's nodes.
    Srun(Srun),
    /// The tasks of a Slurm job array, submitted with these extra
    /// `sbatch` options; they report through the results folder.
    Array { sbatch_args: Vec<OsString> },
}

/// An `srun` launcher: the program, its options (without a job name), and
/// the base of each child's job name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Srun {
    program: OsString,
    options: Vec<OsString>,
    name: String,
}

/// How the polymer reaches a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// A sealed in-memory file, as its standard input (`-` on its command
    /// line): only a child started here directly can be handed a file.
    Stdin,
    /// A file in the run's private folder, named on its command line.
    PrivateFile,
    /// A file in the array's folder inside the results folder, which every
    /// node shares and which outlives the run.
    ArrayFolder,
}

impl Placement {
    /// The placement a command line asks for: the job array when there
    /// are `sbatch` options, else by the launcher's words (none: here).
    pub fn new(launcher: Vec<OsString>, sbatch: Option<Vec<OsString>>) -> Placement {
        if let Some(sbatch_args) = sbatch {
            return Placement::Array { sbatch_args };
        }
        let Some((first, rest)) = launcher.split_first() else {
            return Placement::Here;
        };
        if Path::new(first).file_name() != Some(OsStr::new("srun")) {
            return Placement::Prefix(launcher);
        }
        Placement::Srun(Srun::new(first.clone(), rest))
    }

    /// Whether Slurm runs the children (`srun`, or a job array).
    pub fn needs_slurm(&self) -> bool {
        matches!(self, Placement::Srun(_) | Placement::Array { .. })
    }

    /// Whether the children run on this machine, as children of
    /// orchestrate: then orchestrate contains everything they start (a PID
    /// namespace that dies with it, one more for each attempt of a program
    /// other than `reduce`) and a janitor removes its private folder
    /// however it ends. Elsewhere the scheduler contains them.
    pub fn on_this_machine(&self) -> bool {
        matches!(self, Placement::Here | Placement::Prefix(_))
    }

    /// How the polymer reaches the children.
    pub fn delivery(&self) -> Delivery {
        match self {
            Placement::Here => Delivery::Stdin,
            Placement::Prefix(_) | Placement::Srun(_) => Delivery::PrivateFile,
            Placement::Array { .. } => Delivery::ArrayFolder,
        }
    }

    /// What marks an attempt's start, for its time limit: only a
    /// scheduler's queue may hold an attempt before its work starts.
    pub fn start(&self) -> Start {
        match self {
            Placement::Here => Start::Spawn,
            Placement::Prefix(_) => Start::SpawnUntilMark,
            Placement::Srun(_) | Placement::Array { .. } => Start::Mark,
        }
    }

    /// Whether the child is the program itself, a child of orchestrate:
    /// it then runs on this machine (its host is known at the spawn) and
    /// this package's `reduce` can be told orchestrate's pid to die with.
    pub fn is_direct(&self) -> bool {
        *self == Placement::Here
    }

    /// The launcher: the program orchestrate starts in front of the child
    /// (`--launcher`), for error lines; empty where orchestrate starts the
    /// child itself or the scheduler starts it (`--sbatch`).
    pub fn launcher(&self) -> &OsStr {
        match self {
            Placement::Prefix(words) => &words[0],
            Placement::Srun(srun) => &srun.program,
            Placement::Here | Placement::Array { .. } => OsStr::new(""),
        }
    }

    /// The command that runs `program` for `assignment`, attempt
    /// `attempt`: behind the launcher, if any. A job array's task runs
    /// the program itself, as its script says
    /// ([`crate::protocol::array_script`] spells the same command line).
    pub fn command(&self, program: &Path, assignment: &Assignment, attempt: u32) -> Command {
        let mut command = match self {
            Placement::Here | Placement::Array { .. } => Command::new(program),
            Placement::Prefix(words) => {
                let mut command = Command::new(&words[0]);
                command.args(&words[1..]).arg(program);
                command
            }
            Placement::Srun(srun) => {
                let mut command = Command::new(&srun.program);
                command
                    .arg(format!(
                        "--job-name={}",
                        srun.job_name(assignment.letter, attempt)
                    ))
                    .args(&srun.options)
                    .arg(program);
                command
            }
        };
        command.args(assignment.args());
        command
    }

    /// The command that cancels whatever a stopped child's launcher may
    /// have left running, where one is needed (`srun`).
    pub fn cancel(&self, letter: UnitType, attempt: u32) -> Option<Command> {
        let Placement::Srun(srun) = self else {
            return None;
        };
        let mut command = queue::scancel();
        command
            .arg(format!("--name={}", srun.job_name(letter, attempt)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Some(command)
    }
}

impl Srun {
    /// `srun`'s options, its job name taken out of them.
    fn new(program: OsString, options: &[OsString]) -> Srun {
        let (name, options) = queue::split_job_name(options);
        Srun {
            program,
            options,
            name: name.unwrap_or_else(|| format!("orchestrate-{}", std::process::id())),
        }
    }

    fn job_name(&self, letter: UnitType, attempt: u32) -> String {
        format!("{}-{letter}-{attempt}", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<OsString> {
        text.split_whitespace().map(OsString::from).collect()
    }

    fn placed(words: Vec<OsString>) -> Placement {
        Placement::new(words, None)
    }

    fn argv(launcher: &Placement) -> Vec<String> {
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

    #[track_caller]
    fn case(launcher: &str, sbatch: bool, here: bool, delivery: Delivery, start: Start) {
        let placement = Placement::new(words(launcher), sbatch.then(Vec::new));
        assert_eq!(placement.on_this_machine(), here, "{placement:?}");
        assert_eq!(placement.delivery(), delivery, "{placement:?}");
        assert_eq!(placement.start(), start, "{placement:?}");
        assert_eq!(placement.is_direct(), placement == Placement::Here);
    }

    #[test]
    fn each_placement_says_who_contains_how_the_polymer_goes_and_what_starts_the_clock() {
        use Delivery::*;
        case("", false, true, Stdin, Start::Spawn);
        case(
            "nice -n 10",
            false,
            true,
            PrivateFile,
            Start::SpawnUntilMark,
        );
        case("srun --ntasks=1", false, false, PrivateFile, Start::Mark);
        case(
            "/opt/slurm/bin/srun",
            false,
            false,
            PrivateFile,
            Start::Mark,
        );
        // A program merely named like srun elsewhere in the words is a prefix.
        case("env srun", false, true, PrivateFile, Start::SpawnUntilMark);
        case("", true, false, ArrayFolder, Start::Mark);
    }

    #[test]
    fn a_plain_prefix_goes_in_front_of_the_child_command() {
        assert_eq!(Placement::new(Vec::new(), None), Placement::Here);
        assert_eq!(
            argv(&placed(words("nice -n 10"))),
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
            placed(words("nice -n 10"))
                .cancel(UnitType::from_ascii(b'q').unwrap(), 2)
                .is_none()
        );
    }

    #[track_caller]
    fn slurm_case(prefix: &str, expected_name: &str) {
        let launcher = placed(words(prefix));
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
