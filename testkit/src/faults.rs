//! Fault injection: what the server does to the requests it receives.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use s3s::{S3Error, S3ErrorCode};

use crate::op::{Op, OP_COUNT};

/// The seed [`Faults`] starts with, so a soak test sees the same sequence of
/// [`Faults::fail_rate`] draws from run to run (for the same order of requests).
pub const DEFAULT_SEED: u64 = 0x5EED_5EED_5EED_5EED;

/// An S3 error the server can answer with. Each one is sent as the usual S3 XML error document
/// with the HTTP status real S3 uses for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultCode {
    /// `SlowDown`, HTTP 503 (throttling).
    SlowDown,
    /// `InternalError`, HTTP 500.
    InternalError,
    /// `ServiceUnavailable`, HTTP 503.
    ServiceUnavailable,
    /// `AccessDenied`, HTTP 403.
    AccessDenied,
    /// `NoSuchKey`, HTTP 404.
    NoSuchKey,
    /// `RequestTimeout`, HTTP 400 (what S3 sends when the request body stops arriving).
    RequestTimeout,
}

impl FaultCode {
    /// Every code, in declaration order.
    pub const ALL: [FaultCode; 6] = [
        FaultCode::SlowDown,
        FaultCode::InternalError,
        FaultCode::ServiceUnavailable,
        FaultCode::AccessDenied,
        FaultCode::NoSuchKey,
        FaultCode::RequestTimeout,
    ];

    /// The S3 error code sent in the `<Code>` element, e.g. `"SlowDown"`.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            FaultCode::SlowDown => "SlowDown",
            FaultCode::InternalError => "InternalError",
            FaultCode::ServiceUnavailable => "ServiceUnavailable",
            FaultCode::AccessDenied => "AccessDenied",
            FaultCode::NoSuchKey => "NoSuchKey",
            FaultCode::RequestTimeout => "RequestTimeout",
        }
    }

    /// The HTTP status sent with it.
    #[must_use]
    pub const fn status(self) -> u16 {
        match self {
            FaultCode::SlowDown | FaultCode::ServiceUnavailable => 503,
            FaultCode::InternalError => 500,
            FaultCode::AccessDenied => 403,
            FaultCode::NoSuchKey => 404,
            FaultCode::RequestTimeout => 400,
        }
    }

    fn s3s_code(self) -> S3ErrorCode {
        match self {
            FaultCode::SlowDown => S3ErrorCode::SlowDown,
            FaultCode::InternalError => S3ErrorCode::InternalError,
            FaultCode::ServiceUnavailable => S3ErrorCode::ServiceUnavailable,
            FaultCode::AccessDenied => S3ErrorCode::AccessDenied,
            FaultCode::NoSuchKey => S3ErrorCode::NoSuchKey,
            FaultCode::RequestTimeout => S3ErrorCode::RequestTimeout,
        }
    }

    /// The s3s error to return from the access hook.
    pub(crate) fn to_s3_error(self) -> S3Error {
        let mut err = S3Error::with_message(self.s3s_code(), "injected by s3-ops-testkit");
        // s3s already maps every one of these to the right status; set it anyway so the status
        // is this crate's promise, not a detail of the s3s version.
        if let Ok(status) = hyper::StatusCode::from_u16(self.status()) {
            err.set_status_code(status);
        }
        err
    }

    fn slot(self) -> usize {
        match self {
            FaultCode::SlowDown => SLOT_SLOW_DOWN,
            FaultCode::InternalError => SLOT_INTERNAL_ERROR,
            FaultCode::ServiceUnavailable => SLOT_SERVICE_UNAVAILABLE,
            FaultCode::AccessDenied => SLOT_ACCESS_DENIED,
            FaultCode::NoSuchKey => SLOT_NO_SUCH_KEY,
            FaultCode::RequestTimeout => SLOT_REQUEST_TIMEOUT,
        }
    }
}

impl fmt::Display for FaultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

const SLOT_SLOW_DOWN: usize = 0;
const SLOT_INTERNAL_ERROR: usize = 1;
const SLOT_SERVICE_UNAVAILABLE: usize = 2;
const SLOT_ACCESS_DENIED: usize = 3;
const SLOT_NO_SUCH_KEY: usize = 4;
const SLOT_REQUEST_TIMEOUT: usize = 5;
const SLOT_OUTAGE: usize = 6;
const SLOT_DROPPED: usize = 7;
const SLOT_CUT: usize = 8;
const SLOT_DELAYED: usize = 9;
const SLOTS: usize = 10;

