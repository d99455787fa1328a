//! The same resilience as the attribute, without the attribute: for code that cannot be
//! annotated (a closure, a generic helper) and for checking the engine on its own.

use std::future::Future;
use std::time::Duration;

use crate::breaker::CircuitBreaker;
use crate::call::{Call, Site};
use crate::classify::Classify;
use crate::error::{AttemptTimeout, CircuitOpen};
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
/// The attribute is the better tool for methods: it runs the body itself in the retry loop, so
/// the body may borrow `self` mutably and move nothing into a closure.
pub struct Operation {
    class: OperationClass,
    site: Site,
}

impl Operation {
    /// `operation` is the SDK's snake_case name (the `operation` label); the policy is the
    /// class's default.
    pub const fn new(class: OperationClass, operation: &'static str) -> Self {
        Self::with_policy(class, operation, class.default_policy(), None)
    }

    /// An operation with a policy of your own and, optionally, a per-attempt time limit (an
    /// attempt past it is a transient failure, so retried).
    pub const fn with_policy(
        class: OperationClass,
        operation: &'static str,
        policy: RetryPolicy,
        timeout: Option<Duration>,
    ) -> Self {
        Self {
            class,
            site: Site::new(operation, policy, timeout, None),
        }
    }

    /// The same operation, with a time limit for the whole call: attempts and backoffs end by
    /// then. A backoff that would end past it is not slept (the call ends with its last error);
    /// an attempt still running at the deadline is cancelled and fails with [`AttemptTimeout`].
    pub const fn with_deadline(mut self, deadline: Duration) -> Self {
        self.site.deadline = Some(deadline);
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
        E: Classify + From<CircuitOpen> + From<AttemptTimeout>,
    {
        let call = match Call::begin(&self.site, bucket, Some(circuit)) {
            Ok(call) => call,
            Err(refused) => return refused,
        };
        drive(call, Some(circuit), attempt).await
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
        E: Classify + From<AttemptTimeout>,
    {
        drive(Call::begin_unguarded(&self.site, bucket), None, attempt).await
    }
}

impl Drop for Operation {
    fn drop(&mut self) {
        self.site.free_caches();
    }
}

async fn drive<T, E, F, Fut>(
    mut call: Call<'_>,
    circuit: Option<&CircuitBreaker>,
    mut attempt: F,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Classify + From<AttemptTimeout>,
{
    loop {
        let result = call.with_timeout(attempt()).await;
        if call.settle(&result, circuit) {
            return result;
        }
        call.backoff().await;
        if call.resume(&result, circuit) {
            return result;
        }
    }
}
