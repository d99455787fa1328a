//! The original recipe's storage services on s3-ops, end to end:
//!
//! ```text
//! cargo run --example storage_service [-- --documents 300 --concurrency 16]
//! ```
//!
//! With nothing set up it starts an embedded S3 server (s3s over a temporary directory); with
//! `AWS_ENDPOINT_URL` (and credentials) it uses that server instead. It then
//!
//! 1. shows inputs refused before any request;
//! 2. runs documents through `StorageService` and `S3CleanupService` (store, download and
//!    compare, result, two images, existence checks, job cleanup), several at once, with
//!    transient faults injected on the embedded server so retries show up;
//! 3. hands a result out by URL and sweeps the temporary files a failed cleanup left behind;
//! 4. takes S3 down: the upload breaker opens after five failed calls, calls fail fast, a
//!    half-open probe reopens it, two probes after recovery close it, and cleanup keeps
//!    reaching S3 throughout (on an external server the outage is simulated by opening the
//!    breaker by hand);
//! 5. browns S3 out (half of the requests fail): a circuit with a failure-rate rule opens, one
//!    with the default consecutive rule is left to chance; then holds a circuit open, disables
//!    it and releases it as an admin endpoint would;
//! 6. prints what `/metrics`, the breakers and its own measurements saw; with `--serve` it keeps
//!    serving `/metrics` afterwards (`--metrics-addr` fixes its address), for a Prometheus to
//!    scrape.
//!
//! The breakers' open timeout is 2 s here instead of 60 s, so the demo does not wait a minute.
//! The breakers' and retries' settings are read from the environment before anything starts
//! (`S3_OPS_UPLOAD_*` for writes, `S3_OPS_DOWNLOAD_*` for reads, see `setup.rs`):
//! `S3_OPS_UPLOAD_OPEN_TIMEOUT=5s cargo run --example storage_service`. A value that is not
//! understood stops it with the variable named, exit status 2.
//! `RUST_LOG` filters the log lines (default `warn,s3_ops::breaker=info,s3s=off`: retries,
//! failures and breaker transitions; `RUST_LOG=info,s3s=off` adds a line per request).

#[path = "storage_service/brown_out.rs"]
mod brown_out;
#[path = "storage_service/cli.rs"]
mod cli;
#[path = "storage_service/http.rs"]
mod http;
#[path = "storage_service/latency.rs"]
mod latency;
#[path = "storage_service/outage.rs"]
mod outage;
#[path = "storage_service/serve.rs"]
mod serve;
#[path = "storage_service/summary.rs"]
mod summary;
#[path = "storage_service/sweep.rs"]
mod sweep;
#[path = "storage_service/urls.rs"]
mod urls;
#[path = "storage_service/validation.rs"]
mod validation;
#[path = "storage_service/workload.rs"]
mod workload;

use std::error::Error;
use std::fmt;
use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use s3_ops_examples::{keys, setup, ResultFormat, S3CleanupService, StorageConfig, StorageService};
use s3_ops_runtime::metrics::MetricsServer;
use s3_ops_runtime::{BreakerConfig, ConfigError};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::EnvFilter;

use crate::latency::Latencies;

/// The breakers' open timeout for the demo (60 s by default).
const DEMO_OPEN_TIMEOUT: Duration = Duration::from_secs(2);

/// Retries, failures and every breaker transition; nothing from the SDK below warn, and
/// nothing from the embedded server (s3s logs every error it answers, injected ones included).
const DEFAULT_LOG_FILTER: &str = "warn,s3_ops::breaker=info,s3s=off";

#[tokio::main]
async fn main() -> ExitCode {
    let started = Instant::now();
    let args = match cli::Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(stop @ cli::Stop::Help) => {
            println!("{stop}");
            return ExitCode::SUCCESS;
        }
        Err(stop) => {
            eprintln!("{stop}");
            return ExitCode::from(2);
        }
    };
    // Settings first: a bad one stops the program before it binds, connects or logs anything.
    let config = match storage_config(&args) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    init_tracing(started);
    match run(args, config, started).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(started: Instant) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(Uptime(started))
        .with_ansi(std::io::stdout().is_terminal())
        .compact()
        .init();
}

/// Log timestamps as seconds since the start, like the progress lines.
struct Uptime(Instant);

impl FormatTime for Uptime {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        write!(w, "t={:5.2}s", self.0.elapsed().as_secs_f64())
    }
}