/// How many faults the server has injected, by kind (see [`Faults::injected`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FaultCounts {
    /// `SlowDown` responses from [`Faults::fail_next`] / [`Faults::fail_rate`].
    pub slow_down: u64,
    /// `InternalError` responses from [`Faults::fail_next`] / [`Faults::fail_rate`].
    pub internal_error: u64,
    /// `ServiceUnavailable` responses from [`Faults::fail_next`] / [`Faults::fail_rate`]
    /// (not those of an outage, see `outage`).
    pub service_unavailable: u64,
    /// `AccessDenied` responses from [`Faults::fail_next`] / [`Faults::fail_rate`].
    pub access_denied: u64,
    /// `NoSuchKey` responses from [`Faults::fail_next`] / [`Faults::fail_rate`].
    pub no_such_key: u64,
    /// `RequestTimeout` responses from [`Faults::fail_next`] / [`Faults::fail_rate`].
    pub request_timeout: u64,
    /// `ServiceUnavailable` responses sent because of [`Faults::outage`].
    pub outage: u64,
    /// Connections closed without a response ([`Faults::drop_connection_next`], and
    /// [`Faults::cut_body_next`] on a response without a body).
    pub dropped_connections: u64,
    /// Responses whose body was cut short ([`Faults::cut_body_next`]).
    pub cut_bodies: u64,
    /// Requests held back by [`Faults::delay`] (a latency, not a failure).
    pub delayed: u64,
}

impl FaultCounts {
    /// Error responses injected with `code` (not counting outage responses).
    #[must_use]
    pub fn by_code(&self, code: FaultCode) -> u64 {
        match code {
            FaultCode::SlowDown => self.slow_down,
            FaultCode::InternalError => self.internal_error,
            FaultCode::ServiceUnavailable => self.service_unavailable,
            FaultCode::AccessDenied => self.access_denied,
            FaultCode::NoSuchKey => self.no_such_key,
            FaultCode::RequestTimeout => self.request_timeout,
        }
    }

    /// Injected S3 error responses, outage responses included.
    #[must_use]
    pub fn errors(&self) -> u64 {
        FaultCode::ALL.iter().map(|&c| self.by_code(c)).sum::<u64>() + self.outage
    }

    /// Requests that failed because of an injected fault: [`errors`](Self::errors) plus
    /// dropped connections and cut bodies (delays are not failures and are not counted).
    #[must_use]
    pub fn total(&self) -> u64 {
        self.errors() + self.dropped_connections + self.cut_bodies
    }
}

/// What to do with one request, decided in the access hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Handle it normally.
    Pass,
    /// Answer with this S3 error.
    Error(FaultCode),
    /// Answer `ServiceUnavailable` because of an outage.
    Outage,
    /// Close the connection without a response.
    Drop,
    /// Send the headers and part of the body, then abort.
    Cut,
}

/// A one-shot fault queued by `fail_next`, `drop_connection_next` or `cut_body_next`.
#[derive(Clone, Copy, Debug)]
enum OneShot {
    Error(FaultCode),
    Drop,
    Cut,
}

#[derive(Debug)]
struct Queued {
    op: Op,
    fault: OneShot,
    remaining: u32,
}

#[derive(Debug)]
struct Rate {
    op: Op,
    code: FaultCode,
    p: f64,
}

#[derive(Debug)]
struct State {
    outage: bool,
    queue: Vec<Queued>,
    rates: Vec<Rate>,
    delays: Vec<(Op, Duration)>,
    tails: Vec<Tail>,
    rng: fastrand::Rng,
    /// Draws of the latency tails: apart from the error draws, so adding a tail does not
    /// change which requests a `fail_rate` fails.
    tail_rng: fastrand::Rng,
}

/// A fraction of an operation's requests held back (`delay_rate`).
#[derive(Debug)]
struct Tail {
    op: Op,
    p: f64,
    d: Duration,
}

/// What the latency-tail RNG is seeded with, from a seed given to [`Faults::seed`].
const fn tail_seed(seed: u64) -> u64 {
    seed ^ 0x7A11_7A11_7A11_7A11
}

struct Inner {
    state: Mutex<State>,
    total: AtomicU64,
    per_op: Box<[AtomicU64]>,
    injected: [AtomicU64; SLOTS],
}

