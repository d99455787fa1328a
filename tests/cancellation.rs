//! Cancellation: the future of an annotated method dropped at each of its await points — never
//! polled, inside an attempt, in the backoff sleep, inside a retry, inside a half-open probe —
//! leaks no half-open slot, records nothing on the breaker, counts no result and counts exactly
//! the attempts that started.
//!
//! The bodies are scripted by the test (answer, fail transiently, or hang), time is paused, and
//! the futures are polled by hand with a no-op waker, so each test knows exactly which await
//! point a future is parked at when it is dropped. Then the same invariants under random
//! scripts and random cancellation times (proptest).
//!
//! Metrics are process-wide: each test drives operations no other test in this binary uses and
//! compares deltas.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::task::{Context, Waker};
use std::time::Duration;

use proptest::prelude::*;
use s3_ops_runtime::metrics::{self, OperationResult};
use s3_ops_runtime::{s3_operation, BreakerConfig, CircuitBreaker, CircuitState, S3Error};

/// What one attempt of a scripted body does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    /// Returns `Ok(attempt number)`.
    Answer,
    /// Fails with `SlowDown` (503): retried.
    Throttled,
    /// Fails with `NoSuchKey` (404): not retried, S3 answered.
    Missing,
    /// Never finishes.
    Hang,
}

/// One attempt: an optional wait (a request in flight), then the act.
#[derive(Clone, Copy, Debug)]
struct Step {
    wait: Duration,
    act: Act,
}

impl Step {
    const fn now(act: Act) -> Step {
        Step {
            wait: Duration::ZERO,
            act,
        }
    }
}

/// The attempts a call's body will make, in order, and how many have started.
struct Script {
    steps: Mutex<VecDeque<Step>>,
    started: AtomicU32,
}

impl Script {
    fn new(steps: impl IntoIterator<Item = Step>) -> Script {
        Script {
            steps: Mutex::new(steps.into_iter().collect()),
            started: AtomicU32::new(0),
        }
    }

    fn acts(acts: &[Act]) -> Script {
        Script::new(acts.iter().map(|&act| Step::now(act)))
    }

    fn started(&self) -> u32 {
        self.started.load(Ordering::SeqCst)
    }

    /// The body of every scripted method: one attempt.
    async fn attempt(&self) -> Result<u32, S3Error> {
        let n = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let step = self
            .steps
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| panic!("attempt {n} was not scripted"));
        if !step.wait.is_zero() {
            tokio::time::sleep(step.wait).await;
        }
        match step.act {
            Act::Answer => Ok(n),
            Act::Throttled => Err(S3Error::service("SlowDown", Some(503))),
            Act::Missing => Err(S3Error::service("NoSuchKey", Some(404))),
            Act::Hang => std::future::pending().await,
        }
    }
}

/// Backoff of these methods: 100 ms after the first attempt, 200 ms after the second, jittered
/// into their upper halves.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);

struct Service {
    bucket: String,
    upload_circuit: CircuitBreaker,
    download_circuit: CircuitBreaker,
    /// Mutated by the `&mut self` method, so that it really needs `&mut self`.
    calls: u32,
}

impl Service {
    /// Both circuits are the same breaker: whichever class a method has, the test watches it.
    /// One failure opens it, so a failure recorded by a cancelled call would show.
    fn new(bucket: &str) -> (Service, CircuitBreaker) {
        let circuit = CircuitBreaker::with_config(
            format!("{bucket}-circuit"),
            BreakerConfig {
                failure_threshold: 1,
                success_threshold: 2,
                open_timeout: Duration::from_secs(60),
                half_open_max_calls: 1,
                ..BreakerConfig::default()
            },
        );
        let service = Service {
            bucket: bucket.to_owned(),
            upload_circuit: circuit.clone(),
            download_circuit: circuit.clone(),
            calls: 0,
        };
        (service, circuit)
    }

