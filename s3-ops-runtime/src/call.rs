//! The engine of one resilient call, shared by the attribute's generated code and by
//! [`Operation`](crate::Operation): take a breaker ticket, count attempts, decide after each
//! attempt whether to retry, and record the outcome once, on the breaker and in the metrics.
//!
//! It is a state machine driven by a loop the caller owns, not a combinator taking a closure:
//! the generated code runs the method's body inside that loop, so the body can borrow `self`
//! mutably, use `?` and `return`, and nothing of it has to be `'static` or `Clone`.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::breaker::{BreakerOutcome, CircuitBreaker, Ticket};
use crate::classify::{BreakerVerdict, Classify, ErrorClass};
use crate::error::AttemptTimeout;
use crate::metrics::shard::thread_shard;
use crate::metrics::store::{store, OpSeries};
use crate::metrics::{OperationResult, SkippedRetry};
use crate::retry::budget::{
    unguarded_budget, RetryBudget, RETRY_COST, SUCCESS_REWARD, TIMEOUT_RETRY_COST,
};
use crate::retry::RetryPolicy;

pub(crate) mod expansion;
pub(crate) mod hedge;
mod site_cell;

use expansion::{FromAttemptTimeout, FromCircuitOpen};

use site_cell::SiteCell;

/// Buckets a call site remembers the series of; a site that sees more looks the others up
/// (a read lock) on every call.
const CACHED_BUCKETS: usize = 4;

/// One call site: what it calls, how it retries, and the metric series it resolved.
///
/// Generated code keeps one in a `static`; it is `const`-constructible.
pub struct Site {
    pub(crate) operation: &'static str,
    pub(crate) policy: RetryPolicy,
    pub(crate) timeout: Option<Duration>,
    /// The whole call's time limit, attempts and backoffs together.
    pub(crate) deadline: Option<Duration>,
    buckets: [SiteCell<(Box<str>, &'static OpSeries)>; CACHED_BUCKETS],
}

impl Site {
    /// A call site of `operation` (the SDK's snake_case name, the `operation` label).
    pub const fn new(
        operation: &'static str,
        policy: RetryPolicy,
        timeout: Option<Duration>,
        deadline: Option<Duration>,
    ) -> Self {
        // At least one attempt and at most `retry::MAX_ATTEMPTS`, whatever a policy says.
        let policy = RetryPolicy {
            max_attempts: policy.attempts(),
            ..policy
        };
        Self {
            operation,
            policy,
            timeout,
            deadline,
            buckets: [const { SiteCell::new() }; CACHED_BUCKETS],
        }
    }

    /// The site, moved out of `self`, which is left with empty caches: a `const` way to move it
    /// out of an owner that frees the caches when dropped.
    pub(crate) const fn take(&mut self) -> Site {
        Site {
            operation: self.operation,
            policy: self.policy,
            timeout: self.timeout,
            deadline: self.deadline,
            buckets: std::mem::replace(
                &mut self.buckets,
                [const { SiteCell::new() }; CACHED_BUCKETS],
            ),
        }
    }

    /// Frees what the caches hold (a `Site` in a `static` never is: its caches live as long).
    pub(crate) fn free_caches(&mut self) {
        for slot in &mut self.buckets {
            drop(slot.take());
        }
    }

    /// The series of `bucket`: a comparison with the cached buckets, or the store's lookup.
    #[inline]
    fn series(&self, bucket: &str) -> &'static OpSeries {
        for slot in &self.buckets {
            match slot.get() {
                Some((cached, series)) if same_name(cached, bucket) => return series,
                Some(_) => continue,
                None => break,
            }
        }
        self.series_slow(bucket)
    }

    #[inline(never)]
    fn series_slow(&self, bucket: &str) -> &'static OpSeries {
        let series = store().op_series(self.operation, bucket);
        for slot in &self.buckets {
            let (cached, _) = slot.get_or_init(|| (bucket.into(), series));
            if **cached == *bucket {
                break;
            }
        }
        series
    }

