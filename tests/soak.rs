//! Fault soak: many operations from 64 concurrent tasks through `#[s3_operation]` methods
//! against the embedded S3 server while it throttles, fails, drops connections, cuts bodies,
//! stalls past the attempt timeout and goes down completely, then checks that nothing was lost,
//! nothing was misreported and nothing took longer than the retry policy allows.
//!
//! Size: `S3_OPS_SOAK_OPS` workload operations (default 2,000; the full size is 20,000),
//! seed `S3_OPS_SOAK_SEED`. Loopback only; it stops by itself. Run with `--nocapture` to see the
//! figures.
//!
//! How each figure is checked:
//! - Every key is written once, by one task, so its content is known exactly: a `get` that
//!   returns `Ok` must return exactly those bytes, a `head` exactly that length, and after the
//!   soak (faults cleared) every put the caller saw succeed is read back byte for byte with a
//!   plain client. Puts the caller saw fail may or may not have landed (the server may have
//!   stored the object before dropping the connection), but if they did, the bytes are whole.
//! - A transient error after fewer than `MAX_ATTEMPTS` attempts is only honest if the call's
//!   circuit left the closed state during the call (a retry re-checks the circuit), by the same
//!   reads as a refusal below.
//! - A refusal (`CircuitOpen`) is only honest if the breaker was not closed at some point during
//!   the call: before each call the task reads `stats()` then `state()`; if the state was
//!   `Closed` and no transition happened between that read and the refusal (`stats()` unchanged
//!   after it), the breaker was closed all along and the refusal is a bug.
//! - `s3_operations_total` is compared per operation and result with what the callers saw,
//!   `s3_retry_attempts_total` with the attempts the bodies counted (the body runs once per
//!   attempt), the duration histogram's count with the calls that were admitted.
//! - The longest call is compared with what the retry policy allows (see `CPU_ALLOWANCE` for
//!   the margin and why it is measured rather than guessed).
//! - Around each outage the breakers' `stats()` are read when it starts, when it ends and once
//!   both circuits are closed again: each outage must open both, and each recovery close both.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use s3_ops_runtime::client::{configure, ClientOptions};
use s3_ops_runtime::metrics::{self, OperationResult};
use s3_ops_runtime::{
    s3_operation, BreakerConfig, BreakerStats, CircuitBreaker, CircuitState, Classify, ErrorClass,
    S3Error, S3ErrorKind,
};
use s3_ops_testkit::{FaultCode, S3Server};
use tokio::time::Instant;

const BUCKET: &str = "soak-bucket";
const UPLOAD_CIRCUIT: &str = "soak-upload";
const DOWNLOAD_CIRCUIT: &str = "soak-download";
const TASKS: usize = 64;
const MAX_OBJECT: usize = 64 * 1024;
/// Keys a task keeps written at most (a put past it becomes a delete). The 20 000-operation soak
/// stays below it; a million-operation run reaches it early and then holds steady.
const LIVE_PER_TASK: usize = 256;

// The attribute's arguments below must match these.
const MAX_ATTEMPTS: u32 = 3;
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_millis(100);

/// The longest a call may take is `MAX_ATTEMPTS × (ATTEMPT_TIMEOUT + MAX_DELAY)`: each attempt is
/// cut at its timeout, each backoff is capped. That is what the code guarantees; the wall clock
/// adds the runtime's share. A call waits on at most `2 × MAX_ATTEMPTS − 1` timers (each
/// attempt's timeout, each backoff) and after each one the woken task waits for one of the two
/// worker threads, shared with 63 other tasks and the S3 server on a 2-core machine shared with
/// compilers: that wait is measured all along the soak (`wake_up_lateness`) and allowed
/// `2 × MAX_ATTEMPTS` times, plus this much for the call's own CPU work (signing, checksums of
/// a 64 KiB body in an unoptimised build).
const CPU_ALLOWANCE: Duration = Duration::from_millis(250);

const OPS: [&str; 4] = ["put_object", "get_object", "head_object", "delete_object"];

// --------------------------------------------------------------------------------------------
// The service under test.

/// Counts a call's attempts: started (the body began) and finished (the body got its answer).
/// An attempt that started but never finished was abandoned at the attempt timeout, and its
/// request may still reach the server later.
#[derive(Default)]
struct Attempts {
    started: AtomicU32,
    finished: AtomicU32,
}

impl Attempts {
    fn start(&self) {
        self.started.fetch_add(1, Ordering::Relaxed);
    }

    fn finish(&self) {
        self.finished.fetch_add(1, Ordering::Relaxed);
    }

    fn started(&self) -> u32 {
        self.started.load(Ordering::Relaxed)
    }