    #[s3_operation(class = "download", op = "get_object_acl", bucket = self.bucket,
                   base_delay = "100ms", max_delay = "1s")]
    async fn plain(&self, script: &Script) -> Result<u32, S3Error> {
        script.attempt().await
    }

    #[s3_operation(class = "download", op = "get_object_tagging", bucket = self.bucket,
                   base_delay = "100ms", max_delay = "1s", timeout = "1s")]
    async fn timed(&self, script: &Script) -> Result<u32, S3Error> {
        script.attempt().await
    }

    #[s3_operation(class = "upload", op = "put_object_tagging", bucket = self.bucket,
                   base_delay = "100ms", max_delay = "1s")]
    async fn exclusive(&mut self, script: &Script) -> Result<u32, S3Error> {
        self.calls += 1;
        script.attempt().await
    }

    #[s3_operation(class = "cleanup", op = "delete_object_tagging", bucket = self.bucket,
                   max_attempts = 3, base_delay = "100ms", max_delay = "1s")]
    async fn cleanup(&self, script: &Script) -> Result<u32, S3Error> {
        script.attempt().await
    }

    #[s3_operation(class = "download", op = "get_object_attributes", bucket = self.bucket,
                   base_delay = "100ms", max_delay = "1s", timeout = "1s")]
    async fn random(&self, script: &Script) -> Result<u32, S3Error> {
        script.attempt().await
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Plain,
    Timed,
    Exclusive,
    Cleanup,
}

type Pending<'a> = Pin<Box<dyn Future<Output = Result<u32, S3Error>> + 'a>>;

impl Method {
    const ALL: [Method; 4] = [
        Method::Plain,
        Method::Timed,
        Method::Exclusive,
        Method::Cleanup,
    ];

    fn op(self) -> &'static str {
        match self {
            Method::Plain => "get_object_acl",
            Method::Timed => "get_object_tagging",
            Method::Exclusive => "put_object_tagging",
            Method::Cleanup => "delete_object_tagging",
        }
    }

    fn has_breaker(self) -> bool {
        self != Method::Cleanup
    }

    fn call<'a>(self, service: &'a mut Service, script: &'a Script) -> Pending<'a> {
        match self {
            Method::Plain => Box::pin(service.plain(script)),
            Method::Timed => Box::pin(service.timed(script)),
            Method::Exclusive => Box::pin(service.exclusive(script)),
            Method::Cleanup => Box::pin(service.cleanup(script)),
        }
    }
}

/// The await point a future is parked at when it is dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Point {
    /// Created, never polled: no permit was taken.
    NeverPolled,
    /// Inside the first attempt's body (the request is in flight).
    FirstAttempt,
    /// Sleeping the backoff after the first attempt failed with `SlowDown`.
    Backoff,
    /// Sleeping the backoff after the first attempt ran past its timeout (`timeout` only).
    BackoffAfterTimeout,
    /// Inside the second attempt's body.
    SecondAttempt,
}

impl Point {
    const ALL: [Point; 5] = [
        Point::NeverPolled,
        Point::FirstAttempt,
        Point::Backoff,
        Point::BackoffAfterTimeout,
        Point::SecondAttempt,
    ];

    fn script(self) -> Script {
        match self {
            // Never run: an empty script would panic if it were.
            Point::NeverPolled => Script::acts(&[]),
            Point::FirstAttempt => Script::acts(&[Act::Hang]),
            Point::Backoff => Script::acts(&[Act::Throttled, Act::Answer]),
            Point::BackoffAfterTimeout => Script::acts(&[Act::Hang, Act::Answer]),
            Point::SecondAttempt => Script::acts(&[Act::Throttled, Act::Hang]),
        }
    }

    fn attempts_started(self) -> u32 {
        match self {
            Point::NeverPolled => 0,
            Point::FirstAttempt | Point::Backoff | Point::BackoffAfterTimeout => 1,
            Point::SecondAttempt => 2,
        }
    }

