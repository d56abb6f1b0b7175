//! A fake Slurm cluster behind the [`Queue`] trait, for tests: no Slurm,
//! no process. It moves one step each time it is asked what it holds: a
//! task submitted is pending, then runs on its node (writing its start
//! mark), then does what its plan says, writing its files where its
//! script is, as a real task does.
// Much of it serves the job arrays' tests alone: Slurm runs on Linux only.
#![cfg_attr(not(unix), allow(dead_code))]

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::queue::{Identity, Queue, Queued, Submission};
use crate::polymer::UnitType;
use crate::protocol::{self, ArrayTask, TaskFile};

use Plan::*;

/// What a task does once it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// After `steps`, exits with `code`; with 0, having written `length`.
    Report {
        steps: usize,
        code: i32,
        length: usize,
    },
    /// After `steps`, leaves the queue without a word (its node died).
    Vanish { steps: usize },
    /// Runs until cancelled.
    Hang,
    /// After `steps`, Slurm requeues it: pending again, then it runs once
    /// more (a second start mark) and reports `length`.
    Requeued { steps: usize, length: usize },
}

pub fn ok(length: usize) -> Plan {
    Report {
        steps: 2,
        code: 0,
        length,
    }
}

#[derive(Clone, Debug)]
pub struct Live {
    pub id: String,
    pub name: String,
    /// The script it runs.
    pub script: PathBuf,
    /// Someone else's job: it runs on, whatever it is.
    pub foreign: bool,
    pub task: ArrayTask,
    pub node: Option<String>,
    /// Steps since it started running; `None` while pending.
    pub running: Option<usize>,
    pub requeued: bool,
}

impl Live {
    /// The array's folder: where its script is.
    fn folder(&self) -> PathBuf {
        self.script.parent().unwrap_or(Path::new("")).to_path_buf()
    }
}

/// The fake cluster: its queue, its nodes, what it was asked.
pub struct World {
    /// The folder of tasks reported before the run (`report`).
    pub dir: PathBuf,
    pub plan: Box<dyn Fn(ArrayTask) -> Plan>,
    pub live: Vec<Live>,
    pub step: usize,
    pub next_job: u32,
    /// Each submission's tasks, in order.
    pub submitted: Vec<Vec<ArrayTask>>,
    /// Submissions to fail, counted down.
    pub failing_submissions: usize,
    /// Whether a failed submission went through all the same (sbatch
    /// timed out after the controller took it).
    pub ghosts: bool,
    /// Steps at which the queue does not answer.
    pub silent: std::ops::Range<usize>,
    /// Every cancellation: targets, and whether it was a kill.
    pub cancelled: Vec<(Vec<String>, bool)>,
    /// Letters seen with two attempts in the queue at once.
    pub overlaps: Vec<UnitType>,
    /// Whether the world stands still: asking the queue moves nothing (a
    /// snapshot of a queue, for a view that must not change it).
    pub frozen: bool,
}

impl World {
    /// One step of the world: tasks start, run, report or vanish.
    pub fn step(&mut self) {
        self.step += 1;
        if self.frozen {
            return;
        }
        let mut index = 0;
        while index < self.live.len() {
            let live = &mut self.live[index];
            if live.foreign {
                index += 1;
                continue;
            }
            let Some(steps) = live.running else {
                live.running = Some(0);
                live.node = Some(format!(
                    "n{}",
                    (live.task.letter.letter() as usize - 97) % 3 + 1
                ));
                let mark = format!("{} {}\n", now_nanos(), live.node.as_deref().unwrap());
                std::fs::write(live.task.file(&live.folder(), TaskFile::StartMark), mark).unwrap();
                index += 1;
                continue;
            };
            live.running = Some(steps + 1);
            let task = live.task;
            let folder = live.folder();
            let gone = match (self.plan)(task) {
                Report {
                    steps: after,
                    code,
                    length,
                } if steps + 1 >= after => {
                    report(&folder, task, code, length);
                    true
                }
                Requeued {
                    steps: after,
                    length,
                } if steps + 1 >= after => {
                    if live.requeued {
                        report(&folder, task, 0, length);
                        true
                    } else {
                        live.requeued = true;
                        live.running = None;
                        false
                    }
                }
                Vanish { steps: after } => steps + 1 >= after,
                _ => false,
            };
            if gone {
                self.live.remove(index);
            } else {
                index += 1;
            }
        }
    }

