//! Hedged reads (`hedge = "…"`) on tokio's paused clock: the slow attempt's twin, which answer
//! wins, what the loser leaves behind (nothing), when no hedge is sent (circuit not closed, the
//! site's share spent, the retry budget empty, no latencies yet), and how hedges are counted.
//!
//! The closure API's `Operation::with_hedge` runs the same race (the last tests).
//!
//! Each test calls a method of its own (its own S3 operation): a site's share of hedges and
//! its latencies, like its metric series, belong to that method.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use s3_ops_runtime::metrics::{self, HedgeOutcome};
use s3_ops_runtime::operation::{AttemptRunner, TimeLimited};
use s3_ops_runtime::retry::hedge::HedgeDelay;
use s3_ops_runtime::{
    s3_operation, BreakerConfig, CircuitBreaker, Operation, OperationClass, S3Error, S3ErrorKind,
};
use tokio::sync::Semaphore;
use tokio::time::Instant;

const PERMITS: usize = 100;

/// What one attempt does: wait, then answer.
#[derive(Clone, Copy)]
struct Step {
    after: Duration,
    answer: Answer,
}

#[derive(Clone, Copy, Debug)]
enum Answer {
    Ok,
    /// Retryable.
    SlowDown,
    /// Not retryable, and not a failure of S3 (the breaker counts it a success).
    NoSuchKey,
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn step(after: u64, answer: Answer) -> Step {
    Step {
        after: ms(after),
        answer,
    }
}

/// A reader whose attempts follow a script: each attempt takes the next step (the default one
/// once the script is empty), holding a permit of a semaphore while it runs.
struct Reader {
    download_circuit: CircuitBreaker,
    script: Mutex<VecDeque<Step>>,
    default: Mutex<Step>,
    started: AtomicU32,
    permits: Semaphore,
}

impl Reader {
    fn new(name: &'static str) -> Self {
        Self::with_breaker(name, BreakerConfig::default())
    }

    fn with_breaker(name: &'static str, config: BreakerConfig) -> Self {
        Self {
            download_circuit: CircuitBreaker::with_config(name, config),
            script: Mutex::default(),
            default: Mutex::new(step(1, Answer::Ok)),
            started: AtomicU32::new(0),
            permits: Semaphore::new(PERMITS),
        }
    }

    fn script(&self, steps: impl IntoIterator<Item = Step>) {
        self.script.lock().unwrap().extend(steps);
    }

    fn started(&self) -> u32 {
        self.started.load(Ordering::SeqCst)
    }

    /// Every attempt that ran has given its permit back.
    fn assert_nothing_held(&self) {
        assert_eq!(self.permits.available_permits(), PERMITS, "a permit leaked");
    }

    /// One attempt: answers with the attempt's number (1 for the first attempt of the reader).
    async fn attempt(&self) -> Result<u32, S3Error> {
        let n = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let next = self.script.lock().unwrap().pop_front();
        let step = next.unwrap_or_else(|| *self.default.lock().unwrap());
        let _permit = self.permits.acquire().await.expect("never closed");
        tokio::time::sleep(step.after).await;
        match step.answer {
            Answer::Ok => Ok(n),
            Answer::SlowDown => Err(S3Error::service("SlowDown", Some(503))),
            Answer::NoSuchKey => Err(S3Error::service("NoSuchKey", Some(404))),
        }
    }

    /// Calls that earn the site its first hedges: one per ten calls.
    async fn warm_up(&self, calls: u32, call: impl AsyncFn(&Self) -> Result<u32, S3Error>) {
        for _ in 0..calls {
            call(self).await.expect("a fast read");
        }
    }

    #[s3_operation(class = "download", op = "get_object_acl", hedge = "10ms")]
    async fn loser_dropped(&self) -> Result<u32, S3Error> {
        self.attempt().await
    }

    #[s3_operation(class = "download", op = "get_object_tagging", hedge = "10ms")]
    async fn retryable_hedge(&self) -> Result<u32, S3Error> {
        self.attempt().await
    }

    #[s3_operation(class = "download", op = "get_object_attributes", hedge = "10ms")]
    async fn final_error(&self) -> Result<u32, S3Error> {
        self.attempt().await
    }

    #[s3_operation(class = "download", op = "get_object_retention", hedge = "10ms")]
    async fn both_fail(&self) -> Result<u32, S3Error> {
        self.attempt().await
    }

