//! Every decision about array tasks, made by the one supervision loop over a
//! fake queue: no Slurm, no process. The fake moves one step each time it
//! is asked what it holds: a task submitted is pending, then runs on its
//! node (writing its start mark), then does what its plan says.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use super::*;
use crate::supervise::clock::FakeClock;
use crate::supervise::{Attempt, Context, Policy, Supervisor};

use crate::supervise::fake_queue::{FakeQueue, Live, Plan, World, ok};
use Plan::*;

/// A run of the array over the fake, and what it left.
struct Run {
    attempts: Vec<Attempt>,
    interrupted: Option<i32>,
    world: Rc<RefCell<World>>,
    /// The step at which each attempt settled, in order.
    settled_at: Vec<usize>,
    recorded: Vec<Submitted>,
    _dir: tempfile::TempDir,
}

impl Run {
    fn outcome(&self, letter: char) -> Vec<(u32, Outcome)> {
        self.attempts
            .iter()
            .filter(|a| a.letter.letter() == letter)
            .map(|a| (a.attempt, a.outcome.clone()))
            .collect()
    }

    fn world(&self) -> std::cell::Ref<'_, World> {
        self.world.borrow()
    }
}

/// An earlier submission: its tasks, and those that reported a length.
type Earlier = (Vec<ArrayTask>, Vec<(ArrayTask, usize)>);

struct Setup {
    plan: Box<dyn Fn(ArrayTask) -> Plan>,
    policy: Policy,
    letters: &'static str,
    failing_submissions: usize,
    ghosts: bool,
    silent: std::ops::Range<usize>,
    /// Tasks of an earlier run, for `--resume`: submitted into the fake
    /// queue (and reported, where `reported` says) before the run.
    earlier: Vec<Earlier>,
    /// Tasks of `earlier` that left the queue without a word.
    vanished: Vec<ArrayTask>,
    /// A job of someone else, under a reused id, holding these tasks.
    foreign: Vec<ArrayTask>,
    stop_at_step: Option<usize>,
    queue_poll: Duration,
}

fn setup(plan: impl Fn(ArrayTask) -> Plan + 'static) -> Setup {
    Setup {
        plan: Box::new(plan),
        policy: Policy {
            first_poll: Duration::from_millis(1),
            max_poll: Duration::from_millis(2),
            grace: Duration::from_millis(50),
            ..Policy::default()
        },
        letters: "abc",
        failing_submissions: 0,
        ghosts: false,
        silent: 0..0,
        earlier: Vec::new(),
        vanished: Vec::new(),
        foreign: Vec::new(),
        stop_at_step: None,
        queue_poll: Duration::ZERO,
    }
}

/// A plan in which `which` does `plan` and every other task `rest`.
fn one_task(which: ArrayTask, plan: Plan, rest: Plan) -> impl Fn(ArrayTask) -> Plan {
    move |t| if t == which { plan } else { rest }
}

fn task(letter: char, attempt: u32) -> ArrayTask {
    ArrayTask {
        letter: UnitType::from_ascii(letter as u8).unwrap(),
        attempt,
    }
}

