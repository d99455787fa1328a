//! The attribute's contract ("What one call does", step 5): a `tracing` event on every
//! breaker transition and every retry, with the operation, attempt, delay and error code; and
//! one for every operator override.
//! Recorded by a minimal subscriber of the test's own.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::operation::delete_object::DeleteObjectError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::{ConnectorError, SdkError};
use s3_ops_runtime::retry::{Jitter, RetryPolicy};
use s3_ops_runtime::{CircuitBreaker, Classify, Operation, OperationClass, S3Error};
use tracing::field::{Field, Visit};
use tracing::{span, Event, Level, Metadata, Subscriber};

#[derive(Debug)]
struct Recorded {
    target: String,
    level: Level,
    fields: BTreeMap<String, String>,
}

impl Recorded {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    fn message(&self) -> &str {
        self.field("message").unwrap_or_default()
    }
}

/// Keeps every event; spans are not needed here.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Recorded>>>);

impl Recorder {
    fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
        span::Id::from_u64(1)
    }

    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}

    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Recorded {
            target: event.metadata().target().to_owned(),
            level: *event.metadata().level(),
            fields,
        });
    }

    fn enter(&self, _: &span::Id) {}

    fn exit(&self, _: &span::Id) {}
}

#[tokio::test(start_paused = true)]
async fn every_retry_is_logged_with_operation_attempt_delay_and_code() {
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());

    let policy = RetryPolicy {
        jitter: Jitter::None,
        ..RetryPolicy::DEFAULT
    };
    let op = Operation::with_policy(OperationClass::Upload, "tracing_op", policy);
    let breaker = CircuitBreaker::new("tracing-retry");
    let mut errors = vec![
        S3Error::service("InternalError", Some(500)),
        S3Error::service("SlowDown", Some(503)),
    ];
    op.run(&breaker, "tracing-bucket", || {
        let next = errors.pop();
        async move { next.map_or(Ok(()), Err) }
    })
    .await
    .expect("the third attempt succeeds");

    let retries: Vec<Recorded> = recorder
        .take()
        .into_iter()
        .filter(|e| e.target == "s3_ops::retry")
        .collect();
    assert_eq!(retries.len(), 2, "{retries:#?}");
    for (event, (attempt, delay, code)) in retries
        .iter()
        .zip([("1", "1000", "SlowDown"), ("2", "2000", "InternalError")])
    {
        assert_eq!(event.level, Level::WARN);
        assert_eq!(event.field("operation"), Some("tracing_op"), "{event:?}");
        assert_eq!(event.field("bucket"), Some("tracing-bucket"), "{event:?}");
        assert_eq!(event.field("attempt"), Some(attempt), "{event:?}");
        assert_eq!(event.field("delay_ms"), Some(delay), "{event:?}");
        assert_eq!(event.field("error_code"), Some(code), "{event:?}");
        assert!(event.message().contains("retrying"), "{event:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn every_breaker_transition_is_logged() {
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let breaker = CircuitBreaker::new("tracing-transitions");
    let transitions = || -> Vec<(String, String, String)> {
        recorder
            .take()
            .into_iter()
            .filter(|e| e.target == "s3_ops::breaker")
            .map(|e| {
                assert_eq!(e.field("circuit"), Some("tracing-transitions"), "{e:?}");
                (
                    e.level.to_string(),
                    e.field("from").unwrap_or_default().to_owned(),
                    e.message().to_owned(),
                )
            })
            .collect()
    };

    for _ in 0..4 {
        breaker.record_failure();
    }
    assert_eq!(transitions(), [], "no transition before the fifth failure");
    breaker.record_failure();
    let logged = transitions();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(
        (logged[0].0.as_str(), logged[0].1.as_str()),
        ("WARN", "closed")
    );
    assert!(logged[0].2.contains("opened"), "{logged:?}");

    tokio::time::advance(Duration::from_secs(60)).await;
    breaker.acquire().expect("probe").success();
    let logged = transitions();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0].1, "open");
    assert!(logged[0].2.contains("half-open"), "{logged:?}");

    breaker.acquire().expect("probe").success();
    let logged = transitions();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0].1, "half_open");
    assert!(logged[0].2.contains("closed"), "{logged:?}");
}

/// The retry events of one call whose first attempt fails with `first_error`.
async fn retry_events_of(first_error: S3Error) -> Vec<Recorded> {
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let policy = RetryPolicy {
        jitter: Jitter::None,
        ..RetryPolicy::DEFAULT
    };
    let op = Operation::with_policy(OperationClass::Cleanup, "delete_object", policy);
    let mut first = Some(first_error);
    op.run_without_breaker("tracing-bucket", || {
        let next = first.take();
        async move { next.map_or(Ok(()), Err) }
    })
    .await
    .unwrap_or_else(|_| panic!("the second attempt succeeds"));
    recorder
        .take()
        .into_iter()
        .filter(|e| e.target == "s3_ops::retry")
        .collect()
}

/// A connection reset, as the SDK reports it.
fn dispatch() -> SdkError<DeleteObjectError, HttpResponse> {
    SdkError::dispatch_failure(ConnectorError::io("connection reset by peer".into()))
}

#[tokio::test(start_paused = true)]
async fn a_retry_without_an_s3_error_code_names_the_failure_kind() {
    let events = retry_events_of(S3Error::from(dispatch())).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].field("error_code"), Some("-"));
    assert_eq!(events[0].field("error_kind"), Some("dispatch"));
}

#[test]
fn the_sdk_error_names_its_failure_kind_too() {
    // A cleanup method may return the SDK's error directly; its retry lines read the kind
    // through the same trait.
    assert_eq!(
        Classify::error_kind(&dispatch()),
        Some("dispatch"),
        "the retry line of a cleanup method returning `SdkError` would say `error_kind=-`"
    );
}

/// An operator's switch is logged as a warning naming the circuit and the override, so that
/// whoever reads the logs during an incident sees who is holding the breaker.
#[test]
fn every_operator_override_is_logged() {
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());
    let breaker = CircuitBreaker::new("tracing-overrides");

    breaker.hold_open();
    breaker.disable();
    breaker.release();
    let logged: Vec<(String, String, String)> = recorder
        .take()
        .into_iter()
        .filter(|e| e.target == "s3_ops::breaker" && e.field("override").is_some())
        .map(|e| {
            assert_eq!(e.field("circuit"), Some("tracing-overrides"), "{e:?}");
            (
                e.level.to_string(),
                e.field("override").unwrap_or_default().to_owned(),
                e.message().to_owned(),
            )
        })
        .collect();
    let overrides: Vec<(&str, &str)> = logged
        .iter()
        .map(|(level, held, _)| (level.as_str(), held.as_str()))
        .collect();
    assert_eq!(
        overrides,
        [
            ("WARN", "held_open"),
            ("WARN", "disabled"),
            ("WARN", "none")
        ]
    );
    assert!(
        logged[0].2.contains("held open by an operator"),
        "{logged:?}"
    );
    assert!(logged[2].2.contains("released"), "{logged:?}");
}
