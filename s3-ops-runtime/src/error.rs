//! The error types of s3-ops: [`S3Error`] for S3 calls, [`CircuitOpen`] for calls refused by an
//! open breaker and [`AttemptTimeout`] for attempts that ran past their time limit.
//!
//! `Display` and `Debug` of these types print the S3 error code, message, HTTP status and request
//! id, never the raw HTTP exchange: S3's own error bodies (`SignatureDoesNotMatch`) echo the
//! string-to-sign and the access key id, and a presigned URL carries its signature in the query.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::classify::{classify_s3, Classify, ErrorClass};

type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A circuit's name, cheap to copy into every refusal: a `'static` name is a pointer, a name
/// built at run time is shared (a reference count, not an allocation, per fast fail).
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum CircuitName {
    Static(&'static str),
    Shared(Arc<str>),
}

impl From<Cow<'static, str>> for CircuitName {
    fn from(name: Cow<'static, str>) -> Self {
        match name {
            Cow::Borrowed(name) => CircuitName::Static(name),
            Cow::Owned(name) => CircuitName::Shared(name.into()),
        }
    }
}

impl Deref for CircuitName {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            CircuitName::Static(name) => name,
            CircuitName::Shared(name) => name,
        }
    }
}

impl fmt::Display for CircuitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl fmt::Debug for CircuitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A call refused by an open circuit breaker: no request was sent.
///
/// Carries the circuit's name and how long until it lets a probe through. Annotated upload and
/// download methods return it converted into their error type (`E: From<CircuitOpen>`).
#[derive(Clone, PartialEq, Eq)]
pub struct CircuitOpen {
    circuit: CircuitName,
    retry_after: Duration,
}

impl CircuitOpen {
    pub(crate) fn new(circuit: CircuitName, retry_after: Duration) -> Self {
        Self {
            circuit,
            retry_after,
        }
    }

    /// The name the breaker was created with (`"s3-upload"`).
    pub fn circuit(&self) -> &str {
        &self.circuit
    }

    /// Time left until the circuit half-opens and admits a probe; zero when it is half-open and
    /// its probe slots are taken.
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }
}

impl fmt::Display for CircuitOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.retry_after.is_zero() {
            write!(
                f,
                "circuit `{}` is half-open and its probe is in flight; call failed fast",
                self.circuit
            )
        } else {
            write!(
                f,
                "circuit `{}` is open for another {:.1?}; call failed fast",
                self.circuit, self.retry_after
            )
        }
    }
}

impl fmt::Debug for CircuitOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitOpen")
            .field("circuit", &self.circuit)
            .field("retry_after", &self.retry_after)
            .finish()
    }
}

impl StdError for CircuitOpen {}

/// One attempt ran past the operation's `timeout`, or was still running at the call's
/// `deadline`; a transient failure, so it is retried while the deadline allows.
///
/// Annotated methods with a `timeout` or `deadline` argument need `E: From<AttemptTimeout>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptTimeout {
    pub(crate) limit: Duration,
}

impl AttemptTimeout {
    /// An attempt cut after `limit`: for error types of your own and their tests.
    pub fn new(limit: Duration) -> Self {
        Self { limit }
    }

    /// The limit that was exceeded: the attempt's `timeout`, or what was left of the call's
    /// `deadline`.
    pub fn limit(&self) -> Duration {
        self.limit
    }
}

impl fmt::Display for AttemptTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S3 attempt timed out after {:?}", self.limit)
    }
}

impl StdError for AttemptTimeout {}

/// What went wrong in an S3 call, as far as resilience is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum S3ErrorKind {
    /// S3 answered with an error (`NoSuchKey`, `SlowDown`, …); see [`S3Error::code`].
    Service,
    /// The request never left this process: missing region or credentials, invalid parameters.
    Construction,
    /// The request could not be sent or its answer not received: connection refused or reset, DNS.
    Dispatch,
    /// The SDK's own timeout fired.
    Timeout,
    /// An answer came but could not be read: a body cut short, unparseable XML.
    Response,
    /// An attempt ran past the operation's `timeout`.
    AttemptTimeout,
    /// An open circuit breaker refused the call; no request was sent.
    CircuitOpen,
}

impl S3ErrorKind {
    /// `"service"`, `"construction"`, `"dispatch"`, `"timeout"`, `"response"`,
    /// `"attempt_timeout"` or `"circuit_open"`.
    pub fn as_str(self) -> &'static str {
        match self {
            S3ErrorKind::Service => "service",
            S3ErrorKind::Construction => "construction",
            S3ErrorKind::Dispatch => "dispatch",
            S3ErrorKind::Timeout => "timeout",
            S3ErrorKind::Response => "response",
            S3ErrorKind::AttemptTimeout => "attempt_timeout",
            S3ErrorKind::CircuitOpen => "circuit_open",
        }
    }
}

