//! The loop's decisions in time (timeouts, the grace period, the escalation
//! to a kill, retries, a time limit that waits for the start mark) over a
//! fake backend on a fake clock: no process, no sleep. Each attempt has a
//! script in fake time; the backend writes down every signal it is sent,
//! and when.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use super::backend::Mark;
use super::clock::FakeClock;
use super::*;

const SECOND: Duration = Duration::from_secs(1);

/// What one attempt does, in seconds of fake time from its spawn.
#[derive(Clone, Copy, Debug)]
struct Script {
    /// Writes its start mark then (`None`: never).
    marks_at: Option<u64>,
    /// Ends by itself then with this outcome (`None`: runs until stopped).
    ends_at: Option<(u64, Outcome2)>,
    /// Ends when asked to stop (else only when killed).
    heeds_stop: bool,
}

/// An outcome without data, so a script can be `Copy`.
#[derive(Clone, Copy, Debug)]
enum Outcome2 {
    Ok(usize),
    Exit(i32),
}

struct Acting {
    letter: UnitType,
    attempt: u32,
    spawned: Instant,
    script: Script,
    marked: bool,
    ended: bool,
}

/// A backend whose attempts follow their scripts, on the fake clock.
struct Scripted<'a> {
    clock: &'a FakeClock,
    script: &'a dyn Fn(UnitType, u32) -> Script,
    start: Start,
    /// Every signal sent: letter, attempt, what, and how long after the
    /// attempt's spawn.
    sent: &'a RefCell<Vec<(char, u32, Signal, Duration)>>,
    /// The next starts' refusals, one per start, before any start succeeds.
    refusals: RefCell<Vec<StartError>>,
    /// When each start was tried, from the run's beginning.
    tries: &'a RefCell<Vec<Duration>>,
    epoch: Instant,
    /// Asked to stop the run at the first refusal.
    stop_at_refusal: Option<&'a Signals>,
}

impl Scripted<'_> {
    fn at(&self, task: &Acting, seconds: u64) -> bool {
        self.clock.now() >= task.spawned + SECOND * seconds as u32
    }
}

impl Backend for Scripted<'_> {
    type Handle = Acting;

    fn batch_size(&self) -> usize {
        1
    }

    fn start(&mut self, wanted: &[(UnitType, u32)]) -> Vec<Result<Started<Acting>, StartError>> {
        let now = self.clock.now();
        wanted
            .iter()
            .map(|&(letter, attempt)| {
                self.tries.borrow_mut().push(now - self.epoch);
                let mut refusals = self.refusals.borrow_mut();
                if !refusals.is_empty() {
                    if let Some(signals) = self.stop_at_refusal {
                        signals.request_stop(crate::sys::signals::Signal::Interrupt);
                    }
                    return Err(refusals.remove(0));
                }
                Ok(Started {
                    handle: Acting {
                        letter,
                        attempt,
                        spawned: now,
                        script: (self.script)(letter, attempt),
                        marked: false,
                        ended: false,
                    },
                    spawned: now,
                    started: (self.start == Start::Spawn).then_some(now),
                    start: self.start,
                    host: None,
                })
            })
            .collect()
    }

    fn look(&mut self, task: &mut Acting) -> Option<Mark> {
        let at = task.script.marks_at?;
        if task.marked || !self.at(task, at) {
            return None;
        }
        task.marked = true;
        Some(Mark {
            at: task.spawned + SECOND * at as u32,
            host: Some("n1".into()),
        })
    }

    fn has_ended(&mut self, task: &mut Acting) -> bool {
        if let Some((at, _)) = task.script.ends_at
            && self.at(task, at)
        {
            task.ended = true;
        }
        task.ended
    }

    fn signal(&mut self, task: &mut Acting, signal: Signal) {
        let after = self.clock.now() - task.spawned;
        self.sent
            .borrow_mut()
            .push((task.letter.letter(), task.attempt, signal, after));
        if signal == Signal::Kill || task.script.heeds_stop {
            task.ended = true;
        }
    }

    fn conclude(&mut self, task: Acting, _stopped: bool) -> Concluded {
        let outcome = match task.script.ends_at {
            Some((at, Outcome2::Ok(length))) if self.at(&task, at) => Outcome::Ok(length),
            Some((at, Outcome2::Exit(code))) if self.at(&task, at) => Outcome::Exit(code),
            _ => Outcome::Signal(15),
        };
        Concluded {
            outcome,
            host: None,
            stderr_tail: Vec::new(),
        }
    }

    fn finish(&mut self, _signals: &Signals, _interrupted: bool) {}
}

struct Run {
    attempts: Vec<(char, u32, Outcome, Duration)>,
    sent: Vec<(char, u32, Signal, Duration)>,
    waited: Duration,
    /// When each start was tried.
    tries: Vec<Duration>,
    interrupted: Option<i32>,
}

fn supervise(policy: Policy, start: Start, script: &dyn Fn(UnitType, u32) -> Script) -> Run {
    supervise_refused(policy, start, script, Vec::new(), false)
}