    fn abandoned(&self) -> bool {
        self.started.load(Ordering::Relaxed) != self.finished.load(Ordering::Relaxed)
    }
}

struct SoakService {
    client: Client,
    bucket: String,
    upload_circuit: CircuitBreaker,
    download_circuit: CircuitBreaker,
}

impl SoakService {
    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket,
                   max_attempts = 3, base_delay = "10ms", max_delay = "100ms", timeout = "500ms")]
    async fn put(
        &self,
        key: &str,
        body: &bytes::Bytes,
        attempts: &Attempts,
    ) -> Result<(), S3Error> {
        attempts.start();
        let sent = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body.clone()))
            .send()
            .await;
        attempts.finish();
        sent?;
        Ok(())
    }

    /// Reads the body inside the method, so a body cut short is retried like the request.
    #[s3_operation(class = "download", op = "get_object", bucket = self.bucket,
                   max_attempts = 3, base_delay = "10ms", max_delay = "100ms", timeout = "500ms")]
    async fn get(&self, key: &str, attempts: &Attempts) -> Result<bytes::Bytes, S3Error> {
        attempts.start();
        let read = async {
            let output = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await?;
            Ok::<_, S3Error>(output.body.collect().await?.into_bytes())
        }
        .await;
        attempts.finish();
        read
    }

    #[s3_operation(class = "download", op = "head_object", bucket = self.bucket,
                   max_attempts = 3, base_delay = "10ms", max_delay = "100ms", timeout = "500ms")]
    async fn head(&self, key: &str, attempts: &Attempts) -> Result<i64, S3Error> {
        attempts.start();
        let sent = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        attempts.finish();
        Ok(sent?.content_length().unwrap_or(-1))
    }

    /// Cleanup: no breaker. Retried here (cleanup defaults to one attempt) so that the soak's
    /// faults do not leave most deletes failed.
    #[s3_operation(class = "cleanup", op = "delete_object", bucket = self.bucket,
                   max_attempts = 3, base_delay = "10ms", max_delay = "100ms", timeout = "500ms")]
    async fn delete(&self, key: &str, attempts: &Attempts) -> Result<(), S3Error> {
        attempts.start();
        let sent = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        attempts.finish();
        sent?;
        Ok(())
    }
}

// --------------------------------------------------------------------------------------------
// Plan and bookkeeping.

struct Plan {
    ops: usize,
    seed: u64,
    outages: usize,
    outage_length: Duration,
    open_timeout: Duration,
}

impl Plan {
    fn from_env() -> Plan {
        let ops = env_number("S3_OPS_SOAK_OPS")
            .unwrap_or(2_000)
            .max(TASKS as u64) as usize;
        let seed = env_number("S3_OPS_SOAK_SEED").unwrap_or(0x5EED_50A4);
        // The full size (20,000) has four 2 s outages; smaller runs keep two and scale
        // the length down, not below 1 s: a call fails after three attempts and the breaker
        // opens after five failed calls, which takes a few hundred milliseconds on a loaded
        // machine, and the outage must then outlast an open timeout so a probe fails too.
        let outages = (ops / 5_000).clamp(2, 4);
        let outage_length =
            Duration::from_millis((2_000 * ops as u64 / 20_000).clamp(1_000, 2_000));
        Plan {
            ops,
            seed,
            outages,
            outage_length,
            open_timeout: Duration::from_millis(100),
        }
    }

    /// Workload operations done when outage `i` (0-based) starts: spread over the first half,
    /// so the second half leaves traffic for the breakers to close on after the last one.
    fn outage_start(&self, i: usize) -> usize {
        (i + 1) * self.ops / (2 * self.outages)
    }
}

/// `VmRSS` from `/proc/self/status` (Linux), or `unknown`.
fn resident_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .map(|kb| kb.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    let value = value.replace('_', "");
    let parsed = match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse(),
    };
    Some(parsed.unwrap_or_else(|_| panic!("{name} must be a number, got {value:?}")))
}

/// SplitMix64: tiny, seedable, good enough for choosing operations and filling bodies.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// An object size in `0..=MAX_OBJECT`, log-uniform as object sizes tend to be: every power
    /// of two is as likely, so the largest sizes are regular but most bodies are small, which
    /// keeps the soak's CPU (checksums in an unoptimised build, on both ends) in check.
    fn size(&mut self) -> usize {
        let bits = (MAX_OBJECT as f64 + 1.0).log2();
        ((2f64.powf(self.unit() * bits) - 1.0) as usize).min(MAX_OBJECT)
    }

    fn bytes(&mut self, len: usize) -> bytes::Bytes {
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len);
        out.into()
    }
}

