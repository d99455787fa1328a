//! The same resilience as the attribute, without the attribute: for code that cannot be
//! annotated (a closure, a generic helper) and for checking the engine on its own.

use std::future::Future;
use std::marker::PhantomData;
use std::time::Duration;

use crate::breaker::CircuitBreaker;
use crate::call::hedge::AttemptPair;
use crate::call::{AttemptLimit, Call, Site};
use crate::classify::Classify;
use crate::error::{AttemptTimeout, CircuitOpen};
use crate::retry::hedge::{Hedge, HedgeDelay};
use crate::retry::RetryPolicy;

/// The three kinds of S3 call, each with its own breaker (or none) and defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OperationClass {
    /// Writes (`put_object`, multipart uploads, copies): behind the upload circuit, 3 attempts.
    Upload,
    /// Reads (`get_object`, `head_object`, listings): behind the download circuit, 3 attempts.
    Download,
    /// Best-effort deletes: no circuit breaker, by design, and 1 attempt unless asked otherwise.
    Cleanup,
}

impl OperationClass {
    /// `"upload"`, `"download"` or `"cleanup"`.
    pub fn as_str(self) -> &'static str {
        match self {
            OperationClass::Upload => "upload",
            OperationClass::Download => "download",
            OperationClass::Cleanup => "cleanup",
        }
    }

    /// The class's default policy: 3 attempts for upload and download, 1 for cleanup.
    pub const fn default_policy(self) -> RetryPolicy {
        match self {
            OperationClass::Upload | OperationClass::Download => RetryPolicy::DEFAULT,
            OperationClass::Cleanup => RetryPolicy::NO_RETRY,
        }
    }
}

/// An S3 operation with its retry policy, run around a closure that makes one attempt.
///
/// `const`, so it can live in a `static` (its metric series are then resolved once):
///
/// ```no_run
/// use s3_ops_runtime::{CircuitBreaker, Operation, OperationClass, S3Error};
///
/// static PUT: Operation = Operation::new(OperationClass::Upload, "put_object");
///
/// # async fn upload(client: &aws_sdk_s3::Client, circuit: &CircuitBreaker) -> Result<(), S3Error> {
/// PUT.run(circuit, "results", || async {
///     client.put_object().bucket("results").key("a.md").send().await?;
///     Ok::<_, S3Error>(())
/// })
/// .await
/// # }
/// ```
///
/// [`with_timeout`](Self::with_timeout) and [`with_deadline`](Self::with_deadline) give an
/// [`Operation<TimeLimited>`]: only then does the error type need `From<AttemptTimeout>`.
///
/// ```no_run
/// use std::time::Duration;
/// use s3_ops_runtime::operation::TimeLimited;
/// use s3_ops_runtime::{Operation, OperationClass, RetryPolicy};
///
/// static GET: Operation<TimeLimited> =
///     Operation::with_policy(OperationClass::Download, "get_object", RetryPolicy::DEFAULT)
///         .with_timeout(Duration::from_secs(2))
///         .with_deadline(Duration::from_secs(5));
/// ```
///
/// The attribute is the better tool for methods: it runs the body itself in the retry loop, so
/// the body may borrow `self` mutably and move nothing into a closure.
pub struct Operation<L = NoTimeLimit> {
    class: OperationClass,
    site: Site,
    hedge: Option<Hedge>,
    limit: PhantomData<L>,
}

/// The attempts of an [`Operation`] run as long as they take: its error type needs no
/// `From<AttemptTimeout>`.
#[derive(Clone, Copy, Debug)]
pub struct NoTimeLimit;

/// An [`Operation`] with a per-attempt timeout or a whole-call deadline: an attempt past it
/// fails with [`AttemptTimeout`], so its error type needs `From<AttemptTimeout>`.
#[derive(Clone, Copy, Debug)]
pub struct TimeLimited;

/// How an [`Operation`] runs one attempt, and so what its error type `E` needs: implemented by
/// [`NoTimeLimit`] for any `E`, by [`TimeLimited`] for an `E: From<AttemptTimeout>`. Sealed.
pub trait AttemptRunner<E>: sealed::Sealed {
    /// Runs `attempt` as the call's next one, within `limit`.
    #[doc(hidden)]
    fn run<T, F>(limit: AttemptLimit, attempt: F) -> impl Future<Output = Result<T, E>>
    where
        F: Future<Output = Result<T, E>>;
}

impl<E> AttemptRunner<E> for NoTimeLimit {
    #[inline]
    fn run<T, F>(_: AttemptLimit, attempt: F) -> impl Future<Output = Result<T, E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        attempt
    }
}

impl<E: From<AttemptTimeout>> AttemptRunner<E> for TimeLimited {
    #[inline]
    fn run<T, F>(limit: AttemptLimit, attempt: F) -> impl Future<Output = Result<T, E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        limit.apply(attempt)
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::NoTimeLimit {}
    impl Sealed for super::TimeLimited {}
}

impl Operation {
    /// `operation` is the SDK's snake_case name (the `operation` label); the policy is the
    /// class's default.
    pub const fn new(class: OperationClass, operation: &'static str) -> Self {
        Self::with_policy(class, operation, class.default_policy())
    }

    /// An operation with a policy of your own.
    pub const fn with_policy(
        class: OperationClass,
        operation: &'static str,
        policy: RetryPolicy,
    ) -> Self {
        Self {
            class,
            site: Site::new(operation, policy, None, None),
            hedge: None,
            limit: PhantomData,
        }
    }
}