impl Setup {
    // Test set-up: the fake world, an earlier run's submissions, the run.
    #[allow(clippy::too_many_lines)]
    fn run(self) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let spec = ArraySpec {
            dir: dir.path().to_path_buf(),
            program: PathBuf::from("/bin/reduce"),
            sbatch_args: Vec::new(),
            name: "slurm-array-1-1".into(),
            polymer_len: 100,
            queue_poll: self.queue_poll,
        };
        let mut world = World::new(spec.dir.clone(), self.plan);
        world.ghosts = self.ghosts;
        world.silent = self.silent;
        let world = Rc::new(RefCell::new(world));
        let mut queue = FakeQueue(Rc::clone(&world));
        let mut earlier = Vec::new();
        for (tasks, reported) in &self.earlier {
            let job_id = queue
                .submit(&Submission {
                    script: &spec.dir.join("submission-0.sh"),
                    name: &spec.name,
                    tasks,
                    options: &[],
                })
                .unwrap();
            for &(task, length) in reported {
                world.borrow().report(task, 0, length);
                world.borrow_mut().live.retain(|l| l.task != task);
            }
            earlier.push(Submitted {
                job_id,
                tasks: tasks.clone(),
            });
        }
        world
            .borrow_mut()
            .live
            .retain(|l| !self.vanished.contains(&l.task));
        if !self.foreign.is_empty() {
            // The controller lost its state: job ids start again, and the
            // id of an earlier task now names someone else's job, with the
            // same name even, but another script.
            let mut w = world.borrow_mut();
            let mut taken = Vec::new();
            w.live.retain(|l| {
                let foreign = self.foreign.contains(&l.task);
                if foreign {
                    taken.push((l.id.clone(), l.task));
                }
                !foreign
            });
            for (id, task) in taken {
                w.live.push(Live {
                    id,
                    name: spec.name.clone(),
                    script: PathBuf::from("/home/someone/else.sh"),
                    foreign: true,
                    task,
                    node: Some("n9".into()),
                    running: Some(0),
                    requeued: false,
                });
            }
        }
        world.borrow_mut().failing_submissions = self.failing_submissions;
        let mut recorded = Vec::new();
        let mut on_submit = |s: &Submitted| recorded.push(s.clone());
        let mut settled_at = Vec::new();
        let signals = Signals::detached().unwrap();
        let mut progress = |_: &Attempt| settled_at.push(world.borrow().step);
        let letters = UnitType::parse_set(self.letters).unwrap();
        let clock = FakeClock::default();
        let mut array = Array::new(
            &spec,
            FakeQueue(Rc::clone(&world)),
            &clock,
            1,
            &mut on_submit,
        );
        let (adopted, todo) = array.adopt(&earlier, &letters);
        let stop_at = self.stop_at_step;
        let watcher = StopAt {
            inner: array,
            signals: &signals,
            world: Rc::clone(&world),
            at: stop_at,
        };
        let context = Context {
            policy: &self.policy,
            signals: &signals,
            clock: &clock,
            epoch: clock.now(),
        };
        let mut supervisor = Supervisor::new(watcher, context, &mut progress);
        for (task, started) in adopted {
            supervisor.adopt(task.letter, task.attempt, started);
        }
        let supervision = supervisor.run(todo);
        Run {
            attempts: supervision.attempts,
            interrupted: supervision.interrupted,
            world,
            settled_at,
            recorded,
            _dir: dir,
        }
    }
}

/// The array backend, with a stop request made up at a given step.
struct StopAt<'a, 'b> {
    inner: Array<'a, FakeQueue>,
    signals: &'b Signals,
    world: Rc<RefCell<World>>,
    at: Option<usize>,
}

impl Backend for StopAt<'_, '_> {
    type Handle = TaskHandle;
    fn batch_size(&self) -> usize {
        self.inner.batch_size()
    }
    fn start(
        &mut self,
        wanted: &[(UnitType, u32)],
    ) -> Vec<Result<Started<TaskHandle>, StartError>> {
        self.inner.start(wanted)
    }
    fn refresh(&mut self, now: Instant) {
        if self.at.is_some_and(|at| self.world.borrow().step >= at) {
            self.at = None;
            self.signals
                .request_stop(crate::sys::signals::Signal::Terminate);
        }
        self.inner.refresh(now)
    }
    fn look(&mut self, task: &mut TaskHandle) -> Option<Mark> {
        self.inner.look(task)
    }
    fn has_ended(&mut self, task: &mut TaskHandle) -> bool {
        self.inner.has_ended(task)
    }
    fn signal(&mut self, task: &mut TaskHandle, signal: Signal) {
        self.inner.signal(task, signal)
    }
    fn conclude(&mut self, task: TaskHandle, stopped: bool) -> Concluded {
        self.inner.conclude(task, stopped)
    }
    fn finish(&mut self, signals: &Signals, interrupted: bool) {
        self.inner.finish(signals, interrupted)
    }
}

#[test]
fn every_task_that_reports_gives_its_letter_its_length_and_host() {
    let run = setup(|t| ok(10 + (t.letter.letter() as usize - 97))).run();
    assert_eq!(run.outcome('a'), [(1, Outcome::Ok(10))]);
    assert_eq!(run.outcome('b'), [(1, Outcome::Ok(11))]);
    assert_eq!(run.outcome('c'), [(1, Outcome::Ok(12))]);
    let hosts: Vec<_> = run.attempts.iter().map(|a| a.host.clone()).collect();
    assert!(
        hosts
            .iter()
            .all(|h| h.as_deref().is_some_and(|h| h.starts_with('n'))),
        "{hosts:?}"
    );
    let world = run.world();
    assert_eq!(world.submitted.len(), 1, "one submission for every letter");
    assert!(world.live.is_empty(), "nothing left in the queue");
    assert!(world.cancelled.is_empty());
    assert_eq!(run.recorded.len(), 1, "the submission was recorded");
}