    /// Counts attempt number `attempt`, a retry: attempt 2 and up (the first is counted through
    /// the bucket's series, which holds it one load away). A lookup: retries are the slow path,
    /// and a series exists only once its attempt happened.
    fn count_retry(&self, attempt: u32, shard: usize) {
        store()
            .attempt_series(self.operation, attempt)
            .counter
            .inc_at(shard);
    }
}

/// Where a call finds its retry policy: its site's (the attribute's literals, [`SitePolicy`]),
/// or one of its own, given when it begins (`&RetryPolicy`, `retry = <expr>`).
pub trait CallPolicy {
    /// The policy in force.
    fn policy<'a>(&'a self, site: &'a Site) -> &'a RetryPolicy;
}

/// The site's policy: nothing to store, so a call of the literal form stays as small as it was.
#[derive(Clone, Copy, Debug)]
pub struct SitePolicy;

impl CallPolicy for SitePolicy {
    #[inline]
    fn policy<'a>(&'a self, site: &'a Site) -> &'a RetryPolicy {
        &site.policy
    }
}

impl CallPolicy for &RetryPolicy {
    #[inline]
    fn policy<'a>(&'a self, _: &'a Site) -> &'a RetryPolicy {
        self
    }
}

/// One call in progress. Dropping it before it is settled (the caller's future was cancelled)
/// frees a half-open probe slot and counts no result.
///
/// The caller's loop: [`begin`](Self::begin); then for each attempt, run it, return its result
/// if [`settle`](Self::settle) says so, else await [`backoff`](Self::backoff), return the
/// last result if [`resume`](Self::resume) says so, and go again.
///
/// `P` is where the retry policy comes from: the site ([`begin`](Self::begin)), or a policy
/// of the call's own ([`begin_with`](Call::begin_with)).
pub struct Call<'s, P = SitePolicy> {
    site: &'s Site,
    series: &'static OpSeries,
    /// [`Ticket::SETTLED`] without a breaker, and once settled.
    ticket: Ticket,
    start: Instant,
    /// At most `retry::MAX_ATTEMPTS`.
    attempt: u16,
    /// Retry-budget tokens this call's retries took, returned if it succeeds.
    tokens: u16,
    /// The metric shard of the thread that started the call, looked up once. A call that moves
    /// to another worker keeps using it: correct (the cells are atomic), just not local.
    shard: u32,
    /// The wait before the next attempt in nanoseconds, set when `settle` decides to retry
    /// (8 bytes, not a `Duration`'s 16: the call lives in every annotated method's future).
    delay_nanos: u64,
    /// Last: zero-sized for [`SitePolicy`].
    policy: P,
}

impl<'s> Call<'s> {
    /// Starts a call: takes a ticket from `circuit` (none for cleanup), starts the clock and
    /// counts the first attempt.
    ///
    /// # Errors
    ///
    /// The circuit is open: counted as `result="circuit_open"`, no attempt is made. The error
    /// is the caller's whole result, [`CircuitOpen`](crate::CircuitOpen) converted to its
    /// error type, to return as it is (generated code then has no conversion of its own).
    //
    #[inline]
    pub fn begin<T, E: FromCircuitOpen>(
        site: &'s Site,
        bucket: &str,
        circuit: Option<&CircuitBreaker>,
    ) -> Result<Self, Result<T, E>> {
        Self::begin_under(site, SitePolicy, bucket, circuit)
    }

    /// Starts a call without a breaker (cleanup): never refused.
    #[inline]
    pub fn begin_unguarded(site: &'s Site, bucket: &str) -> Self {
        Self::started(site, site.series(bucket), Ticket::SETTLED, SitePolicy)
    }
}