/// As [`supervise`], with the first starts refused as `refusals` say (and
/// the run asked to stop at the first, with `stop`).
fn supervise_refused(
    policy: Policy,
    start: Start,
    script: &dyn Fn(UnitType, u32) -> Script,
    refusals: Vec<StartError>,
    stop: bool,
) -> Run {
    let clock = FakeClock::default();
    let signals = Signals::detached().unwrap();
    let sent = RefCell::new(Vec::new());
    let tries = RefCell::new(Vec::new());
    let backend = Scripted {
        clock: &clock,
        script,
        start,
        sent: &sent,
        refusals: RefCell::new(refusals),
        tries: &tries,
        epoch: clock.now(),
        stop_at_refusal: stop.then_some(&signals),
    };
    let context = Context {
        policy: &policy,
        signals: &signals,
        clock: &clock,
        epoch: clock.now(),
    };
    let mut settled = |_: &Attempt| {};
    let letters = [UnitType::from_ascii(b'a').unwrap()];
    let supervision =
        Supervisor::new(backend, context, &mut settled).run(letters.map(|letter| (letter, 1)));
    Run {
        attempts: supervision
            .attempts
            .into_iter()
            .map(|a| (a.letter.letter(), a.attempt, a.outcome, a.duration))
            .collect(),
        sent: sent.into_inner(),
        waited: clock.waited(),
        tries: tries.into_inner(),
        interrupted: supervision.interrupted,
    }
}

fn policy(timeout: u64, grace: u64, retries: u32) -> Policy {
    Policy {
        timeout: Some(SECOND * timeout as u32),
        grace: SECOND * grace as u32,
        retries,
        max_poll: Duration::from_millis(100),
        ..Policy::default()
    }
}

fn hangs(heeds_stop: bool) -> Script {
    Script {
        marks_at: None,
        ends_at: None,
        heeds_stop,
    }
}

fn ends(at: u64, outcome: Outcome2) -> Script {
    Script {
        marks_at: None,
        ends_at: Some((at, outcome)),
        heeds_stop: true,
    }
}

/// Within 100 ms of fake time (the longest poll interval).
#[track_caller]
fn about(got: Duration, seconds: f64) {
    let want = Duration::from_secs_f64(seconds);
    assert!(
        got >= want && got <= want + Duration::from_millis(100),
        "{got:?} is not about {want:?}"
    );
}

#[test]
fn an_attempt_past_its_timeout_is_asked_to_stop_at_the_timeout_and_counts_as_timed_out() {
    let run = supervise(policy(5, 2, 0), Start::Spawn, &|_, _| hangs(true));
    assert_eq!(run.sent.len(), 1, "{:?}", run.sent);
    let (_, _, signal, after) = run.sent[0];
    assert_eq!(signal, Signal::Stop);
    about(after, 5.0);
    assert_eq!(run.attempts.len(), 1);
    assert_eq!(run.attempts[0].2, Outcome::Timeout);
    about(run.attempts[0].3, 5.0);
}

#[test]
fn an_attempt_that_ignores_the_stop_is_killed_once_the_grace_period_is_over() {
    let run = supervise(policy(5, 2, 0), Start::Spawn, &|_, _| hangs(false));
    let signals: Vec<Signal> = run.sent.iter().map(|s| s.2).collect();
    assert_eq!(signals, [Signal::Stop, Signal::Kill]);
    about(run.sent[0].3, 5.0);
    about(run.sent[1].3, 7.0);
    assert_eq!(run.attempts[0].2, Outcome::Timeout);
    // Nothing slept: the whole run took no real time to decide.
    about(run.waited, 7.0);
}

#[test]
fn an_attempt_that_ends_before_its_timeout_is_never_signalled() {
    let run = supervise(policy(5, 2, 0), Start::Spawn, &|_, _| {
        ends(4, Outcome2::Ok(9))
    });
    assert!(run.sent.is_empty(), "{:?}", run.sent);
    assert_eq!(run.attempts[0].2, Outcome::Ok(9));
    about(run.attempts[0].3, 4.0);
}

#[test]
fn a_timed_out_attempt_is_retried_and_the_retry_has_a_time_limit_of_its_own() {
    let script = |_, attempt| match attempt {
        1 => hangs(true),
        _ => ends(4, Outcome2::Ok(3)),
    };
    let run = supervise(policy(5, 2, 1), Start::Spawn, &script);
    let outcomes: Vec<_> = run.attempts.iter().map(|a| (a.1, a.2.clone())).collect();
    assert_eq!(outcomes, [(1, Outcome::Timeout), (2, Outcome::Ok(3))]);
    assert_eq!(run.sent.len(), 1, "only the first attempt was stopped");
}

#[test]
fn a_failure_is_retried_until_the_retries_run_out() {
    let run = supervise(policy(5, 2, 2), Start::Spawn, &|_, _| {
        ends(1, Outcome2::Exit(3))
    });
    let outcomes: Vec<_> = run.attempts.iter().map(|a| (a.1, a.2.clone())).collect();
    assert_eq!(
        outcomes,
        [
            (1, Outcome::Exit(3)),
            (2, Outcome::Exit(3)),
            (3, Outcome::Exit(3))
        ]
    );
}