/// The error of an S3 call, with what resilience decisions need: the S3 error code, the HTTP
/// status, and the server's suggested retry delay.
///
/// Converts from any `aws_sdk_s3` operation error (`SdkError<E, HttpResponse>`), from
/// [`CircuitOpen`], [`AttemptTimeout`] and from a failed body read
/// (`aws_smithy_types::byte_stream::error::Error`), so `?` works on all of them in an annotated
/// method.
pub struct S3Error {
    repr: Repr,
}

enum Repr {
    // Kept inline (no allocation) so that failing fast on an open circuit stays cheap.
    CircuitOpen(CircuitOpen),
    AttemptTimeout(AttemptTimeout),
    Other(Box<Details>),
}

struct Details {
    kind: S3ErrorKind,
    class: ErrorClass,
    code: Option<String>,
    message: Option<String>,
    status: Option<u16>,
    request_id: Option<String>,
    retry_after: Option<Duration>,
    source: Option<BoxError>,
}

impl S3Error {
    /// An S3 service error built by hand, for tests and for wrappers of other S3 clients;
    /// classified like one from the SDK.
    pub fn service(code: impl Into<String>, status: Option<u16>) -> Self {
        let code = code.into();
        let class = classify_s3(Some(&code), status);
        Self::from_details(Details {
            kind: S3ErrorKind::Service,
            class,
            code: Some(code),
            message: None,
            status,
            request_id: None,
            retry_after: None,
            source: None,
        })
    }

    /// An error of the given kind with a source, classified by kind: dispatch, timeout and
    /// response failures are transient, construction failures never reach S3.
    pub fn from_source(kind: S3ErrorKind, source: impl Into<BoxError>) -> Self {
        let class = match kind {
            S3ErrorKind::Construction => ErrorClass::Local,
            S3ErrorKind::CircuitOpen => ErrorClass::CircuitOpen,
            S3ErrorKind::Service => ErrorClass::Permanent,
            S3ErrorKind::Dispatch
            | S3ErrorKind::Timeout
            | S3ErrorKind::Response
            | S3ErrorKind::AttemptTimeout => ErrorClass::Transient,
        };
        Self::from_details(Details {
            kind,
            class,
            code: None,
            message: None,
            status: None,
            request_id: None,
            retry_after: None,
            source: Some(source.into()),
        })
    }

    fn from_details(details: Details) -> Self {
        Self {
            repr: Repr::Other(Box::new(details)),
        }
    }

    /// What went wrong, as far as resilience is concerned.
    pub fn kind(&self) -> S3ErrorKind {
        match &self.repr {
            Repr::CircuitOpen(_) => S3ErrorKind::CircuitOpen,
            Repr::AttemptTimeout(_) => S3ErrorKind::AttemptTimeout,
            Repr::Other(d) => d.kind,
        }
    }

    /// `true` when an open circuit breaker refused the call (no request was sent): exactly when
    /// [`kind`](Self::kind) is [`S3ErrorKind::CircuitOpen`].
    pub fn is_circuit_open(&self) -> bool {
        self.kind() == S3ErrorKind::CircuitOpen
    }

    /// The refusal, when an open circuit breaker refused the call (`None` for an error built
    /// with [`from_source`](Self::from_source), which carries no circuit).
    pub fn circuit_open(&self) -> Option<&CircuitOpen> {
        match &self.repr {
            Repr::CircuitOpen(open) => Some(open),
            _ => None,
        }
    }

    /// The S3 error code (`"NoSuchKey"`, `"SlowDown"`), when S3 answered with one.
    pub fn code(&self) -> Option<&str> {
        self.details()?.code.as_deref()
    }

    /// S3's error message, when it sent one.
    pub fn message(&self) -> Option<&str> {
        self.details()?.message.as_deref()
    }

    /// The HTTP status of S3's answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        self.details()?.status
    }

    /// S3's request id (`x-amz-request-id`), for support cases.
    pub fn request_id(&self) -> Option<&str> {
        self.details()?.request_id.as_deref()
    }

    fn details(&self) -> Option<&Details> {
        match &self.repr {
            Repr::Other(d) => Some(d),
            _ => None,
        }
    }
}