impl<'s> Call<'s, &'s RetryPolicy> {
    /// [`Call::begin`] under `policy` instead of the site's (`retry = <expr>`); its attempts
    /// are clamped to 1…[`retry::MAX_ATTEMPTS`](crate::retry::MAX_ATTEMPTS) as the site's are.
    /// The call borrows the policy: generated code copies it into a local of the method first,
    /// so nothing of `self` stays borrowed across the body.
    ///
    /// # Errors
    ///
    /// As [`Call::begin`].
    #[inline]
    pub fn begin_with<T, E: FromCircuitOpen>(
        site: &'s Site,
        policy: &'s RetryPolicy,
        bucket: &str,
        circuit: Option<&CircuitBreaker>,
    ) -> Result<Self, Result<T, E>> {
        Self::begin_under(site, policy, bucket, circuit)
    }

    /// [`Call::begin_unguarded`] under `policy` instead of the site's.
    #[inline]
    pub fn begin_unguarded_with(site: &'s Site, policy: &'s RetryPolicy, bucket: &str) -> Self {
        Self::started(site, site.series(bucket), Ticket::SETTLED, policy)
    }
}

impl<'s, P: CallPolicy> Call<'s, P> {
    #[inline]
    fn begin_under<T, E: FromCircuitOpen>(
        site: &'s Site,
        policy: P,
        bucket: &str,
        circuit: Option<&CircuitBreaker>,
    ) -> Result<Self, Result<T, E>> {
        let series = site.series(bucket);
        let ticket = match circuit {
            None => Ticket::SETTLED,
            Some(circuit) => match circuit.admit() {
                Ok(ticket) => ticket,
                Err(open) => {
                    series.count_circuit_open();
                    return Err(Err(E::from_circuit_open(open)));
                }
            },
        };
        Ok(Self::started(site, series, ticket, policy))
    }

    #[inline]
    fn started(site: &'s Site, series: &'static OpSeries, ticket: Ticket, policy: P) -> Self {
        let shard = thread_shard();
        // The first attempt, through the series it holds; retries look theirs up.
        series.first_attempt.counter.inc_at(shard);
        Self {
            site,
            series,
            ticket,
            start: Instant::now(),
            attempt: 1,
            tokens: 0,
            // Truncating is harmless: the index is masked to the number of shards where used.
            shard: shard as u32,
            delay_nanos: 0,
            policy,
        }
    }

    /// The retry policy in force.
    #[inline]
    fn policy(&self) -> &RetryPolicy {
        self.policy.policy(self.site)
    }

    /// The wait before the next attempt, as `settle` chose it: tokio's `Sleep`, a concrete
    /// type (an `async fn` here would put an opaque future in every annotated method's
    /// coroutine, which costs rustc more to lay out and check). Await it, then
    /// [`resume`](Self::resume).
    pub fn backoff(&self) -> tokio::time::Sleep {
        tokio::time::sleep(Duration::from_nanos(self.delay_nanos))
    }

    /// After the backoff: `true`, the call ends with `last`, the attempt that failed, because
    /// its circuit opened meanwhile (recorded as `settle` records a final result); `false`,
    /// the next attempt is counted (`s3_retry_attempts_total`) and goes ahead. Counting after
    /// the wait means a call cancelled while it waits counts no attempt it did not make.
    pub fn resume<T, E: Classify>(
        &mut self,
        last: &Result<T, E>,
        circuit: Option<&CircuitBreaker>,
    ) -> bool {
        if let (Some(circuit), Err(err)) = (circuit, last) {
            if !circuit.admits_retry(&self.ticket) {
                // The retry is not made: its tokens go back.
                let cost = retry_cost(err);
                circuit.budget().refund(cost);
                self.tokens = self.tokens.saturating_sub(cost as u16);
                self.end_without_retry(err, SkippedRetry::CircuitOpen, Some(circuit));
                return true;
            }
        }
        self.attempt += 1;
        self.site
            .count_retry(u32::from(self.attempt), self.shard as usize);
        false
    }