/// An object's bytes, remembered by the seed and length that make them: the soak's memory stays
/// flat however many objects it has written (at a million operations, keeping the bytes
/// themselves took 1.3 GB).
#[derive(Clone, Copy)]
struct Content {
    seed: u64,
    len: u32,
}

impl Content {
    fn new(rng: &mut Rng) -> Content {
        let len = rng.size() as u32;
        Content {
            seed: rng.next_u64(),
            len,
        }
    }

    fn bytes(self) -> bytes::Bytes {
        Rng(self.seed).bytes(self.len as usize)
    }

    fn len(self) -> usize {
        self.len as usize
    }
}

/// A key of the soak, `t{task}/k{serial}`, held as the two numbers.
#[derive(Clone, Copy)]
struct Key {
    task: u16,
    serial: u32,
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "t{:02}/k{:06}", self.task, self.serial)
    }
}

/// What one operation kind saw.
#[derive(Default, Clone, Debug)]
struct OpTally {
    calls: u64,
    success: u64,
    error: u64,
    circuit_open: u64,
    attempts: u64,
}

/// Everything the callers saw, merged from all tasks.
#[derive(Default)]
struct Observed {
    tally: BTreeMap<&'static str, OpTally>,
    errors_by_kind: BTreeMap<String, u64>,
    violations: Vec<String>,
    max_call: Duration,
    max_call_op: &'static str,
    /// Puts the caller saw succeed and never deleted: must be readable, byte-identical.
    live: Vec<(Key, Content)>,
    /// Puts the caller saw fail, and deletes the caller saw fail: absent, or byte-identical.
    maybe: Vec<(Key, Content)>,
    /// Deleted with success, and no put attempt of the key was abandoned: must be absent.
    gone: Vec<Key>,
}

impl Observed {
    fn merge(&mut self, other: Observed) {
        for (op, t) in other.tally {
            let mine = self.tally.entry(op).or_default();
            mine.calls += t.calls;
            mine.success += t.success;
            mine.error += t.error;
            mine.circuit_open += t.circuit_open;
            mine.attempts += t.attempts;
        }
        for (kind, n) in other.errors_by_kind {
            *self.errors_by_kind.entry(kind).or_default() += n;
        }
        self.violations.extend(other.violations);
        if other.max_call > self.max_call {
            self.max_call = other.max_call;
            self.max_call_op = other.max_call_op;
        }
        self.live.extend(other.live);
        self.maybe.extend(other.maybe);
        self.gone.extend(other.gone);
    }
}

/// A key a task has written and not yet deleted.
struct Written {
    key: Key,
    content: Content,
    /// A put attempt was abandoned at its timeout: its request may land at any later time.
    stray_put: bool,
}

struct Shared {
    service: SoakService,
    server: S3Server,
    plan: Plan,
    /// Workload operations handed out (refused calls are re-issued, not counted again).
    issued: AtomicUsize,
    /// Workload operations finished with a result other than a refusal.
    done: AtomicUsize,
    workload_over: AtomicBool,
}

/// The outcome of one call, checked the same way for every operation.
struct CallCheck<'a> {
    op: &'static str,
    circuit: Option<&'a CircuitBreaker>,
    stats_before: Option<BreakerStats>,
    state_before: Option<CircuitState>,
    started: Instant,
}

impl<'a> CallCheck<'a> {
    fn begin(op: &'static str, circuit: Option<&'a CircuitBreaker>) -> Self {
        // Stats first, then state: a transition between the two reads shows up in the stats.
        let stats_before = circuit.map(CircuitBreaker::stats);
        let state_before = circuit.map(CircuitBreaker::state);
        CallCheck {
            op,
            circuit,
            stats_before,
            state_before,
            started: Instant::now(),
        }
    }

