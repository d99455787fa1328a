//! Retry amplification on the wire: how many S3 requests a fleet of callers sends per call it
//! makes, while S3 is down or browning out, for three ways of calling S3 with retries:
//!
//! - **s3-ops**: an annotated method, default policy (3 attempts) and retry budget;
//! - **recipe port**: the original recipe ported as written (a mutex breaker, then a retry helper
//!   around the SDK call; no budget, no re-check of the circuit between attempts);
//! - **SDK standard retry**: the SDK's own standard mode alone (3 attempts and its retry quota
//!   of 500 tokens), no breaker.
//!
//! `cargo bench -p s3-ops-benches --features e2e --bench amplification`
//!
//! Backoffs start at 1 ms instead of 1 s and breakers half-open after 200 ms, so each scenario
//! runs in seconds; the embedded server counts the requests. Figures in BENCHMARKS.md.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use s3_ops_benches::metrics::Families;
use s3_ops_benches::recipe::{retry_with_backoff, MutexBreaker};
use s3_ops_runtime::client::{configure, ClientOptions};
use s3_ops_runtime::{s3_operation, BreakerConfig, CircuitBreaker, S3Error};
use s3_ops_testkit::{FaultCode, S3Server};
use tokio::time::Instant;

const BUCKET: &str = "amplification";
const OPEN_TIMEOUT: Duration = Duration::from_millis(200);

/// How a call ended for its caller.
enum Outcome {
    Ok,
    Failed,
    Refused,
}

type Call<'a> = Pin<Box<dyn Future<Output = Outcome> + 'a>>;

trait Caller {
    fn put<'a>(&'a self, key: &'a str) -> Call<'a>;
    fn opened(&self) -> String;
}

async fn put_object(client: &Client, key: &str) -> Result<(), S3Error> {
    client
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from_static(b"amplification"))
        .send()
        .await?;
    Ok(())
}

// ---- s3-ops ----

struct S3Ops {
    client: Client,
    upload_circuit: CircuitBreaker,
}

impl S3Ops {
    #[s3_operation(
        class = "upload",
        op = "put_object",
        base_delay = "1ms",
        max_delay = "30ms"
    )]
    async fn put_annotated(&self, key: &str) -> Result<(), S3Error> {
        put_object(&self.client, key).await
    }
}

impl Caller for S3Ops {
    fn put<'a>(&'a self, key: &'a str) -> Call<'a> {
        Box::pin(async move {
            match self.put_annotated(key).await {
                Ok(()) => Outcome::Ok,
                Err(err) if err.is_circuit_open() => Outcome::Refused,
                Err(_) => Outcome::Failed,
            }
        })
    }

    fn opened(&self) -> String {
        self.upload_circuit.stats().opened.to_string()
    }
}

// ---- the recipe port ----

struct RecipePort {
    client: Client,
    circuit: MutexBreaker,
    families: Families,
    opened: Cell<u64>,
}

impl Caller for RecipePort {
    fn put<'a>(&'a self, key: &'a str) -> Call<'a> {
        Box::pin(async move {
            self.circuit.check_state();
            if self.circuit.is_open() {
                return Outcome::Refused;
            }
            let result = retry_with_backoff(
                &self.families,
                || put_object(&self.client, key),
                3,
                Duration::from_millis(1),
            )
            .await;
            match result {
                Ok(()) => {
                    self.circuit.record_success();
                    Outcome::Ok
                }
                Err(_) => {
                    let was_open = self.circuit.is_open();
                    self.circuit.record_failure();
                    if !was_open && self.circuit.is_open() {
                        self.opened.set(self.opened.get() + 1);
                    }
                    Outcome::Failed
                }
            }
        })
    }

    fn opened(&self) -> String {
        self.opened.get().to_string()
    }
}

// ---- the SDK's standard retry ----

struct SdkStandard {
    client: Client,
}

impl Caller for SdkStandard {
    fn put<'a>(&'a self, key: &'a str) -> Call<'a> {
        Box::pin(async move {
            match put_object(&self.client, key).await {
                Ok(()) => Outcome::Ok,
                Err(_) => Outcome::Failed,
            }
        })
    }

    fn opened(&self) -> String {
        "-".to_owned()
    }
}

// ---- the scenarios ----