impl Classify for S3Error {
    fn classify(&self) -> ErrorClass {
        match &self.repr {
            Repr::CircuitOpen(_) => ErrorClass::CircuitOpen,
            Repr::AttemptTimeout(_) => ErrorClass::Transient,
            Repr::Other(d) => d.class,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        self.details()?.retry_after
    }

    fn error_code(&self) -> Option<&str> {
        self.code()
    }

    fn error_kind(&self) -> Option<&str> {
        Some(self.kind().as_str())
    }
}

impl From<CircuitOpen> for S3Error {
    fn from(open: CircuitOpen) -> Self {
        Self {
            repr: Repr::CircuitOpen(open),
        }
    }
}

impl From<AttemptTimeout> for S3Error {
    fn from(timeout: AttemptTimeout) -> Self {
        Self {
            repr: Repr::AttemptTimeout(timeout),
        }
    }
}

/// A body that could not be read to its end (the connection dropped, the body was cut short):
/// transient, so a body read inside an annotated method is retried like the request itself.
impl From<aws_smithy_types::byte_stream::error::Error> for S3Error {
    fn from(err: aws_smithy_types::byte_stream::error::Error) -> Self {
        Self::from_source(S3ErrorKind::Response, err)
    }
}

impl<E> From<SdkError<E, HttpResponse>> for S3Error
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    fn from(err: SdkError<E, HttpResponse>) -> Self {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let retry_after = err
            .raw_response()
            .and_then(crate::classify::retry_after_header);
        let request_id = err
            .raw_response()
            .and_then(|r| r.headers().get("x-amz-request-id"))
            .map(str::to_owned);
        let (kind, class) = match &err {
            SdkError::ServiceError(_) => (S3ErrorKind::Service, err.classify()),
            SdkError::DispatchFailure(_) => (S3ErrorKind::Dispatch, err.classify()),
            SdkError::TimeoutError(_) => (S3ErrorKind::Timeout, ErrorClass::Transient),
            SdkError::ResponseError(_) => (S3ErrorKind::Response, ErrorClass::Transient),
            SdkError::ConstructionFailure(_) => (S3ErrorKind::Construction, ErrorClass::Local),
            // `SdkError` is non-exhaustive: an unknown failure is not retried and, since we
            // cannot tell whose fault it is, counts against the breaker.
            _ => (S3ErrorKind::Response, ErrorClass::Permanent),
        };
        let code = err.code().map(str::to_owned);
        let message = err.message().map(str::to_owned);
        // The source only: a `ResponseError`'s raw response (headers, body) is dropped here.
        let source = err
            .into_source()
            .unwrap_or_else(|unknown| unknown.to_string().into());
        Self::from_details(Details {
            kind,
            class,
            code,
            message,
            status,
            request_id,
            retry_after,
            source: Some(source),
        })
    }
}

impl fmt::Display for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = match &self.repr {
            Repr::CircuitOpen(open) => return open.fmt(f),
            Repr::AttemptTimeout(timeout) => return timeout.fmt(f),
            Repr::Other(d) => d,
        };
        match d.kind {
            S3ErrorKind::Service => f.write_str("S3 answered with an error")?,
            S3ErrorKind::Construction => f.write_str("S3 request could not be built")?,
            S3ErrorKind::Dispatch => f.write_str("S3 request could not be sent")?,
            S3ErrorKind::Timeout => f.write_str("S3 request timed out")?,
            S3ErrorKind::Response => f.write_str("S3 response could not be read")?,
            S3ErrorKind::AttemptTimeout | S3ErrorKind::CircuitOpen => {
                f.write_str("S3 call failed")?
            }
        }
        if let Some(code) = &d.code {
            write!(f, ": {code}")?;
        }
        if let Some(status) = d.status {
            write!(f, " (HTTP {status})")?;
        }
        if let Some(message) = &d.message {
            write!(f, ": {message}")?;
        } else if let Some(source) = &d.source {
            if d.kind != S3ErrorKind::Service {
                write!(f, ": {}", DisplayChain(source.as_ref()))?;
            }
        }
        if let Some(id) = &d.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

impl fmt::Debug for S3Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = match &self.repr {
            Repr::CircuitOpen(open) => return f.debug_tuple("S3Error").field(open).finish(),
            Repr::AttemptTimeout(t) => return f.debug_tuple("S3Error").field(t).finish(),
            Repr::Other(d) => d,
        };
        let mut s = f.debug_struct("S3Error");
        s.field("kind", &d.kind).field("class", &d.class);
        if let Some(code) = &d.code {
            s.field("code", code);
        }
        if let Some(message) = &d.message {
            s.field("message", message);
        }
        if let Some(status) = d.status {
            s.field("status", &status);
        }
        if let Some(id) = &d.request_id {
            s.field("request_id", id);
        }
        if let Some(after) = d.retry_after {
            s.field("retry_after", &after);
        }
        // The source's own `Debug` may print raw responses; its `Display` chain is what helps.
        if let Some(source) = &d.source {
            if d.kind != S3ErrorKind::Service {
                s.field("source", &DisplayChain(source.as_ref()).to_string());
            }
        }
        s.finish()
    }
}

impl StdError for S3Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.repr {
            Repr::CircuitOpen(open) => Some(open),
            Repr::AttemptTimeout(t) => Some(t),
            Repr::Other(d) => d.source.as_deref().map(|s| s as _),
        }
    }
}

/// `a: b: c` over an error's source chain: the SDK's top-level messages ("dispatch failure")
/// say little on their own.
struct DisplayChain<'a>(&'a (dyn StdError + 'static));

impl fmt::Display for DisplayChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(err) = next {
            write!(f, ": {err}")?;
            next = err.source();
        }
        Ok(())
    }
}