    /// Records the call; returns how long the circuit said to wait when it refused the call.
    fn end<T>(
        self,
        result: &Result<T, S3Error>,
        attempts: &Attempts,
        seen: &mut Observed,
    ) -> Option<Duration> {
        let elapsed = self.started.elapsed();
        if elapsed > seen.max_call {
            seen.max_call = elapsed;
            seen.max_call_op = self.op;
        }
        let tally = seen.tally.entry(self.op).or_default();
        tally.calls += 1;
        tally.attempts += u64::from(attempts.started());
        let err = match result {
            Ok(_) => {
                tally.success += 1;
                return None;
            }
            Err(err) => err,
        };
        if err.is_circuit_open() {
            tally.circuit_open += 1;
            self.check_refusal(err, seen);
            return err.circuit_open().map(|open| open.retry_after());
        }
        tally.error += 1;
        let class = err.classify();
        let label = format!("{} {}", err.kind().as_str(), err.code().unwrap_or("-"));
        *seen.errors_by_kind.entry(label).or_default() += 1;
        // Only transient faults are injected, so a final error is transient, its kind agrees
        // with its class, and an S3 answer carries one of the injected codes.
        let consistent = class == ErrorClass::Transient
            && match err.kind() {
                // A HEAD answer has no body, so no code: its status says what was injected.
                S3ErrorKind::Service => match err.code() {
                    Some(code) => {
                        matches!(code, "SlowDown" | "InternalError" | "ServiceUnavailable")
                    }
                    None => self.op == "head_object" && matches!(err.status(), Some(500 | 503)),
                },
                S3ErrorKind::Dispatch
                | S3ErrorKind::Timeout
                | S3ErrorKind::Response
                | S3ErrorKind::AttemptTimeout => true,
                _ => false,
            };
        if !consistent {
            seen.violations.push(format!(
                "{}: unexpected error {err} ({err:?}), classified {class:?}",
                self.op
            ));
        }
        // Fewer attempts are honest only when the circuit opened during the call: its retry
        // re-checks the circuit and ends the call instead of sending another request.
        let circuit_moved = self.circuit.is_some_and(|circuit| {
            self.state_before != Some(CircuitState::Closed)
                || self.stats_before != Some(circuit.stats())
        });
        if attempts.started() != MAX_ATTEMPTS && !circuit_moved {
            seen.violations.push(format!(
                "{}: transient error after {} attempts, not {MAX_ATTEMPTS}, with its circuit closed all along: {err}",
                self.op,
                attempts.started()
            ));
        }
        None
    }

    fn check_refusal(&self, err: &S3Error, seen: &mut Observed) {
        let Some(circuit) = self.circuit else {
            seen.violations.push(format!(
                "{}: refused by a circuit it does not have",
                self.op
            ));
            return;
        };
        if err.classify() != ErrorClass::CircuitOpen
            || err.circuit_open().map(|open| open.circuit()) != Some(circuit.name())
        {
            seen.violations
                .push(format!("{}: malformed refusal {err:?}", self.op));
        }
        let stats_after = circuit.stats();
        if self.state_before == Some(CircuitState::Closed) && self.stats_before == Some(stats_after)
        {
            seen.violations.push(format!(
                "{}: refused while `{}` was closed the whole time ({stats_after:?})",
                self.op,
                circuit.name()
            ));
        }
    }
}

// --------------------------------------------------------------------------------------------
// The workload.

async fn worker(shared: Arc<Shared>, task: usize) -> Observed {
    let mut rng = Rng(shared.plan.seed ^ (task as u64).wrapping_mul(0xA24B_AED4_963E_E407));
    let mut seen = Observed::default();
    let mut written: Vec<Written> = Vec::new();
    let svc = &shared.service;
    let faults = shared.server.faults();
    let mut serial = 0u32;
    while shared.issued.fetch_add(1, Ordering::Relaxed) < shared.plan.ops {
        let choice = rng.unit();
        // The server's rates cover SlowDown and InternalError; connection-level faults have no
        // rate, so the tasks queue them at theirs (the next matching request takes each).
        if rng.unit() < 0.01 {
            faults.drop_connection_next("*", 1);
        }
        if rng.unit() < 0.005 {
            faults.cut_body_next("get_object", 1);
        }
        loop {
            // At `LIVE_PER_TASK` keys a put becomes a delete: what the soak and the server hold
            // stays bounded however long it runs.
            let put = written.is_empty() || (choice < 0.35 && written.len() < LIVE_PER_TASK);
            let refused = if put {
                serial += 1;
                let key = Key {
                    task: task as u16,
                    serial,
                };
                let content = Content::new(&mut rng);
                let attempts = Attempts::default();
                let check = CallCheck::begin("put_object", Some(&svc.upload_circuit));
                let result = svc.put(&key.to_string(), &content.bytes(), &attempts).await;
                let refused = check.end(&result, &attempts, &mut seen);
                match result {
                    Ok(()) => written.push(Written {
                        key,
                        content,
                        stray_put: attempts.abandoned(),
                    }),
                    Err(_) if refused.is_some() => serial -= 1,
                    Err(_) => seen.maybe.push((key, content)),
                }
                refused
            } else if (0.35..0.85).contains(&choice) {
                let target = &written[rng.below(written.len())];
                let key = target.key.to_string();
                let attempts = Attempts::default();
                if choice < 0.70 {
                    let check = CallCheck::begin("get_object", Some(&svc.download_circuit));
                    let result = svc.get(&key, &attempts).await;
                    let refused = check.end(&result, &attempts, &mut seen);
                    if let Ok(bytes) = &result {
                        if *bytes != target.content.bytes() {
                            seen.violations.push(format!(
                                "get {key}: Ok with {} bytes that differ from the {} put",
                                bytes.len(),
                                target.content.len()
                            ));
                        }
                    }
                    refused
                } else {
                    let check = CallCheck::begin("head_object", Some(&svc.download_circuit));
                    let result = svc.head(&key, &attempts).await;
                    let refused = check.end(&result, &attempts, &mut seen);
                    if let Ok(length) = result {
                        if length != target.content.len() as i64 {
                            seen.violations.push(format!(
                                "head {key}: Ok with length {length}, {} put",
                                target.content.len()
                            ));
                        }
                    }
                    refused
                }
            } else {
                let target = written.swap_remove(rng.below(written.len()));
                let attempts = Attempts::default();
                let check = CallCheck::begin("delete_object", None);
                let result = svc.delete(&target.key.to_string(), &attempts).await;
                let refused = check.end(&result, &attempts, &mut seen);
                match result {
                    Ok(()) if !target.stray_put => seen.gone.push(target.key),
                    // A stray put attempt may land after the delete: either state is right.
                    Ok(()) => seen.maybe.push((target.key, target.content)),
                    Err(_) => seen.maybe.push((target.key, target.content)),
                }
                refused
            };
            let Some(retry_after) = refused else {
                shared.done.fetch_add(1, Ordering::Relaxed);
                break;
            };
            // Refused: wait until the circuit may admit a probe (at least 50 ms: while a probe
            // is in flight the circuit says zero), then issue the operation again, as a client
            // holding work would: a new call, counted as such.
            tokio::time::sleep(retry_after.max(Duration::from_millis(50))).await;
        }
    }
    seen.live
        .extend(written.into_iter().map(|w| (w.key, w.content)));
    seen
}