impl<L> Operation<L> {
    /// The same operation, with a time limit for each attempt: an attempt past it is cancelled
    /// and fails with [`AttemptTimeout`], a transient failure, so retried.
    pub const fn with_timeout(self, timeout: Duration) -> Operation<TimeLimited> {
        let deadline = self.site.deadline;
        self.time_limited(Some(timeout), deadline)
    }

    /// The same operation, with a time limit for the whole call: attempts and backoffs end by
    /// then. A backoff that would end past it is not slept (the call ends with its last error);
    /// an attempt still running at the deadline is cancelled and fails with [`AttemptTimeout`].
    pub const fn with_deadline(self, deadline: Duration) -> Operation<TimeLimited> {
        let timeout = self.site.timeout;
        self.time_limited(timeout, Some(deadline))
    }

    const fn time_limited(
        mut self,
        timeout: Option<Duration>,
        deadline: Option<Duration>,
    ) -> Operation<TimeLimited> {
        let mut site = self.site.take();
        site.timeout = timeout;
        site.deadline = deadline;
        let class = self.class;
        let hedge = self.hedge.take();
        // Its caches moved to `site`: nothing is left for its `Drop` to free.
        std::mem::forget(self);
        Operation {
            class,
            site,
            hedge,
            limit: PhantomData,
        }
    }

    /// The same operation with hedged reads: an attempt that has not answered after `delay`
    /// gets an identical one beside it, and the first success or final error wins (the other
    /// is dropped, its request cancelled). As with the attribute's `hedge` argument: no hedge
    /// unless the circuit is closed, at most one per ten calls, each taking a token of the
    /// circuit's retry budget; counted in `s3_hedged_attempts_total`.
    ///
    /// The closure is called twice for each attempt, and the second future is dropped unpolled
    /// unless the hedge is sent: it must do its work when polled (an `async` block or the SDK's
    /// `send()`), not when called.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use s3_ops_runtime::retry::hedge::HedgeDelay;
    /// use s3_ops_runtime::{CircuitBreaker, Operation, OperationClass, S3Error};
    ///
    /// static GET: Operation = Operation::new(OperationClass::Download, "get_object")
    ///     .with_hedge(HedgeDelay::Percentile(950));
    ///
    /// # async fn read(client: &aws_sdk_s3::Client, circuit: &CircuitBreaker) -> Result<(), S3Error> {
    /// let bytes = GET
    ///     .run(circuit, "results", || async {
    ///         let object = client.get_object().bucket("results").key("a.md").send().await?;
    ///         Ok::<_, S3Error>(object.body.collect().await?.into_bytes())
    ///     })
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// For an operation not of the download class (at compile time in a `static`): a hedge
    /// sends a request twice, which only a read may do.
    pub const fn with_hedge(mut self, delay: HedgeDelay) -> Self {
        assert!(
            matches!(self.class, OperationClass::Download),
            "hedged reads are for the download class (a write or a delete must not be sent twice): use `OperationClass::Download`, or no `with_hedge`"
        );
        self.hedge = Some(Hedge::new(delay));
        self
    }

    /// The class given at creation.
    pub fn class(&self) -> OperationClass {
        self.class
    }

    /// The retry policy in use.
    pub fn policy(&self) -> &RetryPolicy {
        &self.site.policy
    }

    /// Runs `attempt` behind `circuit`, retrying transient failures.
    ///
    /// # Errors
    ///
    /// The circuit's refusal, or the last attempt's error.
    pub async fn run<T, E, F, Fut>(
        &self,
        circuit: &CircuitBreaker,
        bucket: &str,
        attempt: F,
    ) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Classify + From<CircuitOpen>,
        L: AttemptRunner<E>,
    {
        let call = match Call::begin(&self.site, bucket, Some(circuit)) {
            Ok(call) => call,
            Err(refused) => return refused,
        };
        drive::<L, _, _, _, _>(call, self.hedge.as_ref(), Some(circuit), attempt).await
    }

    /// Runs `attempt` without a breaker (best-effort cleanup), retrying transient failures if
    /// the policy allows more than one attempt.
    ///
    /// # Errors
    ///
    /// The last attempt's error.
    pub async fn run_without_breaker<T, E, F, Fut>(&self, bucket: &str, attempt: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        E: Classify,
        L: AttemptRunner<E>,
    {
        let call = Call::begin_unguarded(&self.site, bucket);
        drive::<L, _, _, _, _>(call, self.hedge.as_ref(), None, attempt).await
    }
}

impl<L> Drop for Operation<L> {
    fn drop(&mut self) {
        self.site.free_caches();
    }
}

async fn drive<L, T, E, F, Fut>(
    mut call: Call<'_>,
    hedge: Option<&Hedge>,
    circuit: Option<&CircuitBreaker>,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Classify,
    L: AttemptRunner<E>,
{
    loop {
        let limit = call.limit();
        let result = match hedge {
            None => L::run(limit, attempt()).await,
            Some(hedge) => {
                let mut pair = AttemptPair::new();
                pair.put(L::run(limit, attempt()));
                pair.put(L::run(limit, attempt()));
                call.hedged(hedge, pair, circuit).await
            }
        };
        if call.settle(&result, circuit) {
            return result;
        }
        call.backoff().await;
        if call.resume(&result, circuit) {
            return result;
        }
    }
}