    /// Runs one attempt under the site's `timeout` and what is left of its `deadline`; an
    /// attempt past either fails with [`AttemptTimeout`], which is transient.
    pub fn with_timeout<T, E, F>(&self, attempt: F) -> impl Future<Output = Result<T, E>>
    where
        F: Future<Output = Result<T, E>>,
        E: FromAttemptTimeout,
    {
        self.limit().apply(attempt)
    }

    /// The time limit of the call's next attempt, to [`apply`](AttemptLimit::apply) to it.
    pub fn limit(&self) -> AttemptLimit {
        AttemptLimit {
            timeout: self.site.timeout,
            deadline_at: self.site.deadline.map(|deadline| self.start + deadline),
        }
    }

    /// Decides what follows an attempt's `result`: `true`, it is the call's result (recorded
    /// on the breaker and in the metrics); `false`, attempt again after
    /// [`backoff`](Self::backoff) and [`resume`](Self::resume). `circuit` is the breaker given
    /// to `begin`, borrowed again: the call holds no borrow of it across the body.
    #[inline]
    pub fn settle<T, E: Classify>(
        &mut self,
        result: &Result<T, E>,
        circuit: Option<&CircuitBreaker>,
    ) -> bool {
        match result {
            Ok(_) => {
                self.finish(OperationResult::Success, BreakerOutcome::Success, circuit);
                // A first-time success earns a token; a later one returns what its retries took.
                let tokens = if self.attempt == 1 {
                    SUCCESS_REWARD
                } else {
                    u32::from(self.tokens)
                };
                budget(circuit).refund(tokens);
                true
            }
            Err(err) => self.settle_err(err, circuit),
        }
    }