/// Latency past the attempt timeout on some requests: every 400 ms, the requests that arrive
/// in the next 20 ms, two at most (counted by the server: on a loaded machine the window itself
/// may last much longer), wait twenty attempt timeouts in the server, far longer than a whole
/// call may take: an attempt that is not cut at its timeout shows in the longest call.
async fn latency_spikes(shared: Arc<Shared>) {
    const PER_SPIKE: u64 = 2;
    let faults = shared.server.faults();
    while !shared.workload_over.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let before = faults.injected().delayed;
        faults.delay("*", 20 * ATTEMPT_TIMEOUT);
        let window = Instant::now() + Duration::from_millis(20);
        while faults.injected().delayed < before + PER_SPIKE && Instant::now() < window {
            tokio::task::yield_now().await;
        }
        faults.delay("*", Duration::ZERO);
    }
}

/// How late a task wakes up after its timer fires, sampled every 5 ms all along the soak: the
/// time a woken task waits for a worker thread on this runtime.
async fn wake_up_lateness(shared: Arc<Shared>) -> Duration {
    let mut worst = Duration::ZERO;
    while !shared.workload_over.load(Ordering::Relaxed) {
        let due = Instant::now() + Duration::from_millis(5);
        tokio::time::sleep_until(due).await;
        worst = worst.max(due.elapsed());
    }
    worst
}

/// What the breakers did around one outage.
#[derive(Debug)]
struct OutageRecord {
    length: Duration,
    before: [BreakerStats; 2],
    at_recover: [BreakerStats; 2],
    closed_again: Option<[BreakerStats; 2]>,
    ops_at_start: usize,
}

/// An outage lasts at most this long.
const OUTAGE_LIMIT: Duration = Duration::from_secs(10);

