//! Retry storms on the wire (embedded S3 server): does a fleet of callers multiply a failing
//! S3's load by its retries? Default policy and retry budget, backoffs shortened to
//! milliseconds so each test runs in seconds. `cargo test storm` runs them; `--nocapture`
//! prints the figures.
//!
//! *Amplification* is S3 requests ÷ calls admitted (calls the circuit did not refuse): 1.0 is
//! one request per call; 3.0 is every call spending all three attempts.
//!
//! They run on one thread (tokio's current-thread runtime, server included): a body reading
//! the circuit's state sees what the retry decision before it saw, which makes "no attempt
//! while the circuit is open" exact rather than statistical.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use s3_ops_runtime::client::{configure, ClientOptions};
use s3_ops_runtime::retry::budget::RETRY_COST;
use s3_ops_runtime::{s3_operation, BreakerConfig, CircuitBreaker, CircuitState, S3Error};
use s3_ops_testkit::{FaultCode, S3Server};
use tokio::time::Instant;

/// What the callers saw and what the bodies counted.
#[derive(Default)]
struct Tally {
    admitted: Cell<u64>,
    refused: Cell<u64>,
    succeeded: Cell<u64>,
    /// Attempts that began while the circuit read open: none may.
    attempts_while_open: Cell<u64>,
    /// Calls admitted after the circuit first opened: probes only, in an outage.
    admitted_once_opened: Cell<u64>,
}

struct Storm {
    client: Client,
    bucket: String,
    upload_circuit: CircuitBreaker,
    tally: Rc<Tally>,
}

impl Storm {
    // The default policy (3 attempts, doubling backoff with jitter), in milliseconds.
    #[s3_operation(
        class = "upload",
        op = "put_object",
        bucket = self.bucket,
        base_delay = "1ms",
        max_delay = "30ms"
    )]
    async fn put(&self, key: &str) -> Result<(), S3Error> {
        if self.upload_circuit.state() == CircuitState::Open {
            self.tally
                .attempts_while_open
                .set(self.tally.attempts_while_open.get() + 1);
        }
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from_static(b"storm"))
            .send()
            .await?;
        Ok(())
    }
}

async fn storm(name: &str, breaker: BreakerConfig) -> (S3Server, Rc<Storm>) {
    let server = S3Server::start().await.expect("the embedded server starts");
    server.create_bucket(name).await.expect("a bucket");
    let client =
        Client::from_conf(configure(server.config_builder(), &ClientOptions::new()).build());
    let service = Storm {
        client,
        bucket: name.to_owned(),
        upload_circuit: CircuitBreaker::with_config(format!("{name}-upload"), breaker),
        tally: Rc::default(),
    };
    (server, Rc::new(service))
}

/// How long the callers of a storm keep calling.
#[derive(Clone, Copy)]
enum Length {
    /// Until then, at least one call each.
    For(Duration),
    /// Until this many calls of each caller were admitted (refusals do not count).
    Admitted(u64),
    /// Until the circuit's retry budget cannot pay for a retry.
    BudgetSpent,
}