    /// Polls `call` until it is parked at this point.
    async fn reach(self, call: &mut Pending<'_>) {
        let mut poll = || {
            let mut cx = Context::from_waker(Waker::noop());
            assert!(
                call.as_mut().poll(&mut cx).is_pending(),
                "{self:?}: the call finished"
            );
        };
        match self {
            Point::NeverPolled => {}
            Point::FirstAttempt | Point::Backoff => poll(),
            Point::BackoffAfterTimeout => {
                poll();
                tokio::time::advance(ATTEMPT_TIMEOUT).await;
                poll();
            }
            Point::SecondAttempt => {
                poll();
                tokio::time::advance(FIRST_BACKOFF).await;
                poll();
            }
        }
    }
}

/// `s3_operations_total` (three results), the duration histogram's count and
/// `s3_retry_attempts_total` for attempts 1 to 4 of one operation and bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counts {
    success: u64,
    error: u64,
    circuit_open: u64,
    durations: u64,
    attempts: [u64; 4],
}

impl Counts {
    fn read(op: &str, bucket: &str) -> Counts {
        let result = |r| metrics::operations_total(op, bucket, r);
        Counts {
            success: result(OperationResult::Success),
            error: result(OperationResult::Error),
            circuit_open: result(OperationResult::CircuitOpen),
            durations: metrics::operation_duration(op, bucket).map_or(0, |d| d.count),
            attempts: std::array::from_fn(|i| metrics::retry_attempts_total(op, i as u32 + 1)),
        }
    }

    fn since(self, before: Counts) -> Counts {
        Counts {
            success: self.success - before.success,
            error: self.error - before.error,
            circuit_open: self.circuit_open - before.circuit_open,
            durations: self.durations - before.durations,
            attempts: std::array::from_fn(|i| self.attempts[i] - before.attempts[i]),
        }
    }

    /// No result, no duration, and attempts `1..=started` counted once each.
    fn cancelled_after(started: u32) -> Counts {
        Counts {
            success: 0,
            error: 0,
            circuit_open: 0,
            durations: 0,
            attempts: std::array::from_fn(|i| u64::from(i < started as usize)),
        }
    }
}

async fn half_open(circuit: &CircuitBreaker) {
    circuit.force_open();
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(circuit.state(), CircuitState::HalfOpen);
}

/// Every method, dropped at every await point, with the circuit closed or half-open.
#[tokio::test(start_paused = true)]
async fn a_call_dropped_at_any_await_point_counts_no_result_and_leaks_no_probe_slot() {
    let mut cases = 0;
    for method in Method::ALL {
        for point in Point::ALL {
            if point == Point::BackoffAfterTimeout && method != Method::Timed {
                continue;
            }
            let states: &[CircuitState] = if method.has_breaker() {
                &[CircuitState::Closed, CircuitState::HalfOpen]
            } else {
                &[CircuitState::Closed]
            };
            for &state in states {
                cancel_at(method, point, state).await;
                cases += 1;
            }
        }
    }
    // Plain and Exclusive: 4 points × 2 states; Timed: 5 × 2; Cleanup (no breaker): 4 × 1.
    assert_eq!(cases, 8 + 10 + 8 + 4, "every case ran");
}