/// The services' settings: the demo's defaults, then what the environment sets.
fn storage_config(args: &cli::Args) -> Result<StorageConfig, ConfigError> {
    let defaults = StorageConfig::default();
    let config = StorageConfig {
        temp_bucket: args.temp_bucket.clone().unwrap_or(defaults.temp_bucket),
        results_bucket: args
            .results_bucket
            .clone()
            .unwrap_or(defaults.results_bucket),
        ..defaults
    }
    .with_breakers(BreakerConfig {
        open_timeout: DEMO_OPEN_TIMEOUT,
        ..BreakerConfig::default()
    });
    setup::storage_config_from_env(config)
}

/// The whole demo; `Ok(false)` when something did not go as it should.
async fn run(
    args: cli::Args,
    config: StorageConfig,
    started: Instant,
) -> Result<bool, Box<dyn Error>> {
    let metrics = MetricsServer::bind(args.metrics_addr.as_str()).await?;
    let metrics_url = format!("http://{}/metrics", metrics.local_addr());
    let s3 = setup::connect(&setup::client_options()).await?;

    let storage = StorageService::new(s3.client.clone(), s3.endpoint.clone(), config);
    let cleanup = S3CleanupService::new(s3.client.clone(), storage.temp_bucket());
    let faults = s3.faults();

    println!("s3-ops storage_service example");
    println!("  metrics   {metrics_url}");
    println!("  S3        {}", s3.describe());
    println!(
        "  buckets   temp: {}, results: {} (created if missing)",
        storage.temp_bucket(),
        storage.results_bucket()
    );
    for (circuit, retry) in [
        (storage.upload_circuit(), storage.upload_retry()),
        (storage.download_circuit(), storage.download_retry()),
    ] {
        let breaker = circuit.config();
        println!(
            "  {:<11} open after {} failed calls, for {:?}; {} successful probes close it; {} attempts a call, backoff {:?} up to {:?}",
            circuit.name(),
            breaker.failure_threshold,
            breaker.open_timeout,
            breaker.success_threshold,
            retry.max_attempts,
            retry.base_delay,
            retry.max_delay
        );
    }
    println!(
        "            (S3_OPS_UPLOAD_* and S3_OPS_DOWNLOAD_* variables change these: see --help)"
    );
    storage.ensure_buckets().await?;

    section("1. Validation: refused before any request");
    validation::run(&storage, faults).await;

    section(&format!(
        "2. Workload: {} documents, {} in flight",
        args.documents, args.concurrency
    ));
    let latencies = Arc::new(Latencies::default());
    let workload_started = Instant::now();
    let outcome = workload::run(
        &workload::Setup {
            storage: &storage,
            cleanup: &cleanup,
            faults,
            latencies: &latencies,
            clock: started,
        },
        args.documents,
        args.concurrency,
    )
    .await;
    let took = workload_started.elapsed().as_secs_f64();
    println!(
        "  {} documents in {took:.1}s ({:.0}/s): {} verified, {} failed, {} transient faults injected",
        outcome.documents,
        outcome.documents as f64 / took,
        outcome.verified,
        outcome.failed.len(),
        outcome.faults_injected
    );

    section("3. Serving results, sweeping leftovers");
    urls::run(&storage, "job-00000").await?;
    sweep::run(&cleanup, &outcome.leftovers).await;

    section("4. Outage");
    let outage = outage::run(&storage, &cleanup, faults).await;
    if let Err(unexpected) = &outage {
        println!("  UNEXPECTED: {unexpected}");
    }

    section("5. Brown-out, and the operator's switches");
    let brown_out = brown_out::run(
        &s3.client,
        storage.results_bucket(),
        &keys::result("job-00000", ResultFormat::Markdown),
        faults,
        &metrics_url,
    )
    .await;
    if let Err(unexpected) = &brown_out {
        println!("  UNEXPECTED: {unexpected}");
    }

    section("6. Summary");
    let scrape = http::get(&metrics_url).await?;
    let exposition = String::from_utf8_lossy(&scrape.body);
    let injected = faults.map(|f| f.injected());
    // Dropping the embedded server deletes its files, which takes a moment: inside the clock.
    drop(s3);
    summary::print(&summary::Inputs {
        metrics_url: &metrics_url,
        exposition: &exposition,
        storage: &storage,
        latencies: &latencies,
        workload: &outcome,
        injected,
        wall_time: started.elapsed(),
    });
    if args.serve {
        serve::until_interrupted(&metrics_url).await?;
    }
    metrics.shutdown().await;
    Ok(outcome.failed.is_empty() && outage.is_ok() && brown_out.is_ok())
}

fn section(title: &str) {
    println!("\n== {title}");
}