/// The fault-injection controls and request counters of an [`S3Server`](crate::S3Server).
///
/// A cheap handle (`Clone` shares the same state), `Send + Sync`; every method takes `&self`
/// and only holds a lock for a few instructions, so tests can change faults while requests are
/// in flight. Changes apply to requests that reach the fault check afterwards.
///
/// # What happens to a request
///
/// For a request of operation `op` (after SigV4 verification, before the operation runs):
///
/// 1. it is counted ([`requests`](Self::requests));
/// 2. an unsigned request is refused with `AccessDenied`, as s3s does by default;
/// 3. the [`delay`](Self::delay)s for `op` and for [`Op::ANY`], and each matching
///    [`delay_rate`](Self::delay_rate) tail that draws a hit, are added up and slept;
/// 4. during an [`outage`](Self::outage) it fails with `503 ServiceUnavailable`;
/// 5. otherwise the first queued one-shot fault ([`fail_next`](Self::fail_next),
///    [`drop_connection_next`](Self::drop_connection_next),
///    [`cut_body_next`](Self::cut_body_next)) whose operation matches is used up and applied —
///    queued faults are used in the order they were added;
/// 6. otherwise each matching [`fail_rate`](Self::fail_rate) rule draws once, in the order they
///    were added, and the first hit fails the request;
/// 7. otherwise the request is served normally.
///
/// Requests that s3s rejects before that point — a bad signature, an unknown route, an invalid
/// bucket name — have no operation: they are answered by s3s, count only in
/// [`total_requests`](Self::total_requests), and no fault applies to them.
///
/// # Time
///
/// Delays (and the 50 ms pause before a cut body is aborted) are `tokio::time` sleeps on the
/// server's runtime. Under `#[tokio::test(start_paused = true)]` they complete as soon as the
/// runtime is otherwise idle, with the paused clock advanced by the delay: a test can measure
/// them with `tokio::time::Instant` without waiting for them.
#[derive(Clone)]
pub struct Faults {
    inner: Arc<Inner>,
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faults")
            .field("state", &*self.lock())
            .field("total_requests", &self.total_requests())
            .field("injected", &self.injected())
            .finish()
    }
}

impl Default for Faults {
    fn default() -> Self {
        Self::new()
    }
}

#[track_caller]
fn checked(op: impl Into<Op>) -> Op {
    let op = op.into();
    assert!(
        op.is_known(),
        "unknown S3 operation {:?}: use the aws-sdk-s3 snake_case name (\"put_object\", \"list_objects_v2\", ...) or \"*\"",
        op.name()
    );
    op
}

impl Faults {
    /// No faults, zero counters, the RNG seeded with [`DEFAULT_SEED`].
    #[must_use]
    pub fn new() -> Faults {
        Faults {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    outage: false,
                    queue: Vec::new(),
                    rates: Vec::new(),
                    delays: Vec::new(),
                    tails: Vec::new(),
                    rng: fastrand::Rng::with_seed(DEFAULT_SEED),
                    tail_rng: fastrand::Rng::with_seed(tail_seed(DEFAULT_SEED)),
                }),
                total: AtomicU64::new(0),
                per_op: (0..OP_COUNT).map(|_| AtomicU64::new(0)).collect(),
                injected: std::array::from_fn(|_| AtomicU64::new(0)),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters for a test server, so a poisoned lock is simply taken over.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn enqueue(&self, op: Op, fault: OneShot, n: u32) {
        if n > 0 {
            self.lock().queue.push(Queued {
                op,
                fault,
                remaining: n,
            });
        }
    }

    /// The next `n` requests of `op` fail with the S3 error `code`.
    ///
    /// Calls add up: `fail_next("put_object", SlowDown, 2)` then
    /// `fail_next("put_object", InternalError, 1)` fails the next three PUTs, `SlowDown` twice
    /// then `InternalError`.
    ///
    /// # Panics
    /// If `op` is not a known operation name or `"*"`.
    #[track_caller]
    pub fn fail_next(&self, op: impl Into<Op>, code: FaultCode, n: u32) {
        self.enqueue(checked(op), OneShot::Error(code), n);
    }

    /// Each request of `op` fails with probability `p` (clamped to `0..=1`; `0` removes the
    /// rule) with the S3 error `code`. Replaces an earlier rate for the same `op`.
    ///
    /// The draws come from one RNG seeded with [`DEFAULT_SEED`] (see [`seed`](Self::seed)).
    ///
    /// # Panics
    /// If `op` is not a known operation name or `"*"`.
    #[track_caller]
    pub fn fail_rate(&self, op: impl Into<Op>, code: FaultCode, p: f64) {
        let op = checked(op);
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        let mut state = self.lock();
        state.rates.retain(|r| r.op != op);
        if p > 0.0 {
            state.rates.push(Rate { op, code, p });
        }
    }