/// `callers` tasks, each calling `put` in a loop (a short pause after a refusal, as a caller
/// would back off).
async fn run_callers(service: &Rc<Storm>, callers: usize, length: Length) {
    let start = Instant::now();
    let local = tokio::task::LocalSet::new();
    for caller in 0..callers {
        let service = Rc::clone(service);
        local.spawn_local(async move {
            let (mut n, mut admitted) = (0, 0);
            let more = |n: u32, admitted: u64| match length {
                Length::For(length) => n == 0 || start.elapsed() < length,
                Length::Admitted(calls) => admitted < calls,
                Length::BudgetSpent => service.upload_circuit.retry_tokens() >= RETRY_COST,
            };
            while more(n, admitted) {
                n += 1;
                let opened_before = service.upload_circuit.stats().opened > 0;
                let result = service
                    .put(&format!("c{caller}-{n}-{}", start.elapsed().as_nanos()))
                    .await;
                let tally = &service.tally;
                match result {
                    Err(err) if err.is_circuit_open() => {
                        tally.refused.set(tally.refused.get() + 1);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    other => {
                        admitted += 1;
                        tally.admitted.set(tally.admitted.get() + 1);
                        if opened_before {
                            tally
                                .admitted_once_opened
                                .set(tally.admitted_once_opened.get() + 1);
                        }
                        if other.is_ok() {
                            tally.succeeded.set(tally.succeeded.get() + 1);
                        }
                    }
                }
            }
        });
    }
    local.await;
}

#[tokio::test]
async fn storm_outage_sends_one_request_per_admitted_call_and_only_probes_once_open() {
    const NAME: &str = "storm-outage";
    let (server, service) = storm(
        NAME,
        BreakerConfig {
            open_timeout: Duration::from_millis(200),
            ..BreakerConfig::default()
        },
    )
    .await;
    server.faults().outage();
    run_callers(&service, 256, Length::For(Duration::from_secs(2))).await;

    let tally = &service.tally;
    let requests = server.faults().total_requests();
    let admitted = tally.admitted.get();
    let amplification = requests as f64 / admitted as f64;
    let circuit = &service.upload_circuit;
    eprintln!(
        "storm outage, 256 callers, 2 s, 100 % 503: {requests} S3 requests for {admitted} calls admitted \
         (amplification {amplification:.2}), {} refused; circuit opened {} times; {} retry tokens left",
        tally.refused.get(),
        circuit.stats().opened,
        circuit.retry_tokens(),
    );
    assert!(admitted >= 256, "every caller's first call is admitted");
    assert!(
        amplification <= 1.5,
        "{requests} requests for {admitted} admitted calls: {amplification:.2}"
    );
    assert_eq!(
        tally.attempts_while_open.get(),
        0,
        "only probes reach S3 once open"
    );
    assert_eq!(tally.succeeded.get(), 0);
    // Once open, the calls admitted were probes: one per half-open spell.
    let stats = circuit.stats();
    assert!(
        tally.admitted_once_opened.get() <= stats.half_opened,
        "{} admitted once open, {} half-open spells",
        tally.admitted_once_opened.get(),
        stats.half_opened
    );
}

#[tokio::test]
async fn storm_brown_out_keeps_requests_per_call_at_most_1_3_over_a_run_and_once_the_budget_is_spent(
) {
    const NAME: &str = "storm-brown-out";
    let (server, service) = storm(
        NAME,
        BreakerConfig {
            open_timeout: Duration::from_millis(200),
            ..BreakerConfig::default()
        },
    )
    .await;
    server
        .faults()
        .fail_rate("put_object", FaultCode::ServiceUnavailable, 0.5);
    let tally = &service.tally;
    let circuit = &service.upload_circuit;
    let figures = |phase: &str, requests: u64, admitted: u64, refused: u64| {
        let amplification = requests as f64 / admitted as f64;
        eprintln!(
            "storm brown-out, 64 callers, 50 % 503, {phase}: {requests} S3 requests for {admitted} calls admitted \
             (amplification {amplification:.2}), {refused} refused; circuit opened {} times so far; {} retry tokens left",
            circuit.stats().opened,
            circuit.retry_tokens(),
        );
        amplification
    };

    // While the budget lasts, retries are made: at 50 % it drains by about 0.75 tokens a call
    // (retries that end in failure keep their tokens, first-time successes earn one back).
    run_callers(&service, 64, Length::BudgetSpent).await;
    let (requests, admitted, refused) = (
        server.faults().total_requests(),
        tally.admitted.get(),
        tally.refused.get(),
    );
    figures("until the budget is spent", requests, admitted, refused);

    // Then retries are paid by what successes earn: about 1.2 requests a call. The budget's
    // first fill is a burst of about 100 retries, by design; over a run of 7 000 calls it
    // weighs little.
    run_callers(&service, 64, Length::Admitted(100)).await;
    let steady = figures(
        "after it",
        server.faults().total_requests() - requests,
        tally.admitted.get() - admitted,
        tally.refused.get() - refused,
    );
    let total = figures(
        "whole run",
        server.faults().total_requests(),
        tally.admitted.get(),
        tally.refused.get(),
    );
    assert!(steady <= 1.3, "{steady:.2} requests per admitted call");
    assert!(
        total <= 1.3,
        "{total:.2} requests per admitted call over the whole run (1.75 without a budget)"
    );
    assert_eq!(tally.attempts_while_open.get(), 0);
}