#[test]
fn under_a_scheduler_the_time_limit_counts_from_the_start_mark_not_the_submission() {
    // Queued for 10 s, marked at 10 s, ends at 14 s: within 5 s of its
    // start, so no timeout although 14 s passed since the submission.
    let queued = |_, _| Script {
        marks_at: Some(10),
        ends_at: Some((14, Outcome2::Ok(2))),
        heeds_stop: true,
    };
    let run = supervise(policy(5, 2, 0), Start::Mark, &queued);
    assert!(run.sent.is_empty(), "{:?}", run.sent);
    assert_eq!(run.attempts[0].2, Outcome::Ok(2));
    about(run.attempts[0].3, 4.0);
    // Started at 10 s, it is stopped at 15 s when it runs on.
    let overrun = |_, _| Script {
        marks_at: Some(10),
        ends_at: None,
        heeds_stop: true,
    };
    let run = supervise(policy(5, 2, 0), Start::Mark, &overrun);
    about(run.sent[0].3, 15.0);
    assert_eq!(run.attempts[0].2, Outcome::Timeout);
}

#[test]
fn under_another_launcher_the_time_limit_counts_from_the_spawn_until_a_mark_moves_it() {
    let marked_late = |_, _| Script {
        marks_at: Some(3),
        ends_at: None,
        heeds_stop: true,
    };
    let run = supervise(policy(5, 2, 0), Start::SpawnUntilMark, &marked_late);
    about(run.sent[0].3, 8.0);
    let never_marked = |_, _| hangs(true);
    let run = supervise(policy(5, 2, 0), Start::SpawnUntilMark, &never_marked);
    about(run.sent[0].3, 5.0);
}

fn passing(times: usize) -> Vec<StartError> {
    vec![
        StartError {
            reason: "Resource temporarily unavailable (os error 11)".into(),
            may_pass: true,
        };
        times
    ]
}

/// Within 10 ms of fake time.
#[track_caller]
fn close_to(got: Duration, millis: u64) {
    let want = Duration::from_millis(millis);
    assert!(
        got >= want && got <= want + Duration::from_millis(10),
        "{got:?} is not about {want:?}"
    );
}

#[test]
fn a_start_refused_for_a_reason_that_may_pass_is_tried_again_after_doubling_pauses() {
    let run = supervise_refused(
        policy(5, 2, 0),
        Start::Spawn,
        &|_, _| ends(1, Outcome2::Ok(4)),
        passing(2),
        false,
    );
    assert_eq!(run.tries.len(), 3, "{:?}", run.tries);
    close_to(run.tries[0], 0);
    close_to(run.tries[1], 50);
    close_to(run.tries[2], 150);
    let outcomes: Vec<_> = run.attempts.iter().map(|a| (a.1, a.2.clone())).collect();
    assert_eq!(
        outcomes,
        [(1, Outcome::Ok(4))],
        "a refused start is not an attempt, and uses no retry"
    );
}

#[test]
fn a_start_refused_for_a_lasting_reason_fails_the_attempt_at_once() {
    let run = supervise_refused(
        policy(5, 2, 0),
        Start::Spawn,
        &|_, _| ends(1, Outcome2::Ok(4)),
        vec![StartError::lasting(
            "No such file or directory (os error 2)",
        )],
        false,
    );
    assert_eq!(run.tries.len(), 1);
    let outcomes: Vec<_> = run.attempts.iter().map(|a| (a.1, a.2.clone())).collect();
    assert_eq!(
        outcomes,
        [(
            1,
            Outcome::SpawnError("No such file or directory (os error 2)".into())
        )]
    );
}

#[test]
fn a_start_refused_every_time_fails_the_attempt_after_its_tries_saying_how_many() {
    let run = supervise_refused(
        policy(5, 2, 0),
        Start::Spawn,
        &|_, _| ends(1, Outcome2::Ok(4)),
        passing(100),
        false,
    );
    assert_eq!(run.tries.len(), policy::START_TRIES as usize);
    close_to(*run.tries.last().unwrap(), 50 + 100 + 200 + 400);
    assert_eq!(run.attempts.len(), 1);
    assert_eq!(
        run.attempts[0].2,
        Outcome::SpawnError(
            "Resource temporarily unavailable (os error 11) (tried 5 times)".into()
        )
    );
}

#[test]
fn a_stop_request_while_a_refused_start_waits_ends_the_run_without_trying_it_again() {
    let run = supervise_refused(
        policy(5, 2, 0),
        Start::Spawn,
        &|_, _| ends(1, Outcome2::Ok(4)),
        passing(1),
        true,
    );
    assert_eq!(run.tries.len(), 1, "{:?}", run.tries);
    assert_eq!(
        run.interrupted,
        Some(crate::sys::signals::Signal::Interrupt.number())
    );
    assert!(run.attempts.is_empty(), "{:?}", run.attempts);
    assert!(run.waited < Duration::from_millis(50), "{:?}", run.waited);
}