    #[s3_operation(class = "download", op = "get_object_legal_hold", hedge = "10ms")]
    async fn not_closed(&self) -> Result<u32, S3Error> {
        self.attempt().await
    }

    #[s3_operation(class = "download", op = "get_object_torrent", hedge = "10ms")]
    async fn opens_meanwhile(&self) -> Result<u32, S3Error> {
        let n = self.started() + 1;
        if n == 21 {
            self.download_circuit.force_open();
        }
        self.attempt().await
    }

    #[s3_operation(class = "download", op = "head_object", hedge = "10ms")]
    async fn all_slow(&self) -> Result<u32, S3Error> {
        self.attempt().await
    }

    #[s3_operation(class = "download", op = "list_objects_v2", hedge = "10ms")]
    async fn storm(&self) -> Result<u32, S3Error> {
        self.attempt().await
    }

    #[s3_operation(class = "download", op = "list_object_versions", hedge = "10ms")]
    async fn budget(&self) -> Result<u32, S3Error> {
        self.attempt().await
    }

    #[s3_operation(class = "download", op = "get_bucket_tagging", hedge = "p90")]
    async fn percentile(&self) -> Result<u32, S3Error> {
        self.attempt().await
    }

    #[s3_operation(
        class = "download",
        op = "get_bucket_acl",
        hedge = "10ms",
        base_delay = "1ms",
        max_delay = "1ms"
    )]
    async fn retried(&self) -> Result<u32, S3Error> {
        self.attempt().await
    }

    #[s3_operation(
        class = "download",
        op = "get_bucket_policy",
        hedge = "10ms",
        timeout = "100ms",
        max_attempts = 1
    )]
    async fn timed(&self) -> Result<u32, S3Error> {
        self.attempt().await
    }
}

fn hedged(op: &str, outcome: HedgeOutcome) -> u64 {
    metrics::hedged_attempts_total(op, outcome)
}

#[tokio::test(start_paused = true)]
async fn a_slow_attempt_is_hedged_the_first_answer_wins_and_the_loser_is_dropped() {
    const OP: &str = "get_object_acl";
    let reader = Reader::new("hedge-loser-dropped");
    reader.warm_up(10, Reader::loser_dropped).await;
    let attempts_before = metrics::retry_attempts_total(OP, 1);

    reader.script([step(1_000, Answer::Ok), step(2, Answer::Ok)]);
    let start = Instant::now();
    let answer = reader.loser_dropped().await;

    assert_eq!(answer.unwrap(), 12, "the hedge's answer");
    assert_eq!(
        start.elapsed(),
        ms(12),
        "hedged after 10 ms, answered 2 ms later"
    );
    assert_eq!(reader.started(), 12);
    reader.assert_nothing_held();
    assert_eq!(hedged(OP, HedgeOutcome::Won), 1);
    assert_eq!(hedged(OP, HedgeOutcome::Lost), 0);
    assert_eq!(
        metrics::retry_attempts_total(OP, 1) - attempts_before,
        2,
        "a hedge is an attempt, counted under the number it hedged"
    );
    assert_eq!(metrics::retry_attempts_total(OP, 2), 0);

    // The dropped attempt's request went nowhere further: time passing changes nothing.
    tokio::time::sleep(ms(2_000)).await;
    assert_eq!(reader.started(), 12);
}

#[tokio::test(start_paused = true)]
async fn a_hedge_failing_with_a_retryable_error_waits_for_the_slower_success() {
    const OP: &str = "get_object_tagging";
    let reader = Reader::new("hedge-retryable");
    reader.warm_up(10, Reader::retryable_hedge).await;

    reader.script([step(200, Answer::Ok), step(1, Answer::SlowDown)]);
    let start = Instant::now();
    let answer = reader.retryable_hedge().await;

    assert_eq!(answer.unwrap(), 11, "the first attempt's success");
    assert_eq!(
        start.elapsed(),
        ms(200),
        "no retry: the first attempt answered"
    );
    assert_eq!(reader.started(), 12);
    reader.assert_nothing_held();
    assert_eq!(hedged(OP, HedgeOutcome::Lost), 1);
    assert_eq!(hedged(OP, HedgeOutcome::Won), 0);
}