#[derive(Default)]
struct Tally {
    ok: Cell<u64>,
    failed: Cell<u64>,
    refused: Cell<u64>,
}

async fn run(caller: Rc<dyn Caller>, callers: usize, length: Duration) -> Tally {
    let tally = Rc::new(Tally::default());
    let until = Instant::now() + length;
    let local = tokio::task::LocalSet::new();
    for n in 0..callers {
        let (caller, tally) = (Rc::clone(&caller), Rc::clone(&tally));
        local.spawn_local(async move {
            let mut i = 0;
            while Instant::now() < until {
                i += 1;
                let count = match caller.put(&format!("c{n}-{i}")).await {
                    Outcome::Ok => &tally.ok,
                    Outcome::Failed => &tally.failed,
                    Outcome::Refused => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        &tally.refused
                    }
                };
                count.set(count.get() + 1);
            }
        });
    }
    local.await;
    Rc::try_unwrap(tally).unwrap_or_default()
}

#[derive(Clone, Copy)]
enum Variant {
    S3Ops,
    RecipePort,
    SdkStandard,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::S3Ops => "s3-ops",
            Variant::RecipePort => "recipe port",
            Variant::SdkStandard => "SDK standard retry",
        }
    }

    fn caller(self, server: &S3Server) -> Rc<dyn Caller> {
        let configured =
            || Client::from_conf(configure(server.config_builder(), &ClientOptions::new()).build());
        match self {
            Variant::S3Ops => {
                let breaker = BreakerConfig {
                    open_timeout: OPEN_TIMEOUT,
                    ..BreakerConfig::default()
                };
                Rc::new(S3Ops {
                    client: configured(),
                    upload_circuit: CircuitBreaker::with_config("amplification-upload", breaker),
                })
            }
            Variant::RecipePort => {
                let families = Families::new();
                Rc::new(RecipePort {
                    client: configured(),
                    circuit: MutexBreaker::with_timeout(
                        families.breaker_gauge("amplification-recipe"),
                        OPEN_TIMEOUT,
                    ),
                    families,
                    opened: Cell::new(0),
                })
            }
            Variant::SdkStandard => {
                let retry = RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(1))
                    .with_max_backoff(Duration::from_millis(30));
                Rc::new(SdkStandard {
                    client: Client::from_conf(server.config_builder().retry_config(retry).build()),
                })
            }
        }
    }
}

async fn scenario(
    variant: Variant,
    name: &str,
    callers: usize,
    length: Duration,
    fail: Option<f64>,
) {
    let server = S3Server::start().await.expect("the embedded server starts");
    server.create_bucket(BUCKET).await.expect("a bucket");
    match fail {
        None => server.faults().outage(),
        Some(p) => server
            .faults()
            .fail_rate("put_object", FaultCode::ServiceUnavailable, p),
    }
    let caller = variant.caller(&server);
    let tally = run(Rc::clone(&caller), callers, length).await;
    let requests = server.faults().total_requests();
    let admitted = tally.ok.get() + tally.failed.get();
    let calls = admitted + tally.refused.get();
    println!(
        "| {name} | {} | {calls} | {admitted} | {} ({:.0} %) | {} | {requests} | **{:.2}** | {} |",
        variant.name(),
        tally.refused.get(),
        100.0 * tally.refused.get() as f64 / calls.max(1) as f64,
        tally.ok.get(),
        requests as f64 / admitted.max(1) as f64,
        caller.opened(),
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    println!("| scenario | variant | calls | admitted | refused | succeeded | S3 requests | requests ÷ admitted | circuit opened |");
    println!("|---|---|---|---|---|---|---|---|---|");
    runtime.block_on(async {
        for variant in [Variant::S3Ops, Variant::RecipePort, Variant::SdkStandard] {
            scenario(
                variant,
                "outage: 100 % 503, 256 callers, 2 s",
                256,
                Duration::from_secs(2),
                None,
            )
            .await;
        }
        for variant in [Variant::S3Ops, Variant::RecipePort, Variant::SdkStandard] {
            scenario(
                variant,
                "brown-out: 50 % 503, 64 callers, 3 s",
                64,
                Duration::from_secs(3),
                Some(0.5),
            )
            .await;
        }
    });
}
