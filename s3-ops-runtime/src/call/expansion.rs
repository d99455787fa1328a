//! What only the attribute's expansion calls, besides [`Call`]: the site's constructor and the
//! bounds on the method's types, each asked for under a name of its own so that a missing
//! implementation is reported in the attribute's words.

use core::borrow::Borrow;
use core::time::Duration;

use super::Site;
use crate::breaker::CircuitBreaker;
use crate::error::{AttemptTimeout, CircuitOpen};
use crate::retry::hedge::{Hedge, HedgeDelay};
use crate::retry::RetryPolicy;

/// The `static` call site of an annotated method, from the attribute's checked arguments:
/// `timeout_nanos` and `deadline_nanos` 0 for none.
pub const fn site(
    operation: &'static str,
    policy: RetryPolicy,
    timeout_nanos: u64,
    deadline_nanos: u64,
) -> Site {
    Site::new(
        operation,
        policy,
        optional(timeout_nanos),
        optional(deadline_nanos),
    )
}

/// The hedging of a `static` call site (`hedge = "…"`): after `delay_nanos`, or when 0, at the
/// `permille`th latency.
pub const fn hedge(delay_nanos: u64, permille: u16) -> Hedge {
    Hedge::new(match delay_nanos {
        0 => HedgeDelay::Percentile(permille),
        nanos => HedgeDelay::After(Duration::from_nanos(nanos)),
    })
}

const fn optional(nanos: u64) -> Option<Duration> {
    match nanos {
        0 => None,
        nanos => Some(Duration::from_nanos(nanos)),
    }
}

/// `From<CircuitOpen>`, asked for under its own name so the error message speaks of s3-ops.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot report that the circuit breaker is open",
    label = "upload and download operations need `{Self}: From<s3_ops_runtime::CircuitOpen>`",
    note = "return `s3_ops_runtime::S3Error`, or implement `From<s3_ops_runtime::CircuitOpen>` for `{Self}`"
)]
pub trait FromCircuitOpen {
    /// Converts the refusal.
    fn from_circuit_open(open: CircuitOpen) -> Self;
}

impl<E: From<CircuitOpen>> FromCircuitOpen for E {
    #[inline]
    fn from_circuit_open(open: CircuitOpen) -> Self {
        E::from(open)
    }
}

/// `From<AttemptTimeout>`, asked for when the attribute has a `timeout` or a `deadline`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot report an attempt timeout",
    label = "with `timeout = ...` or `deadline = ...` the error type needs `{Self}: From<s3_ops_runtime::AttemptTimeout>`",
    note = "return `s3_ops_runtime::S3Error`, or implement `From<s3_ops_runtime::AttemptTimeout>` for `{Self}`"
)]
pub trait FromAttemptTimeout: From<AttemptTimeout> {}

impl<E: From<AttemptTimeout>> FromAttemptTimeout for E {}

/// What the `bucket` argument may be: anything that borrows as `&str`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a bucket name",
    label = "`bucket = ...` must borrow as `&str`",
    note = "give a `String`, `&str`, `Box<str>` or `Cow<str>` expression, such as `bucket = self.bucket` or `bucket = \"results\"`"
)]
pub trait BucketName {
    /// The name.
    fn bucket_name(&self) -> &str;
}

impl<B: AsRef<str> + ?Sized> BucketName for B {
    #[inline]
    fn bucket_name(&self) -> &str {
        self.as_ref()
    }
}

/// The `bucket` argument, borrowed as `&str`.
#[inline]
pub fn bucket<B: BucketName + ?Sized>(bucket: &B) -> &str {
    bucket.bucket_name()
}

/// What the `retry` argument may be: anything that borrows as a [`RetryPolicy`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a retry policy",
    label = "`retry = ...` must borrow as `&s3_ops_runtime::RetryPolicy`",
    note = "give a `RetryPolicy` expression, such as `retry = self.upload_retry` (a field set from `RetryPolicy::from_env`)"
)]
pub trait RetryPolicySource {
    /// The policy.
    fn retry_policy(&self) -> &RetryPolicy;
}

impl<P: Borrow<RetryPolicy> + ?Sized> RetryPolicySource for P {
    #[inline]
    fn retry_policy(&self) -> &RetryPolicy {
        self.borrow()
    }
}

/// The `retry` argument, copied into a local of the method: the call borrows the copy, not
/// the argument, so nothing of `self` stays borrowed across the body (`&mut self` methods and
/// a policy read through a lock guard work alike).
#[inline]
pub fn retry<P: RetryPolicySource + ?Sized>(policy: &P) -> RetryPolicy {
    *policy.retry_policy()
}

/// The `circuit` argument, type-checked where it is written, as `Call` takes it (one call
/// rather than `Some(circuit(..))`: the enum constructor's inference costs rustc more, in every
/// method).
#[inline]
pub fn circuit(circuit: &CircuitBreaker) -> Option<&CircuitBreaker> {
    Some(circuit)
}