#[tokio::test(start_paused = true)]
async fn a_final_error_is_an_answer_and_wins() {
    const OP: &str = "get_object_attributes";
    let reader = Reader::new("hedge-final-error");
    reader.warm_up(10, Reader::final_error).await;

    reader.script([step(1_000, Answer::Ok), step(3, Answer::NoSuchKey)]);
    let start = Instant::now();
    let err = reader.final_error().await.unwrap_err();

    assert_eq!(err.code(), Some("NoSuchKey"));
    assert_eq!(start.elapsed(), ms(13));
    reader.assert_nothing_held();
    assert_eq!(hedged(OP, HedgeOutcome::Won), 1);
}

#[tokio::test(start_paused = true)]
async fn when_both_fail_the_call_retries_as_after_any_failed_attempt() {
    const OP: &str = "get_object_retention";
    let reader = Reader::new("hedge-both-fail");
    reader.warm_up(10, Reader::both_fail).await;

    // Attempt 1 and its hedge fail; attempt 2 (after the default backoff) succeeds at once.
    reader.script([
        step(30, Answer::SlowDown),
        step(5, Answer::SlowDown),
        step(1, Answer::Ok),
    ]);
    let answer = reader.both_fail().await;

    assert_eq!(answer.unwrap(), 13, "the retry's answer");
    assert_eq!(reader.started(), 13);
    assert_eq!(hedged(OP, HedgeOutcome::Lost), 1);
    assert_eq!(metrics::retry_attempts_total(OP, 2), 1);
    reader.assert_nothing_held();
}

#[tokio::test(start_paused = true)]
async fn no_hedge_while_the_circuit_is_half_open() {
    let reader = Reader::with_breaker(
        "hedge-half-open",
        BreakerConfig {
            open_timeout: ms(500),
            ..BreakerConfig::default()
        },
    );
    reader.warm_up(20, Reader::not_closed).await;

    reader.download_circuit.force_open();
    let refused = reader.not_closed().await.unwrap_err();
    assert!(
        refused.is_circuit_open(),
        "open: refused, no attempt at all"
    );
    tokio::time::sleep(ms(500)).await;

    // The probe of a half-open circuit is slow: it is not hedged.
    reader.script([step(1_000, Answer::Ok)]);
    let answer = reader.not_closed().await;
    assert_eq!(answer.unwrap(), 21);
    assert_eq!(reader.started(), 21, "one attempt, no hedge");
    assert_eq!(hedged("get_object_legal_hold", HedgeOutcome::Won), 0);
    assert_eq!(hedged("get_object_legal_hold", HedgeOutcome::Lost), 0);
}

#[tokio::test(start_paused = true)]
async fn no_hedge_once_the_circuit_opened_during_the_attempt() {
    let reader = Reader::new("hedge-opens-meanwhile");
    reader.warm_up(20, Reader::opens_meanwhile).await;

    // The 21st attempt forces the circuit open, then is slow.
    reader.script([step(1_000, Answer::Ok)]);
    assert_eq!(reader.opens_meanwhile().await.unwrap(), 21);
    assert_eq!(reader.started(), 21, "no hedge for an open circuit");
}

#[tokio::test(start_paused = true)]
async fn when_every_answer_is_slow_at_most_one_call_in_ten_is_hedged() {
    const OP: &str = "head_object";
    let reader = Reader::new("hedge-all-slow");
    *reader.default.lock().unwrap() = step(50, Answer::Ok);
    for _ in 0..200 {
        reader.all_slow().await.unwrap();
    }
    let hedges = hedged(OP, HedgeOutcome::Won) + hedged(OP, HedgeOutcome::Lost);
    assert_eq!(hedges, 20, "one per ten calls, earned as calls are made");
    assert_eq!(u64::from(reader.started()), 200 + hedges);
    reader.assert_nothing_held();
}

#[tokio::test(start_paused = true)]
async fn a_storm_of_slow_answers_does_not_double_the_load() {
    const OP: &str = "list_objects_v2";
    const CALLERS: u32 = 64;
    const CALLS: u32 = 20;
    let reader = Reader::new("hedge-storm");
    *reader.default.lock().unwrap() = step(300, Answer::Ok);
    let callers = (0..CALLERS).map(|_| async {
        for _ in 0..CALLS {
            reader.storm().await.unwrap();
        }
    });
    futures_join_all(callers).await;

    let calls = CALLERS * CALLS;
    let requests = reader.started();
    let hedges = hedged(OP, HedgeOutcome::Won) + hedged(OP, HedgeOutcome::Lost);
    assert!(
        hedges <= u64::from(calls / 10),
        "{hedges} hedges for {calls} calls"
    );
    assert_eq!(u64::from(requests), u64::from(calls) + hedges);
    assert!(
        f64::from(requests) <= 1.1 * f64::from(calls),
        "{requests} requests for {calls} calls"
    );
    reader.assert_nothing_held();
}