    /// Re-seeds the RNGs behind [`fail_rate`](Self::fail_rate) and
    /// [`delay_rate`](Self::delay_rate).
    pub fn seed(&self, seed: u64) {
        let mut state = self.lock();
        state.rng.seed(seed);
        state.tail_rng.seed(tail_seed(seed));
    }

    /// A latency tail: each request of `op` is held back `d` with probability `p` (clamped to
    /// `0.0..=1.0`), drawn from an RNG seeded with [`DEFAULT_SEED`] (see [`seed`](Self::seed)),
    /// so a run repeats. Added to any fixed [`delay`](Self::delay); replaces an earlier tail
    /// for the same `op`; `p = 0` removes it.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # let faults = s3_ops_testkit::Faults::new();
    /// // 2 % of GETs take 300 ms more: S3's long tail, for a hedging benchmark.
    /// faults.delay_rate("get_object", 0.02, Duration::from_millis(300));
    /// ```
    ///
    /// # Panics
    /// If `op` is not a known operation name or `"*"`, or `p` is NaN.
    #[track_caller]
    pub fn delay_rate(&self, op: impl Into<Op>, p: f64, d: Duration) {
        let op = checked(op);
        assert!(!p.is_nan(), "a probability, not NaN");
        let p = p.clamp(0.0, 1.0);
        let mut state = self.lock();
        state.tails.retain(|t| t.op != op);
        if p > 0.0 && !d.is_zero() {
            state.tails.push(Tail { op, p, d });
        }
    }

    /// Adds latency `d` before every request of `op` is handled (before its fault, if any).
    /// Replaces an earlier delay for the same `op`; `Duration::ZERO` removes it. A delay for
    /// `"*"` adds to the delay for the request's own operation.
    ///
    /// # Panics
    /// If `op` is not a known operation name or `"*"`.
    #[track_caller]
    pub fn delay(&self, op: impl Into<Op>, d: Duration) {
        let op = checked(op);
        let mut state = self.lock();
        state.delays.retain(|(o, _)| *o != op);
        if !d.is_zero() {
            state.delays.push((op, d));
        }
    }

    /// Starts an outage: until [`recover`](Self::recover) (or [`clear`](Self::clear)), every
    /// request fails with `503 ServiceUnavailable` (a proper S3 error response; the connection
    /// stays usable). Delays still apply; queued one-shot faults are neither used nor lost.
    pub fn outage(&self) {
        self.lock().outage = true;
    }

    /// Ends an outage.
    pub fn recover(&self) {
        self.lock().outage = false;
    }

    /// Whether an outage is in progress.
    #[must_use]
    pub fn in_outage(&self) -> bool {
        self.lock().outage
    }

    /// The next `n` requests of `op`: the connection is closed without a response (the client
    /// sees the connection closed or reset while waiting for the response).
    ///
    /// # Panics
    /// If `op` is not a known operation name or `"*"`.
    #[track_caller]
    pub fn drop_connection_next(&self, op: impl Into<Op>, n: u32) {
        self.enqueue(checked(op), OneShot::Drop, n);
    }

    /// The next `n` responses of `op` send their headers (with the full `Content-Length`) and
    /// the first half of the body, then, 50 ms later, the connection is aborted.
    ///
    /// The operation itself runs first. A response without a body cannot be cut — `head_object`,
    /// an empty object, and most write operations such as `put_object` (whose object is then
    /// stored) — so its connection is closed without a response instead, counted as a dropped
    /// connection.
    ///
    /// # Panics
    /// If `op` is not a known operation name or `"*"`.
    #[track_caller]
    pub fn cut_body_next(&self, op: impl Into<Op>, n: u32) {
        self.enqueue(checked(op), OneShot::Cut, n);
    }

    /// Clears every fault: queued one-shot faults, rates, delays and the outage. Counters and
    /// the RNG state stay.
    pub fn clear(&self) {
        let mut state = self.lock();
        state.outage = false;
        state.queue.clear();
        state.rates.clear();
        state.delays.clear();
        state.tails.clear();
    }

    /// One-shot faults queued and not used yet, all operations together.
    #[must_use]
    pub fn pending(&self) -> u64 {
        self.lock()
            .queue
            .iter()
            .map(|q| u64::from(q.remaining))
            .sum()
    }