/// Periodic outages: each starts once enough of the workload is done, lasts the plan's length
/// (longer if the breakers have not opened yet), and is followed by a wait (bounded) until both
/// circuits have closed again.
async fn outages(shared: Arc<Shared>) -> Vec<OutageRecord> {
    let svc = &shared.service;
    let stats = || [svc.upload_circuit.stats(), svc.download_circuit.stats()];
    let mut records = Vec::new();
    for i in 0..shared.plan.outages {
        while shared.done.load(Ordering::Relaxed) < shared.plan.outage_start(i) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let ops_at_start = shared.done.load(Ordering::Relaxed);
        eprintln!(
            "soak: resident memory at op {ops_at_start} (outage {i}) {}",
            resident_memory()
        );
        let before = stats();
        let started = Instant::now();
        shared.server.faults().outage();
        tokio::time::sleep(shared.plan.outage_length).await;
        // On a loaded machine five calls may take longer than the planned length to fail in a
        // row (three attempts each): the outage goes on until both breakers have opened, up to
        // a limit. One that does not open by then fails the test below.
        let limit = started + OUTAGE_LIMIT;
        while (svc.upload_circuit.stats().opened == before[0].opened
            || svc.download_circuit.stats().opened == before[1].opened)
            && Instant::now() < limit
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let at_recover = stats();
        let length = started.elapsed();
        shared.server.faults().recover();
        let deadline = Instant::now() + Duration::from_secs(15);
        let closed_again = loop {
            let now = stats();
            let closed = svc.upload_circuit.state() == CircuitState::Closed
                && svc.download_circuit.state() == CircuitState::Closed;
            if closed
                && now[0].closed > at_recover[0].closed
                && now[1].closed > at_recover[1].closed
            {
                break Some(now);
            }
            let never_opened = at_recover[0].opened == before[0].opened
                || at_recover[1].opened == before[1].opened;
            if never_opened || Instant::now() > deadline {
                break None;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        records.push(OutageRecord {
            length,
            before,
            at_recover,
            closed_again,
            ops_at_start,
        });
    }
    records
}

// --------------------------------------------------------------------------------------------
// Checks after the soak.

/// `s3_circuit_breaker_state{circuit_name="NAME"}` as `metrics::render()` shows it.
fn gauge(rendered: &str, circuit: &str) -> Option<f64> {
    let prefix = format!("s3_circuit_breaker_state{{circuit_name=\"{circuit}\"}} ");
    rendered
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map(|value| value.trim().parse().expect("a gauge value"))
}

/// What an object must look like after the soak.
#[derive(Clone)]
enum Expect {
    /// The caller saw its put succeed: there, byte for byte.
    Exactly(Content),
    /// The outcome is unknown: absent, or there byte for byte.
    AbsentOrExactly(Content),
    /// Deleted with success and no stray put: absent.
    Absent,
}

/// Reads back every key the soak touched (faults cleared, 16 readers at once); returns how
/// many puts were verified byte-identical, and the problems found.
async fn verify_objects(client: &Client, seen: &Observed) -> (usize, Vec<String>) {
    let expectations: Vec<(Key, Expect)> = seen
        .live
        .iter()
        .map(|&(key, content)| (key, Expect::Exactly(content)))
        .chain(
            seen.maybe
                .iter()
                .map(|&(key, content)| (key, Expect::AbsentOrExactly(content))),
        )
        .chain(seen.gone.iter().map(|&key| (key, Expect::Absent)))
        .collect();
    let mut readers = tokio::task::JoinSet::new();
    for chunk in expectations.chunks(expectations.len().div_ceil(16).max(1)) {
        let (client, chunk) = (client.clone(), chunk.to_vec());
        readers.spawn(async move {
            let mut verified = 0;
            let mut problems = Vec::new();
            for (key, expect) in chunk {
                let stored = match client
                    .get_object()
                    .bucket(BUCKET)
                    .key(key.to_string())
                    .send()
                    .await
                {
                    Ok(output) => match output.body.collect().await {
                        Ok(body) => Some(body.into_bytes()),
                        Err(err) => {
                            problems.push(format!("{key}: body not readable: {err}"));
                            continue;
                        }
                    },
                    Err(err) => {
                        let err = S3Error::from(err);
                        if err.code() != Some("NoSuchKey") {
                            problems.push(format!("{key}: {err}"));
                            continue;
                        }
                        None
                    }
                };
                match (expect, stored) {
                    (Expect::Exactly(content), Some(bytes)) if bytes == content.bytes() => {
                        verified += 1;
                    }
                    (Expect::Exactly(content), Some(bytes)) => problems.push(format!(
                        "{key}: put succeeded with {} bytes, read back {} different bytes",
                        content.len(),
                        bytes.len()
                    )),
                    (Expect::Exactly(_), None) => {
                        problems.push(format!("{key}: put succeeded, object is missing"));
                    }
                    (Expect::AbsentOrExactly(_), None) | (Expect::Absent, None) => {}
                    (Expect::AbsentOrExactly(content), Some(bytes)) if bytes == content.bytes() => {
                    }
                    (Expect::AbsentOrExactly(content), Some(bytes)) => problems.push(format!(
                        "{key}: stored {} bytes that are not the {} put",
                        bytes.len(),
                        content.len()
                    )),
                    (Expect::Absent, Some(_)) => {
                        problems.push(format!("{key}: deleted with success, still there"));
                    }
                }
            }
            (verified, problems)
        });
    }
    let mut verified = 0;
    let mut problems = Vec::new();
    while let Some(done) = readers.join_next().await {
        let (v, p) = done.expect("reader task");
        verified += v;
        problems.extend(p);
    }
    (verified, problems)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_soak_loses_nothing_and_reports_everything() {
    let plan = Plan::from_env();
    eprintln!("soak: resident memory at the start {}", resident_memory());
    let server = S3Server::start().await.expect("embedded S3");
    server.create_bucket(BUCKET).await.expect("bucket");
    let faults = server.faults();
    faults.seed(plan.seed);
    // `fail_rate` keeps one rule per operation name, so SlowDown is set per operation and
    // InternalError on "*": drawn after SlowDown misses, at 2 % / 95 % it is 2 % overall.
    for op in OPS {
        faults.fail_rate(op, FaultCode::SlowDown, 0.05);
    }
    faults.fail_rate("*", FaultCode::InternalError, 0.02 / 0.95);

    // No retry budget, for the breakers' calls nor for cleanup's: every retry a closed circuit
    // allows is made, so a call that ends early can only have been cut by its circuit opening
    // (checked in `CallCheck::end`). The budget has storm tests of its own.
    s3_ops_runtime::retry::budget::set_cleanup_budget(None);
    let breaker = BreakerConfig {
        open_timeout: plan.open_timeout,
        retry_budget: None,
        ..BreakerConfig::default()
    };
    // The SDK's own attempt timeout stays above the attribute's, so the attribute's is the one
    // exercised.
    let options = ClientOptions::new().attempt_timeout(Duration::from_secs(30));
    let service = SoakService {
        client: Client::from_conf(configure(server.config_builder(), &options).build()),
        bucket: BUCKET.to_owned(),
        upload_circuit: CircuitBreaker::with_config(UPLOAD_CIRCUIT, breaker.clone()),
        download_circuit: CircuitBreaker::with_config(DOWNLOAD_CIRCUIT, breaker),
    };
    let shared = Arc::new(Shared {
        service,
        server,
        plan,
        issued: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        workload_over: AtomicBool::new(false),
    });

    let started = Instant::now();
    let spikes = tokio::spawn(latency_spikes(shared.clone()));
    let lateness = tokio::spawn(wake_up_lateness(shared.clone()));
    let outage_driver = tokio::spawn(outages(shared.clone()));
    let workers: Vec<_> = (0..TASKS)
        .map(|task| tokio::spawn(worker(shared.clone(), task)))
        .collect();
    let mut seen = Observed::default();
    for w in workers {
        seen.merge(w.await.expect("worker task"));
    }
    let soak_time = started.elapsed();
    let outage_records = outage_driver.await.expect("outage driver");
    shared.workload_over.store(true, Ordering::Relaxed);
    spikes.await.expect("latency driver");
    let lateness = lateness.await.expect("lateness probe");

    let svc = &shared.service;
    let faults = shared.server.faults();
    let injected = faults.injected();
    faults.clear();
    let plain = Client::from_conf(shared.server.config_builder().build());
    let (verified, object_problems) = verify_objects(&plain, &seen).await;

    // The figures.
    let retries: Vec<(&str, Vec<u64>)> = OPS
        .iter()
        .map(|&op| {
            (
                op,
                (1..=MAX_ATTEMPTS + 1)
                    .map(|n| metrics::retry_attempts_total(op, n))
                    .collect(),
            )
        })
        .collect();
    let up = svc.upload_circuit.stats();
    let down = svc.download_circuit.stats();
    eprintln!(
        "soak: {} workload ops (seed {:#x}), {} tasks, {:.1?} wall time",
        shared.plan.ops, shared.plan.seed, TASKS, soak_time
    );
    for (op, t) in &seen.tally {
        eprintln!(
            "  {op:<14} calls {:>6}  success {:>6}  error {:>4}  circuit_open {:>5}  attempts {:>6}",
            t.calls, t.success, t.error, t.circuit_open, t.attempts
        );
    }
    eprintln!("  final errors by kind: {:?}", seen.errors_by_kind);
    eprintln!("  faults injected: {injected:?}");
    eprintln!("  s3_retry_attempts_total by attempt 1..=4: {retries:?}");
    eprintln!(
        "  breakers: upload {up:?}, download {down:?}; {} outages planned, {:?} or longer",
        shared.plan.outages, shared.plan.outage_length
    );
    for (i, r) in outage_records.iter().enumerate() {
        eprintln!(
            "    outage {i} at op {}, {:.2?} long: before {:?}, at recovery {:?}, closed again {:?}",
            r.ops_at_start, r.length, r.before, r.at_recover, r.closed_again
        );
    }
    let bound = MAX_ATTEMPTS * (ATTEMPT_TIMEOUT + MAX_DELAY);
    let margin = 2 * MAX_ATTEMPTS * lateness + CPU_ALLOWANCE;
    eprintln!(
        "  longest call {:?} ({}); bound {bound:?} + margin {margin:?} (worst wake-up lateness {lateness:?})",
        seen.max_call, seen.max_call_op
    );
    eprintln!(
        "  objects verified byte-identical: {verified}; unknown-outcome keys checked: {}; deleted keys checked absent: {}",
        seen.maybe.len(),
        seen.gone.len()
    );
    // Printed, not asserted: the callers' own record of every object they wrote (for the
    // byte-for-byte check) grows with the operations; the figure is read against that.
    eprintln!(
        "  resident memory at the end {}; objects held for verification {}",
        resident_memory(),
        seen.live.len() + seen.maybe.len()
    );

    // Nothing lost, nothing misreported.
    assert!(
        seen.violations.is_empty(),
        "{} violations during the soak, first ones: {:#?}",
        seen.violations.len(),
        &seen.violations[..seen.violations.len().min(10)]
    );
    assert!(
        object_problems.is_empty(),
        "{} problems with stored objects, first ones: {:#?}",
        object_problems.len(),
        &object_problems[..object_problems.len().min(10)]
    );
    assert_eq!(verified, seen.live.len());
    assert!(
        seen.max_call <= bound + margin,
        "a {} call took {:?}, more than {bound:?} + {margin:?}",
        seen.max_call_op,
        seen.max_call
    );
    let workload: u64 = seen.tally.values().map(|t| t.success + t.error).sum();
    assert_eq!(
        workload, shared.plan.ops as u64,
        "every workload operation ran to a result"
    );

    // The metrics agree with the callers, per operation and result.
    for (&op, t) in &seen.tally {
        let count = |result| metrics::operations_total(op, BUCKET, result);
        let (success, error, open) = (
            count(OperationResult::Success),
            count(OperationResult::Error),
            count(OperationResult::CircuitOpen),
        );
        assert_eq!(success + error + open, t.calls, "{op}: calls made");
        assert_eq!(
            (success, error, open),
            (t.success, t.error, t.circuit_open),
            "{op}"
        );
        let attempts: Vec<u64> = (1..=MAX_ATTEMPTS + 1)
            .map(|n| metrics::retry_attempts_total(op, n))
            .collect();
        assert_eq!(
            attempts.iter().sum::<u64>(),
            t.attempts,
            "{op}: attempts the bodies counted"
        );
        assert_eq!(
            attempts[0],
            t.success + t.error,
            "{op}: one first attempt per admitted call"
        );
        assert_eq!(
            attempts[MAX_ATTEMPTS as usize], 0,
            "{op}: never past max_attempts"
        );
        let durations = metrics::operation_duration(op, BUCKET).expect("observed");
        assert_eq!(
            durations.count,
            t.success + t.error,
            "{op}: one duration per admitted call"
        );
    }
    let rendered = metrics::render();
    for circuit in [&svc.upload_circuit, &svc.download_circuit] {
        assert_eq!(
            gauge(&rendered, circuit.name()),
            Some(f64::from(circuit.state() as u8)),
            "state gauge of {}",
            circuit.name()
        );
    }

    // The soak did what it says: every kind of fault happened, and calls were retried.
    assert!(
        injected.slow_down > 0 && injected.internal_error > 0,
        "{injected:?}"
    );
    assert!(
        injected.dropped_connections > 0 && injected.delayed > 0,
        "{injected:?}"
    );
    assert!(injected.outage > 0, "{injected:?}");
    assert!(
        retries.iter().all(|(_, by_attempt)| by_attempt[1] > 0),
        "every operation was retried: {retries:?}"
    );

    // The breakers opened in every outage and closed after each.
    assert_eq!(outage_records.len(), shared.plan.outages);
    for (i, r) in outage_records.iter().enumerate() {
        for (c, name) in [UPLOAD_CIRCUIT, DOWNLOAD_CIRCUIT].into_iter().enumerate() {
            assert!(
                r.at_recover[c].opened > r.before[c].opened,
                "outage {i}: `{name}` did not open: {r:?}"
            );
            let closed = r.closed_again.unwrap_or_else(|| {
                panic!("outage {i}: the circuits did not close after recovery: {r:?}")
            });
            assert!(
                closed[c].closed > r.at_recover[c].closed,
                "outage {i}: {r:?}"
            );
        }
    }
    assert!(up.opened >= shared.plan.outages as u64 && up.closed >= shared.plan.outages as u64);
    assert!(down.opened >= shared.plan.outages as u64 && down.closed >= shared.plan.outages as u64);
    assert_eq!(svc.upload_circuit.state(), CircuitState::Closed);
    assert_eq!(svc.download_circuit.state(), CircuitState::Closed);
}