#[test]
fn a_task_lost_without_a_report_fails_its_letter_naming_its_node() {
    let run = setup(|t| {
        if t.letter.letter() == 'b' {
            Vanish { steps: 2 }
        } else {
            ok(5)
        }
    })
    .run();
    assert_eq!(run.outcome('b'), [(1, Outcome::Lost)]);
    let lost = run
        .attempts
        .iter()
        .find(|a| a.outcome == Outcome::Lost)
        .unwrap();
    assert_eq!(lost.host.as_deref(), Some("n2"));
    // Fail-fast: the others were cancelled (or had already reported).
    assert!(
        run.attempts.iter().all(|a| a.letter.letter() == 'b'
            || matches!(a.outcome, Outcome::Ok(5) | Outcome::Cancelled))
    );
    assert!(run.world().live.is_empty());
}

#[test]
fn a_lost_task_is_retried_as_a_new_submission_and_counts_once() {
    let mut s = setup(one_task(task('b', 1), Vanish { steps: 2 }, ok(7)));
    s.policy.retries = 1;
    let run = s.run();
    assert_eq!(run.outcome('b'), [(1, Outcome::Lost), (2, Outcome::Ok(7))]);
    assert_eq!(run.outcome('a'), [(1, Outcome::Ok(7))]);
    let world = run.world();
    assert_eq!(
        world.submitted,
        [
            vec![task('a', 1), task('b', 1), task('c', 1)],
            vec![task('b', 2)]
        ]
    );
    assert!(
        world.overlaps.is_empty(),
        "never two attempts of one letter queued at once"
    );
}

#[test]
fn a_task_submitted_after_the_queue_was_last_asked_is_not_taken_for_lost() {
    let mut s = setup(one_task(task('a', 1), Vanish { steps: 1 }, ok(7)));
    s.letters = "a";
    s.policy.retries = 1;
    // The queue is asked at most every 30 ms: the retry is submitted
    // right after a view that cannot list it yet.
    s.queue_poll = Duration::from_millis(30);
    let run = s.run();
    assert_eq!(run.outcome('a'), [(1, Outcome::Lost), (2, Outcome::Ok(7))]);
}

#[test]
fn a_task_requeued_by_slurm_is_the_same_attempt_and_is_waited_for() {
    let mut s = setup(|t| {
        if t.letter.letter() == 'a' {
            Requeued {
                steps: 2,
                length: 3,
            }
        } else {
            ok(4)
        }
    });
    s.policy.retries = 2;
    let run = s.run();
    assert_eq!(run.outcome('a'), [(1, Outcome::Ok(3))]);
    assert_eq!(run.world().submitted.len(), 1, "nothing submitted again");
    assert!(run.world().cancelled.is_empty());
}

#[test]
fn a_task_past_its_timeout_is_cancelled_and_retried_only_once_it_left_the_queue() {
    let mut s = setup(one_task(task('c', 1), Hang, ok(2)));
    // Long enough that the others, done within a few passes, never reach
    // it even on a loaded machine.
    s.policy.timeout = Some(Duration::from_millis(500));
    s.policy.retries = 1;
    let run = s.run();
    assert_eq!(
        run.outcome('c'),
        [(1, Outcome::Timeout), (2, Outcome::Ok(2))]
    );
    let world = run.world();
    assert_eq!(
        world.cancelled.first().map(|(t, kill)| (t.len(), *kill)),
        Some((1, false))
    );
    assert!(world.overlaps.is_empty());
    assert!(world.live.is_empty());
}

#[test]
fn a_failed_submission_is_a_failed_attempt_retried_like_any_other() {
    let mut s = setup(|_| ok(9));
    s.failing_submissions = 1;
    s.policy.retries = 1;
    let run = s.run();
    for letter in ['a', 'b', 'c'] {
        let outcomes = run.outcome(letter);
        assert!(
            matches!(outcomes[0], (1, Outcome::SpawnError(ref why)) if why.contains("sbatch failed")),
            "{outcomes:?}"
        );
        assert_eq!(outcomes[1], (2, Outcome::Ok(9)));
    }
    assert_eq!(run.world().submitted.len(), 1);
}

#[test]
fn a_submission_that_went_through_although_sbatch_failed_is_cancelled() {
    let mut s = setup(|_| Hang);
    s.letters = "ab";
    s.failing_submissions = 1;
    s.ghosts = true;
    s.policy.keep_going = true;
    s.stop_at_step = Some(20);
    let run = s.run();
    let world = run.world();
    assert_eq!(world.submitted.len(), 1, "no retry without --retries");
    let cancelled: Vec<&String> = world.cancelled.iter().flat_map(|(t, _)| t).collect();
    assert_eq!(cancelled, ["1_0", "1_1"], "the tasks nobody tracks");
    assert!(world.live.is_empty(), "nothing of it is left in the queue");
    assert!(
        run.attempts
            .iter()
            .all(|a| matches!(a.outcome, Outcome::SpawnError(_)))
    );
}

