//! Hedged reads on the wire: the latency of 10 000 GETs when 2 % of S3's answers take 300 ms
//! more (the embedded server's seeded latency tail), and the extra requests that cost, for
//! three annotated methods alike but for `hedge`:
//!
//! - **no hedge**: the default download;
//! - **`hedge = "p95"`**: hedged after the 95th percentile of the site's recent latencies;
//! - **`hedge = "20ms"`**: hedged after a fixed delay.
//!
//! `cargo bench -p s3-ops-benches --features e2e --bench hedging`
//!
//! 16 callers on one thread, each reading one small object in a loop until 10 000 calls are
//! made; the server counts the requests. Figures in BENCHMARKS.md.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use s3_ops_runtime::client::{configure, ClientOptions};
use s3_ops_runtime::metrics::{self, HedgeOutcome};
use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};
use s3_ops_testkit::S3Server;
use tokio::time::Instant;

const BUCKET: &str = "hedging";
const KEY: &str = "object";
const CALLS: usize = 10_000;
const CALLERS: usize = 16;
const TAIL_SHARE: f64 = 0.02;
const TAIL: Duration = Duration::from_millis(300);

struct Reader {
    client: Client,
    download_circuit: CircuitBreaker,
}

async fn get_object(client: &Client) -> Result<usize, S3Error> {
    let object = client.get_object().bucket(BUCKET).key(KEY).send().await?;
    Ok(object.body.collect().await?.into_bytes().len())
}

impl Reader {
    #[s3_operation(class = "download", op = "get_object")]
    async fn unhedged(&self) -> Result<usize, S3Error> {
        get_object(&self.client).await
    }

    #[s3_operation(class = "download", op = "get_object", hedge = "p95")]
    async fn percentile(&self) -> Result<usize, S3Error> {
        get_object(&self.client).await
    }

    #[s3_operation(class = "download", op = "get_object", hedge = "20ms")]
    async fn fixed(&self) -> Result<usize, S3Error> {
        get_object(&self.client).await
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Unhedged,
    Percentile,
    Fixed,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Unhedged => "no hedge",
            Variant::Percentile => "`hedge = \"p95\"`",
            Variant::Fixed => "`hedge = \"20ms\"`",
        }
    }

    async fn call(self, reader: &Reader) -> Result<usize, S3Error> {
        match self {
            Variant::Unhedged => reader.unhedged().await,
            Variant::Percentile => reader.percentile().await,
            Variant::Fixed => reader.fixed().await,
        }
    }
}

/// The latency below which `q` of the sorted `latencies` fall.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

async fn run(server: &S3Server, reader: &Rc<Reader>, variant: Variant) {
    let faults = server.faults();
    faults.seed(0x7A11);
    faults.reset_counters();
    let hedges = || {
        metrics::hedged_attempts_total("get_object", HedgeOutcome::Won)
            + metrics::hedged_attempts_total("get_object", HedgeOutcome::Lost)
    };
    let won_before = metrics::hedged_attempts_total("get_object", HedgeOutcome::Won);
    let hedges_before = hedges();
    let latencies = Rc::new(RefCell::new(Vec::with_capacity(CALLS)));
    let started = Instant::now();
    let local = tokio::task::LocalSet::new();
    for _ in 0..CALLERS {
        let (reader, latencies) = (Rc::clone(reader), Rc::clone(&latencies));
        local.spawn_local(async move {
            while latencies.borrow().len() < CALLS {
                let start = Instant::now();
                let read = variant.call(&reader).await.expect("the read succeeds");
                assert!(read > 0);
                latencies.borrow_mut().push(start.elapsed());
            }
        });
    }
    local.await;
    let wall = started.elapsed();
    let mut latencies = latencies.take();
    latencies.sort_unstable();
    let calls = latencies.len();
    let requests = faults.requests("get_object");
    let extra = requests as f64 / calls as f64 - 1.0;
    let hedges = hedges() - hedges_before;
    let won = metrics::hedged_attempts_total("get_object", HedgeOutcome::Won) - won_before;
    println!(
        "| {} | {calls} | {} | {} | {} | {} | {} | {requests} | {:.2} % | {hedges} ({won} won) | {:.1} s |",
        variant.name(),
        ms(quantile(&latencies, 0.5)),
        ms(quantile(&latencies, 0.95)),
        ms(quantile(&latencies, 0.99)),
        ms(quantile(&latencies, 0.999)),
        ms(*latencies.last().expect("calls were made")),
        extra * 100.0,
        wall.as_secs_f64(),
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let server = S3Server::start().await.expect("the embedded server starts");
        server.create_bucket(BUCKET).await.expect("a bucket");
        let client =
            Client::from_conf(configure(server.config_builder(), &ClientOptions::new()).build());
        client
            .put_object()
            .bucket(BUCKET)
            .key(KEY)
            .body(ByteStream::from_static(b"a small object, read again and again"))
            .send()
            .await
            .expect("the object is written");
        server
            .faults()
            .delay_rate("get_object", TAIL_SHARE, TAIL);
        let reader = Rc::new(Reader {
            client,
            download_circuit: CircuitBreaker::new("hedging-download"),
        });
        println!(
            "{CALLS} GETs, {CALLERS} callers, {} % of requests delayed {} ms",
            TAIL_SHARE * 100.0,
            TAIL.as_millis()
        );
        println!("| variant | calls | p50 ms | p95 ms | p99 ms | p99.9 ms | max ms | GET requests | extra requests | hedges | wall |");
        println!("|---|---|---|---|---|---|---|---|---|---|---|");
        for variant in [Variant::Unhedged, Variant::Percentile, Variant::Fixed] {
            run(&server, &reader, variant).await;
        }
    });
}