async fn cancel_at(method: Method, point: Point, state: CircuitState) {
    let case = format!("{method:?} dropped at {point:?} while {state:?}");
    let bucket = "cancel-matrix";
    let (mut service, circuit) = Service::new(bucket);
    if state == CircuitState::HalfOpen {
        half_open(&circuit).await;
    }
    let script = point.script();
    let before = Counts::read(method.op(), bucket);

    let mut call = method.call(&mut service, &script);
    point.reach(&mut call).await;
    assert_eq!(script.started(), point.attempts_started(), "{case}");
    if state == CircuitState::HalfOpen {
        if point == Point::NeverPolled {
            let permit = circuit.acquire().expect("an unpolled call holds no slot");
            assert!(permit.is_probe(), "{case}");
        } else {
            // The parked call is the probe: its slot is taken.
            assert!(
                circuit.acquire().is_err(),
                "{case}: the call is not the probe"
            );
        }
    }
    drop(call);

    let counted = Counts::read(method.op(), bucket).since(before);
    assert_eq!(
        counted,
        Counts::cancelled_after(point.attempts_started()),
        "{case}"
    );
    assert_eq!(
        circuit.state(),
        state,
        "{case}: the cancelled call recorded an outcome"
    );
    if state == CircuitState::HalfOpen {
        let permit = circuit
            .acquire()
            .expect("the cancelled probe freed its slot");
        assert!(permit.is_probe(), "{case}");
    }

    // The next call goes through the breaker (as the probe, when half-open) and is counted
    // once, as the only result.
    let next = Script::acts(&[Act::Answer]);
    assert_eq!(method.call(&mut service, &next).await.unwrap(), 1, "{case}");
    let counted = Counts::read(method.op(), bucket).since(before);
    assert_eq!(
        (counted.success, counted.error, counted.circuit_open),
        (1, 0, 0),
        "{case}"
    );
    assert_eq!(counted.durations, 1, "{case}");
    let expected = match state {
        // One successful probe of the two that close it.
        CircuitState::HalfOpen => CircuitState::HalfOpen,
        _ => CircuitState::Closed,
    };
    assert_eq!(circuit.state(), expected, "{case}");
    if method == Method::Exclusive {
        // The `&mut self` body ran once per attempt: the dropped call's, then the next call's.
        assert_eq!(service.calls, point.attempts_started() + 1, "{case}");
    }
}

/// A probe dropped while its request is in flight, then the circuit recovers normally: the
/// freed slot is taken by the next call, and two successful probes close the circuit.
#[tokio::test(start_paused = true)]
async fn a_dropped_probe_lets_the_circuit_close_on_the_next_two() {
    let bucket = "cancel-recovery";
    let (mut service, circuit) = Service::new(bucket);
    half_open(&circuit).await;
    let before = Counts::read(Method::Timed.op(), bucket);

    for _ in 0..3 {
        let hang = Script::acts(&[Act::Hang]);
        let mut probe = Method::Timed.call(&mut service, &hang);
        Point::FirstAttempt.reach(&mut probe).await;
        drop(probe);
    }
    let ok = Script::acts(&[Act::Answer]);
    Method::Timed.call(&mut service, &ok).await.unwrap();
    assert_eq!(circuit.state(), CircuitState::HalfOpen);
    let ok = Script::acts(&[Act::Answer]);
    Method::Timed.call(&mut service, &ok).await.unwrap();
    assert_eq!(circuit.state(), CircuitState::Closed);
    assert_eq!(
        circuit.stats().closed,
        1,
        "closed once, by the two probes that finished"
    );

    let counted = Counts::read(Method::Timed.op(), bucket).since(before);
    assert_eq!(
        (counted.success, counted.error, counted.circuit_open),
        (2, 0, 0)
    );
    assert_eq!(
        counted.attempts,
        [5, 0, 0, 0],
        "three dropped probes and two calls, one attempt each"
    );
}

// --------------------------------------------------------------------------------------------
// Random scripts, random cancellation times.

fn step() -> impl Strategy<Value = Step> {
    let act = prop_oneof![
        3 => Just(Act::Answer),
        4 => Just(Act::Throttled),
        1 => Just(Act::Missing),
        2 => Just(Act::Hang),
    ];
    // Up to 1.2 s: past the 1 s attempt timeout now and then.
    (0u64..1_200, act).prop_map(|(ms, act)| Step {
        wait: Duration::from_millis(ms),
        act,
    })
}

/// What the breaker reads after a call that finished with `result`, from `before`.
fn state_after(before: CircuitState, result: &Result<u32, S3Error>) -> CircuitState {
    let failed = match result {
        Ok(_) => false,
        Err(err) if err.is_circuit_open() => return before,
        // S3 answered: a success for the breaker.
        Err(err) if err.code() == Some("NoSuchKey") => false,
        Err(_) => true,
    };
    match (before, failed) {
        (_, true) => CircuitState::Open,
        // One successful probe of two.
        (CircuitState::HalfOpen, false) => CircuitState::HalfOpen,
        (_, false) => CircuitState::Closed,
    }
}