    #[inline(never)]
    fn settle_err<E: Classify>(&mut self, err: &E, circuit: Option<&CircuitBreaker>) -> bool {
        let class = err.classify();
        let policy = self.policy();
        if !class.is_retryable() || u32::from(self.attempt) >= policy.attempts() {
            self.end(err, class, circuit);
            return true;
        }
        let delay = policy.delay(u32::from(self.attempt), err.retry_after());
        let cost = retry_cost(err);
        let skipped = if circuit.is_some_and(|c| !c.admits_retry(&self.ticket)) {
            Some(SkippedRetry::CircuitOpen)
        } else if self
            .site
            .deadline
            .is_some_and(|deadline| self.elapsed().saturating_add(delay) >= deadline)
        {
            Some(SkippedRetry::Deadline)
        } else if !budget(circuit).try_take(cost) {
            Some(SkippedRetry::Budget)
        } else {
            None
        };
        if let Some(reason) = skipped {
            self.end_without_retry(err, reason, circuit);
            return true;
        }
        self.tokens = self.tokens.saturating_add(cost as u16);
        // Saturates at 584 years, far past any `max_delay`.
        self.delay_nanos = u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX);
        self.log_retry(err, delay);
        false
    }

    /// Ends the call with `err`, a retryable failure whose retry `reason` forbade.
    #[cold]
    fn end_without_retry<E: Classify>(
        &mut self,
        err: &E,
        reason: SkippedRetry,
        circuit: Option<&CircuitBreaker>,
    ) {
        store()
            .skipped(self.site.operation, reason)
            .inc_at(self.shard as usize);
        tracing::warn!(
            target: "s3_ops::retry",
            operation = self.site.operation,
            bucket = &*self.series.bucket,
            attempts = self.attempt,
            reason = reason.as_str(),
            error_code = error_code(err),
            error_kind = err.error_kind().unwrap_or("-"),
            "S3 operation failed, retry skipped"
        );
        self.end(err, err.classify(), circuit);
    }

    /// Ends the call with `err`: the metrics, the breaker's outcome, the log line.
    fn end<E: Classify>(&mut self, err: &E, class: ErrorClass, circuit: Option<&CircuitBreaker>) {
        let outcome = match class.breaker_outcome() {
            BreakerVerdict::Success => BreakerOutcome::Success,
            BreakerVerdict::Failure => BreakerOutcome::Failure,
            BreakerVerdict::Nothing => BreakerOutcome::Release,
        };
        self.log_failure(err, class);
        self.finish(OperationResult::Error, outcome, circuit);
    }

    /// Time since the call started.
    fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(self.start)
    }

    #[inline]
    fn finish(
        &mut self,
        result: OperationResult,
        outcome: BreakerOutcome,
        circuit: Option<&CircuitBreaker>,
    ) {
        // Not `Instant::elapsed`: tokio's is a function call more, on every call.
        let elapsed = Instant::now().into_std() - self.start.into_std();
        self.series.finish(result, elapsed, self.shard as usize);
        let ticket = std::mem::replace(&mut self.ticket, Ticket::SETTLED);
        if let Some(circuit) = circuit {
            ticket.settle(circuit, outcome);
        }
    }

    fn log_retry<E: Classify>(&self, err: &E, delay: Duration) {
        tracing::warn!(
            target: "s3_ops::retry",
            operation = self.site.operation,
            bucket = &*self.series.bucket,
            attempt = self.attempt,
            max_attempts = self.policy().attempts(),
            delay_ms = delay.as_millis() as u64,
            error_class = ?err.classify(),
            error_code = error_code(err),
            error_kind = err.error_kind().unwrap_or("-"),
            "S3 operation failed, retrying after backoff"
        );
    }

    fn log_failure<E: Classify>(&self, err: &E, class: ErrorClass) {
        if matches!(class, ErrorClass::Transient | ErrorClass::Permanent) {
            tracing::warn!(
                target: "s3_ops::retry",
                operation = self.site.operation,
                bucket = &*self.series.bucket,
                attempts = self.attempt,
                error_class = ?class,
                error_code = error_code(err),
                error_kind = err.error_kind().unwrap_or("-"),
                "S3 operation failed"
            );
        } else {
            tracing::debug!(
                target: "s3_ops::retry",
                operation = self.site.operation,
                bucket = &*self.series.bucket,
                attempts = self.attempt,
                error_class = ?class,
                error_code = error_code(err),
                error_kind = err.error_kind().unwrap_or("-"),
                "S3 operation failed: not retried"
            );
        }
    }
}

/// An attempt's time limit: its site's `timeout`, and what is left of its call's `deadline`
/// when the attempt starts. A value of its own, not a borrow of the call: both attempts of a
/// hedged read carry one while the call decides whether to hedge.
#[derive(Clone, Copy, Debug)]
pub struct AttemptLimit {
    timeout: Option<Duration>,
    deadline_at: Option<Instant>,
}

impl AttemptLimit {
    /// Runs `attempt` within the limit; past it, the attempt is dropped and fails with
    /// [`AttemptTimeout`], which is transient.
    pub async fn apply<T, E, F>(self, attempt: F) -> Result<T, E>
    where
        F: Future<Output = Result<T, E>>,
        E: FromAttemptTimeout,
    {
        let left = self
            .deadline_at
            .map(|at| at.saturating_duration_since(Instant::now()));
        let limit = match (self.timeout, left) {
            (Some(timeout), Some(left)) => Some(timeout.min(left)),
            (timeout, left) => timeout.or(left),
        };
        match limit {
            None => attempt.await,
            Some(limit) => match tokio::time::timeout(limit, attempt).await {
                Ok(result) => result,
                Err(_) => Err(AttemptTimeout { limit }.into()),
            },
        }
    }
}