    /// Reports `task`'s end into the folder of earlier tasks.
    pub fn report(&self, task: ArrayTask, code: i32, length: usize) {
        report(&self.dir, task, code, length);
    }
}

/// Writes what a task leaves when it ends with `code` (and, with 0, a
/// result of `length`) into the array's folder `dir`.
fn report(dir: &Path, task: ArrayTask, code: i32, length: usize) {
    {
        if code == 0 {
            protocol::write_result(&task.file(dir, TaskFile::Result), length).unwrap();
        } else {
            std::fs::write(task.file(dir, TaskFile::Stderr), "it went wrong\n").unwrap();
        }
        std::fs::write(task.file(dir, TaskFile::Status), format!("{code}\n")).unwrap();
    }
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

#[derive(Clone)]
pub struct FakeQueue(pub Rc<RefCell<World>>);

impl Queue for FakeQueue {
    fn submit(&mut self, submission: &Submission) -> anyhow::Result<String> {
        let mut world = self.0.borrow_mut();
        let failing = world.failing_submissions > 0;
        if failing {
            world.failing_submissions -= 1;
            if !world.ghosts {
                anyhow::bail!("sbatch failed: Socket timed out");
            }
        }
        world.next_job += 1;
        let job = world.next_job.to_string();
        for (index, &task) in submission.tasks.iter().enumerate() {
            if world.live.iter().any(|l| l.task.letter == task.letter) {
                world.overlaps.push(task.letter);
            }
            world.live.push(Live {
                id: format!("{job}_{index}"),
                name: submission.name.to_string(),
                script: submission.script.to_path_buf(),
                foreign: false,
                task,
                node: None,
                running: None,
                requeued: false,
            });
        }
        world.submitted.push(submission.tasks.to_vec());
        if failing {
            anyhow::bail!("sbatch did not answer within 30 s");
        }
        Ok(job)
    }

    fn queued(&mut self, ours: &Identity) -> Option<Vec<Queued>> {
        let mut world = self.0.borrow_mut();
        world.step();
        if world.silent.contains(&world.step) {
            return None;
        }
        Some(
            world
                .live
                .iter()
                .filter(|l| l.name == ours.name && ours.runs_ours(&l.script.to_string_lossy()))
                .map(|l| Queued {
                    id: l.id.clone(),
                    node: l.node.clone(),
                })
                .collect(),
        )
    }

    fn cancel(&mut self, ours: &Identity, targets: &[String], kill: bool) {
        let mut world = self.0.borrow_mut();
        world.cancelled.push((targets.to_vec(), kill));
        // As scancel does: a task by its id alone, a whole job by id and
        // name.
        world.live.retain(|l| {
            let job = l.id.split('_').next().unwrap_or("");
            !targets
                .iter()
                .any(|t| *t == l.id || (*t == job && l.name == ours.name))
        });
    }
}

impl World {
    /// A world whose tasks follow `plan`, with earlier tasks' files in
    /// `dir`.
    pub fn new(dir: PathBuf, plan: impl Fn(ArrayTask) -> Plan + 'static) -> World {
        World {
            dir,
            plan: Box::new(plan),
            live: Vec::new(),
            step: 0,
            next_job: 0,
            submitted: Vec::new(),
            failing_submissions: 0,
            ghosts: false,
            silent: 0..0,
            cancelled: Vec::new(),
            overlaps: Vec::new(),
            frozen: false,
        }
    }

    /// Puts a task of the array named `name` in `folder` in the queue as
    /// job `id`: pending, or running on `node`.
    pub fn hold(
        &mut self,
        id: &str,
        name: &str,
        folder: &Path,
        task: ArrayTask,
        node: Option<&str>,
    ) {
        self.live.push(Live {
            id: id.to_string(),
            name: name.to_string(),
            script: folder.join("submission-1.sh"),
            foreign: false,
            task,
            node: node.map(String::from),
            running: node.map(|_| 0),
            requeued: false,
        });
    }
}