    /// Requests of `op` that reached the fault check, counted once each whether or not a fault
    /// was injected. `requests("*")` is [`total_requests`](Self::total_requests).
    ///
    /// # Panics
    /// If `op` is not a known operation name or `"*"`.
    #[track_caller]
    #[must_use]
    pub fn requests(&self, op: impl Into<Op>) -> u64 {
        let op = checked(op);
        match op.index() {
            Some(i) => self.inner.per_op[i].load(Ordering::Relaxed),
            None => self.total_requests(),
        }
    }

    /// HTTP requests the server received, including those s3s rejected before the fault check.
    #[must_use]
    pub fn total_requests(&self) -> u64 {
        self.inner.total.load(Ordering::Relaxed)
    }

    /// Faults injected so far, by kind.
    #[must_use]
    pub fn injected(&self) -> FaultCounts {
        let c = |slot: usize| self.inner.injected[slot].load(Ordering::Relaxed);
        FaultCounts {
            slow_down: c(SLOT_SLOW_DOWN),
            internal_error: c(SLOT_INTERNAL_ERROR),
            service_unavailable: c(SLOT_SERVICE_UNAVAILABLE),
            access_denied: c(SLOT_ACCESS_DENIED),
            no_such_key: c(SLOT_NO_SUCH_KEY),
            request_timeout: c(SLOT_REQUEST_TIMEOUT),
            outage: c(SLOT_OUTAGE),
            dropped_connections: c(SLOT_DROPPED),
            cut_bodies: c(SLOT_CUT),
            delayed: c(SLOT_DELAYED),
        }
    }

    /// Sets every request and injected-fault counter back to zero (faults stay).
    pub fn reset_counters(&self) {
        self.inner.total.store(0, Ordering::Relaxed);
        for c in self.inner.per_op.iter().chain(self.inner.injected.iter()) {
            c.store(0, Ordering::Relaxed);
        }
    }

    // ----- used by the server -----