/// What a random case turned out to be, to show that the cases cover what they should.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Seen {
    /// Cancelled with this many attempts started, the circuit closed or half-open.
    Cancelled { started: u32, probe: bool },
    /// Finished with `Ok`, an error, or a refusal.
    Finished { ok: bool, probe: bool },
}

fn random_cancellation(
    steps: Vec<Step>,
    half_open_first: bool,
    cancel_after: Duration,
) -> Result<Seen, TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let bucket = "cancel-random";
        let op = "get_object_attributes";
        let (service, circuit) = Service::new(bucket);
        if half_open_first {
            half_open(&circuit).await;
        }
        let state = circuit.state();
        let script = Script::new(steps);
        let before = Counts::read(op, bucket);

        let outcome = tokio::time::timeout(cancel_after, service.random(&script)).await;

        let counted = Counts::read(op, bucket).since(before);
        let started = script.started();
        prop_assert!(started <= 3);
        let attempts: [u64; 4] = std::array::from_fn(|i| u64::from(i < started as usize));
        prop_assert_eq!(
            counted.attempts,
            attempts,
            "attempts counted are the attempts started"
        );
        let probe = state == CircuitState::HalfOpen;
        let seen = match &outcome {
            Err(_cancelled) => {
                prop_assert_eq!(counted, Counts::cancelled_after(started));
                prop_assert_eq!(
                    circuit.state(),
                    state,
                    "a cancelled call recorded an outcome"
                );
                Seen::Cancelled { started, probe }
            }
            Ok(result) => {
                let results = (counted.success, counted.error, counted.circuit_open);
                let expected = match result {
                    Ok(_) => (1, 0, 0),
                    Err(err) if err.is_circuit_open() => (0, 0, 1),
                    Err(_) => (0, 1, 0),
                };
                prop_assert_eq!(
                    results,
                    expected,
                    "one result per finished call: {:?}",
                    result
                );
                prop_assert_eq!(counted.durations, expected.0 + expected.1);
                prop_assert_eq!(circuit.state(), state_after(state, result), "{:?}", result);
                Seen::Finished {
                    ok: result.is_ok(),
                    probe,
                }
            }
        };
        // Whatever happened, a half-open circuit has its probe slot free again.
        if circuit.state() == CircuitState::HalfOpen {
            let permit = circuit.acquire();
            prop_assert!(
                permit.as_ref().is_ok_and(|p| p.is_probe()),
                "probe slot leaked: {:?}",
                permit
            );
        }
        Ok(seen)
    })
}

#[test]
fn a_call_cancelled_at_a_random_time_keeps_every_count_exact() {
    let cases = (
        proptest::collection::vec(step(), 3),
        any::<bool>(),
        (0u64..4_000).prop_map(Duration::from_millis),
    );
    let seen = Mutex::new(std::collections::BTreeMap::<Seen, u32>::new());
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(512));
    let result = runner.run(&cases, |(steps, half_open_first, cancel_after)| {
        let case = random_cancellation(steps, half_open_first, cancel_after)?;
        *seen.lock().unwrap().entry(case).or_default() += 1;
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    // The cases reached every await point with the circuit closed and half-open, and finished
    // both ways: otherwise the invariants above were checked on too little.
    let seen = seen.into_inner().unwrap();
    for probe in [false, true] {
        for started in 1..=3 {
            let case = Seen::Cancelled { started, probe };
            assert!(seen.contains_key(&case), "no case {case:?} in {seen:?}");
        }
        for ok in [false, true] {
            let case = Seen::Finished { ok, probe };
            assert!(seen.contains_key(&case), "no case {case:?} in {seen:?}");
        }
    }
}