#[tokio::test(start_paused = true)]
async fn hedges_draw_on_the_circuits_retry_budget() {
    const OP: &str = "list_object_versions";
    let reader = Reader::with_breaker(
        "hedge-budget",
        BreakerConfig {
            retry_budget: Some(3),
            ..BreakerConfig::default()
        },
    );
    // Enough calls for ten hedges of the site's share.
    reader.warm_up(100, Reader::budget).await;

    // Slow answers that are errors: no success puts a token back.
    *reader.default.lock().unwrap() = step(50, Answer::NoSuchKey);
    for _ in 0..10 {
        let err = reader.budget().await.unwrap_err();
        assert_eq!(err.code(), Some("NoSuchKey"));
    }
    let hedges = hedged(OP, HedgeOutcome::Won) + hedged(OP, HedgeOutcome::Lost);
    assert_eq!(hedges, 3, "one token each, three tokens");
    assert_eq!(reader.download_circuit.retry_tokens(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_percentile_hedges_after_that_latency_of_the_site_and_not_before_it_has_any() {
    const OP: &str = "get_bucket_tagging";
    let reader = Reader::new("hedge-percentile");

    // No latencies yet: a slow first call is not hedged.
    reader.script([step(400, Answer::Ok)]);
    assert_eq!(reader.percentile().await.unwrap(), 1);
    assert_eq!(reader.started(), 1);

    *reader.default.lock().unwrap() = step(5, Answer::Ok);
    reader.warm_up(99, Reader::percentile).await;

    // p90 of a hundred latencies, 99 of them 5 ms: a little over 5 ms.
    reader.script([step(1_000, Answer::Ok), step(5, Answer::Ok)]);
    let start = Instant::now();
    assert_eq!(reader.percentile().await.unwrap(), 102);
    let took = start.elapsed();
    assert!(
        ms(10) < took && took <= ms(12),
        "hedged after the p90 (5 ms to 6.25 ms), answered 5 ms later: {took:?}"
    );
    assert_eq!(hedged(OP, HedgeOutcome::Won), 1);
}

#[tokio::test(start_paused = true)]
async fn a_retry_is_hedged_under_its_own_attempt_number() {
    const OP: &str = "get_bucket_acl";
    let reader = Reader::new("hedge-retried");
    reader.warm_up(10, Reader::retried).await;

    reader.script([
        step(1, Answer::SlowDown),
        step(1_000, Answer::Ok),
        step(1, Answer::Ok),
    ]);
    assert_eq!(reader.retried().await.unwrap(), 13);
    assert_eq!(
        metrics::retry_attempts_total(OP, 2),
        2,
        "the retry and its hedge"
    );
    assert_eq!(hedged(OP, HedgeOutcome::Won), 1);
    reader.assert_nothing_held();
}

#[tokio::test(start_paused = true)]
async fn each_attempt_of_a_hedged_read_keeps_its_timeout() {
    let reader = Reader::new("hedge-timed");
    reader.warm_up(10, Reader::timed).await;

    reader.script([step(10_000, Answer::Ok), step(10_000, Answer::Ok)]);
    let start = Instant::now();
    let err = reader.timed().await.unwrap_err();
    assert_eq!(err.kind(), S3ErrorKind::AttemptTimeout);
    assert_eq!(
        start.elapsed(),
        ms(110),
        "the hedge, sent at 10 ms, timed out 100 ms later"
    );
    reader.assert_nothing_held();
}

// ---- the closure API: `Operation::with_hedge` ----

/// One read through `op`, the closure API's way: the reader's attempt in a closure.
async fn read_through<L: AttemptRunner<S3Error>>(
    op: &Operation<L>,
    reader: &Reader,
) -> Result<u32, S3Error> {
    op.run(&reader.download_circuit, "b", || reader.attempt())
        .await
}

/// Ten fast reads through `op`: they earn it its first hedge.
async fn warm_up_through<L: AttemptRunner<S3Error>>(op: &Operation<L>, reader: &Reader) {
    for _ in 0..10 {
        read_through(op, reader).await.expect("a fast read");
    }
}

#[tokio::test(start_paused = true)]
async fn an_operation_with_a_hedge_races_two_calls_of_its_closure() {
    const OP: &str = "get_bucket_location";
    static GET: Operation = Operation::new(OperationClass::Download, OP)
        .with_hedge(HedgeDelay::After(Duration::from_millis(10)));
    let reader = Reader::new("hedge-operation");
    warm_up_through(&GET, &reader).await;

    reader.script([step(1_000, Answer::Ok), step(2, Answer::Ok)]);
    let start = Instant::now();
    assert_eq!(
        read_through(&GET, &reader).await.unwrap(),
        12,
        "the hedge's answer"
    );
    assert_eq!(start.elapsed(), ms(12), "hedged after 10 ms");
    reader.assert_nothing_held();
    assert_eq!(hedged(OP, HedgeOutcome::Won), 1);
    // As Prometheus scrapes it: the `outcome` label is the documented `won`.
    let line = format!("s3_hedged_attempts_total{{operation=\"{OP}\",outcome=\"won\"}} 1");
    let rendered = metrics::render();
    assert!(
        rendered.lines().any(|l| l == line),
        "`{line}` not in:\n{rendered}"
    );

    // A fast answer sends no hedge: the second future is dropped unpolled, having done nothing.
    let started = reader.started();
    read_through(&GET, &reader).await.expect("a fast read");
    assert_eq!(reader.started(), started + 1);
}

#[tokio::test(start_paused = true)]
async fn a_hedge_that_succeeds_after_the_first_attempt_failed_is_counted_won() {
    const OP: &str = "get_bucket_cors";
    static GET: Operation = Operation::new(OperationClass::Download, OP)
        .with_hedge(HedgeDelay::After(Duration::from_millis(10)));
    let reader = Reader::new("hedge-operation-won-late");
    warm_up_through(&GET, &reader).await;

    // The first attempt fails (retryable) at 15 ms, after the hedge went out at 10 ms; the
    // hedge succeeds at 20 ms: its answer stands, and it won.
    reader.script([step(15, Answer::SlowDown), step(10, Answer::Ok)]);
    let start = Instant::now();
    let answer = read_through(&GET, &reader).await;
    assert_eq!(answer.unwrap(), 12, "the hedge's answer");
    assert_eq!(start.elapsed(), ms(20));
    assert_eq!(hedged(OP, HedgeOutcome::Won), 1);
    assert_eq!(hedged(OP, HedgeOutcome::Lost), 0);
}

#[tokio::test(start_paused = true)]
async fn a_time_limited_operation_hedges_each_attempt_within_its_timeout() {
    const OP: &str = "get_bucket_versioning";
    static GET: Operation<TimeLimited> = Operation::new(OperationClass::Download, OP)
        .with_hedge(HedgeDelay::After(Duration::from_millis(10)))
        .with_timeout(Duration::from_millis(100));
    let reader = Reader::new("hedge-operation-timed");
    let policy = GET.policy();
    assert_eq!(policy.max_attempts, 3, "the class's default policy");
    warm_up_through(&GET, &reader).await;

    // Every answer is slow: the first attempt is hedged at 10 ms, both are cut at their 100 ms,
    // then two retries, not hedged (ten calls earned one hedge).
    *reader.default.lock().unwrap() = step(10_000, Answer::Ok);
    let started = reader.started();
    let err = read_through(&GET, &reader).await.unwrap_err();
    assert_eq!(err.kind(), S3ErrorKind::AttemptTimeout);
    assert_eq!(
        reader.started() - started,
        4,
        "three attempts and one hedge"
    );
    assert_eq!(hedged(OP, HedgeOutcome::Lost), 1);
    reader.assert_nothing_held();
}

#[test]
#[should_panic(expected = "hedged reads are for the download class")]
fn only_a_read_may_be_hedged() {
    let _ = Operation::new(OperationClass::Upload, "put_object")
        .with_hedge(HedgeDelay::After(Duration::from_millis(10)));
}

#[test]
fn a_hedged_read_is_send_when_its_body_is() {
    fn send<T: Send>(_: &T) {}
    let reader = Reader::new("hedge-send");
    send(&reader.loser_dropped());
}

/// Runs every future to completion on the current task.
async fn futures_join_all<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let set: Vec<_> = futures.map(Box::pin).collect();
    let mut set: Vec<_> = set.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in &mut set {
            if let Some(future) = slot {
                if future.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
}