    fn bump(&self, slot: usize) {
        self.inner.injected[slot].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_http_request(&self) {
        self.inner.total.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_request(&self, index: Option<usize>) {
        if let Some(i) = index {
            self.inner.per_op[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn count_dropped(&self) {
        self.bump(SLOT_DROPPED);
    }

    pub(crate) fn count_cut(&self) {
        self.bump(SLOT_CUT);
    }

    /// The latency to add to a request of the operation at `index` (counted if non-zero).
    pub(crate) fn delay_for(&self, index: Option<usize>) -> Duration {
        let mut state = self.lock();
        let fixed = state
            .delays
            .iter()
            .filter(|(op, _)| op.matches(index))
            .map(|&(_, d)| d)
            .fold(Duration::ZERO, Duration::saturating_add);
        let State {
            tails, tail_rng, ..
        } = &mut *state;
        let d = tails
            .iter()
            .filter(|tail| tail.op.matches(index))
            .filter(|tail| tail_rng.f64() < tail.p)
            .map(|tail| tail.d)
            .fold(fixed, Duration::saturating_add);
        drop(state);
        if !d.is_zero() {
            self.bump(SLOT_DELAYED);
        }
        d
    }

    /// Decides (and counts, for S3 errors) the fault for a request of the operation at `index`.
    pub(crate) fn decide(&self, index: Option<usize>) -> Decision {
        let decision = decide_locked(&mut self.lock(), index);
        match decision {
            Decision::Error(code) => self.bump(code.slot()),
            Decision::Outage => self.bump(SLOT_OUTAGE),
            // Counted by the HTTP wrapper once it has done it.
            Decision::Pass | Decision::Drop | Decision::Cut => {}
        }
        decision
    }
}

fn decide_locked(state: &mut State, index: Option<usize>) -> Decision {
    if state.outage {
        return Decision::Outage;
    }
    if let Some(pos) = state.queue.iter().position(|q| q.op.matches(index)) {
        let queued = &mut state.queue[pos];
        let fault = queued.fault;
        queued.remaining -= 1;
        if queued.remaining == 0 {
            state.queue.remove(pos);
        }
        return match fault {
            OneShot::Error(code) => Decision::Error(code),
            OneShot::Drop => Decision::Drop,
            OneShot::Cut => Decision::Cut,
        };
    }
    let State { rates, rng, .. } = state;
    for rate in rates.iter().filter(|r| r.op.matches(index)) {
        if rng.f64() < rate.p {
            return Decision::Error(rate.code);
        }
    }
    Decision::Pass
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(op: &'static str) -> Option<usize> {
        Op::new(op).index()
    }

    #[test]
    fn queue_is_fifo_and_per_op() {
        let f = Faults::new();
        f.fail_next("put_object", FaultCode::SlowDown, 2);
        f.drop_connection_next("get_object", 1);
        f.fail_next("put_object", FaultCode::InternalError, 1);
        assert_eq!(f.pending(), 4);
        let put = idx("put_object");
        let get = idx("get_object");
        assert_eq!(f.decide(get), Decision::Drop);
        assert_eq!(f.decide(get), Decision::Pass);
        assert_eq!(f.decide(put), Decision::Error(FaultCode::SlowDown));
        assert_eq!(f.decide(put), Decision::Error(FaultCode::SlowDown));
        assert_eq!(f.decide(put), Decision::Error(FaultCode::InternalError));
        assert_eq!(f.decide(put), Decision::Pass);
        assert_eq!(f.injected().slow_down, 2);
        assert_eq!(f.injected().internal_error, 1);
        assert_eq!(f.pending(), 0);
    }

    #[test]
    fn wildcard_outage_and_clear() {
        let f = Faults::new();
        f.cut_body_next(Op::ANY, 1);
        assert_eq!(f.decide(idx("head_bucket")), Decision::Cut);
        f.outage();
        f.fail_next("*", FaultCode::NoSuchKey, 1);
        assert_eq!(f.decide(idx("get_object")), Decision::Outage);
        f.recover();
        assert_eq!(
            f.decide(idx("get_object")),
            Decision::Error(FaultCode::NoSuchKey)
        );
        f.outage();
        f.delay("*", Duration::from_millis(5));
        f.delay("get_object", Duration::from_millis(7));
        assert_eq!(f.delay_for(idx("get_object")), Duration::from_millis(12));
        assert_eq!(f.delay_for(idx("put_object")), Duration::from_millis(5));
        f.clear();
        assert_eq!(f.delay_for(idx("get_object")), Duration::ZERO);
        assert_eq!(f.decide(idx("get_object")), Decision::Pass);
        assert_eq!(f.injected().outage, 1);
        assert_eq!(f.injected().delayed, 2);
        f.reset_counters();
        assert_eq!(f.injected(), FaultCounts::default());
    }

    #[test]
    fn a_latency_tail_holds_back_its_share_of_requests_the_same_ones_each_run() {
        let run = |seed| {
            let f = Faults::new();
            f.seed(seed);
            f.delay("*", Duration::from_millis(1));
            f.delay_rate("get_object", 0.02, Duration::from_millis(300));
            (0..10_000)
                .map(|_| f.delay_for(idx("get_object")))
                .collect::<Vec<_>>()
        };
        let delays = run(7);
        let slow = delays
            .iter()
            .filter(|&&d| d == Duration::from_millis(301))
            .count();
        assert!((150..=250).contains(&slow), "{slow} of 10 000 at 2 %");
        assert_eq!(
            delays.len() - slow,
            delays
                .iter()
                .filter(|&&d| d == Duration::from_millis(1))
                .count()
        );
        assert_eq!(delays, run(7), "seeded: the same requests each run");
        assert_ne!(delays, run(8));
        let f = Faults::new();
        f.delay_rate("get_object", 1.0, Duration::from_millis(5));
        assert_eq!(f.delay_for(idx("put_object")), Duration::ZERO, "other ops");
        f.clear();
        assert_eq!(f.delay_for(idx("get_object")), Duration::ZERO);
    }

    #[test]
    fn rate_is_seeded() {
        let draw = |seed| {
            let f = Faults::new();
            f.seed(seed);
            f.fail_rate("get_object", FaultCode::SlowDown, 0.3);
            (0..1000)
                .map(|_| f.decide(idx("get_object")) != Decision::Pass)
                .collect::<Vec<_>>()
        };
        let a = draw(7);
        assert_eq!(a, draw(7));
        let hits = a.iter().filter(|&&x| x).count();
        assert!((200..400).contains(&hits), "{hits}");
        let f = Faults::new();
        f.fail_rate("get_object", FaultCode::SlowDown, 1.0);
        assert_eq!(f.decide(idx("put_object")), Decision::Pass);
        f.fail_rate("get_object", FaultCode::SlowDown, 0.0);
        assert_eq!(f.decide(idx("get_object")), Decision::Pass);
    }

    #[test]
    #[should_panic(expected = "unknown S3 operation")]
    fn unknown_op_panics() {
        Faults::new().fail_next("PutObject", FaultCode::SlowDown, 1);
    }
}