/// `a == b` for bucket names, inlined: the call to `memcmp` that `==` makes costs more than
/// comparing a short name directly, and this runs on every call.
#[inline]
fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // Overlapping loads cover every byte without a loop: a few compares whatever the length.
    let u32_at = |s: &[u8], at: usize| {
        u32::from_ne_bytes(s[at..at + 4].try_into().expect("a slice of 4 bytes"))
    };
    let u64_at = |s: &[u8], at: usize| {
        u64::from_ne_bytes(s[at..at + 8].try_into().expect("a slice of 8 bytes"))
    };
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => u32_at(a, 0) == u32_at(b, 0) && u32_at(a, n - 4) == u32_at(b, n - 4),
        8..=16 => u64_at(a, 0) == u64_at(b, 0) && u64_at(a, n - 8) == u64_at(b, n - 8),
        _ => a == b,
    }
}

/// The budget a call's retries draw on: its circuit's, or the one of calls without a breaker.
#[inline]
fn budget(circuit: Option<&CircuitBreaker>) -> &RetryBudget {
    match circuit {
        Some(circuit) => circuit.budget(),
        None => unguarded_budget(),
    }
}

/// Tokens a retry after `err` takes: more after a timeout, which held a connection longer.
fn retry_cost<E: Classify>(err: &E) -> u32 {
    match err.error_kind() {
        Some("timeout" | "attempt_timeout") => TIMEOUT_RETRY_COST,
        _ => RETRY_COST,
    }
}

/// The S3 error code for logs, when the error is (or wraps) an `S3Error`.
fn error_code<E: Classify>(err: &E) -> &str {
    err.error_code().unwrap_or("-")
}

#[cfg(test)]
mod tests {
    use super::{same_name, Call, Site};
    use crate::retry::RetryPolicy;

    /// Generated code keeps a `Site` in a `static`: with drop glue, rustc would redo work on
    /// every incremental rebuild of the user's crate (`site_cell.rs`).
    #[test]
    fn a_site_has_no_drop_glue() {
        assert!(!std::mem::needs_drop::<Site>());
    }

    /// A call lives in every annotated method's future and is moved into it: it stays within
    /// a cache line (a ticket is 16 bytes, shard and attempt share 8).
    #[test]
    fn a_call_fits_in_a_cache_line() {
        assert!(std::mem::size_of::<Call<'_>>() <= 64);
    }

    /// A site caches one slot a bucket; an `Operation` frees them when dropped, and moving its
    /// site out (`with_timeout`) leaves nothing behind to free.
    #[test]
    fn freeing_or_taking_the_caches_empties_every_slot() {
        let filled = || {
            let site = Site::new("free_caches_op", RetryPolicy::DEFAULT, None, None);
            for bucket in ["a", "b", "c", "d", "a", "b"] {
                site.series(bucket);
            }
            // One slot a bucket, in the order they came.
            let cached: Vec<&str> = site
                .buckets
                .iter()
                .filter_map(|slot| slot.get().map(|(name, _)| &**name))
                .collect();
            assert_eq!(cached, ["a", "b", "c", "d"]);
            site
        };
        let mut site = filled();
        site.free_caches();
        assert!(site.buckets.iter().all(|slot| slot.get().is_none()));

        let mut site = filled();
        let taken = site.take();
        assert!(site.buckets.iter().all(|slot| slot.get().is_none()));
        assert!(taken.buckets.iter().all(|slot| slot.get().is_some()));
        assert_eq!(taken.operation, "free_caches_op");
    }

    #[test]
    fn same_name_is_string_equality() {
        let names = [
            "",
            "a",
            "b",
            "ab",
            "bb",
            // Three bytes, each one the only difference: the first, the middle, the last.
            "abc",
            "xbc",
            "axc",
            "abx",
            "results",
            "resultz",
            "results1",
            "results2",
            "bucket-of-16-ch",
            "bucket-of-16-chr",
            "bucket-of-16-chs",
            "a-much-longer-bucket-name",
            "a-much-longer-bucket-namf",
        ];
        for a in names {
            for b in names {
                assert_eq!(same_name(a, b), a == b, "{a:?} vs {b:?}");
            }
        }
    }
}