#[test]
fn a_failed_submission_without_retries_fails_the_run() {
    let mut s = setup(|_| ok(9));
    s.failing_submissions = 1;
    let run = s.run();
    assert_eq!(run.attempts.len(), 3);
    assert!(
        run.attempts
            .iter()
            .all(|a| matches!(a.outcome, Outcome::SpawnError(_)))
    );
    assert!(run.world().submitted.is_empty());
}

#[test]
fn nothing_is_concluded_while_the_queue_does_not_answer() {
    let mut s = setup(|t| {
        if t.letter.letter() == 'a' {
            Vanish { steps: 1 }
        } else {
            Hang
        }
    });
    s.letters = "ab";
    s.silent = 2..40;
    s.policy.keep_going = true;
    s.stop_at_step = Some(60);
    let run = s.run();
    assert_eq!(run.outcome('a'), [(1, Outcome::Lost)]);
    assert!(
        run.settled_at[0] >= 40,
        "lost only once the queue answered: {:?}",
        run.settled_at
    );
    assert_eq!(run.outcome('b'), [(1, Outcome::Cancelled)]);
    assert_eq!(
        run.interrupted,
        Some(crate::sys::signals::Signal::Terminate.number())
    );
}

#[test]
fn a_stop_request_cancels_every_task_and_waits_until_the_queue_is_empty() {
    let mut s = setup(|_| Hang);
    s.stop_at_step = Some(3);
    let run = s.run();
    assert_eq!(
        run.interrupted,
        Some(crate::sys::signals::Signal::Terminate.number())
    );
    assert!(run.attempts.iter().all(|a| a.outcome == Outcome::Cancelled));
    assert_eq!(run.attempts.len(), 3);
    assert!(run.world().live.is_empty());
}

#[test]
fn a_failure_without_keep_going_cancels_the_other_tasks() {
    let run = setup(|t| match t.letter.letter() {
        'a' => Report {
            steps: 2,
            code: 3,
            length: 0,
        },
        _ => Hang,
    })
    .run();
    let a = &run
        .attempts
        .iter()
        .find(|a| a.letter.letter() == 'a')
        .unwrap();
    assert_eq!(a.outcome, Outcome::Exit(3));
    assert_eq!(a.stderr_tail, ["it went wrong"]);
    assert_eq!(run.outcome('b'), [(1, Outcome::Cancelled)]);
    assert_eq!(run.outcome('c'), [(1, Outcome::Cancelled)]);
    assert!(run.world().live.is_empty());
}

#[test]
fn resume_adopts_what_is_ours_and_submits_the_rest_again() {
    let mut s = setup(|_| ok(6));
    s.letters = "abcd";
    // An earlier run submitted a-d: a reported, b is still queued, c left
    // without a word, and d's job id now belongs to someone else's job.
    s.earlier = vec![(
        vec![task('a', 1), task('b', 1), task('c', 1), task('d', 1)],
        vec![(task('a', 1), 8)],
    )];
    s.vanished = vec![task('c', 1)];
    s.foreign = vec![task('d', 1)];
    let run = s.run();
    assert_eq!(run.outcome('a'), [(1, Outcome::Ok(8))]);
    assert_eq!(run.outcome('b'), [(1, Outcome::Ok(6))]);
    assert_eq!(run.outcome('c'), [(2, Outcome::Ok(6))]);
    assert_eq!(run.outcome('d'), [(2, Outcome::Ok(6))]);
    let world = run.world();
    assert_eq!(
        world.submitted.last().unwrap(),
        &vec![task('c', 2), task('d', 2)]
    );
    let foreign = world.live.iter().filter(|l| l.foreign).count();
    assert_eq!(
        foreign, 1,
        "someone else's job was neither waited on nor cancelled"
    );
    assert!(world.cancelled.is_empty());
}

#[test]
fn resume_waits_for_every_task_while_the_queue_does_not_answer() {
    let mut s = setup(|_| ok(6));
    s.letters = "ab";
    s.earlier = vec![(vec![task('a', 1), task('b', 1)], vec![])];
    s.silent = 1..2;
    let run = s.run();
    assert_eq!(run.outcome('a'), [(1, Outcome::Ok(6))]);
    assert_eq!(run.outcome('b'), [(1, Outcome::Ok(6))]);
    assert_eq!(
        run.world().submitted.len(),
        1,
        "only the earlier submission"
    );
}
