//! Command-line arguments.

use std::fmt;

pub(crate) const USAGE: &str = "\
Runs documents through StorageService and S3CleanupService on an embedded S3 server (or on
AWS_ENDPOINT_URL when set), with injected faults and an outage, then prints what the circuit
breakers and the metrics saw.

usage: cargo run --example storage_service [-- OPTIONS]

options:
  --documents N          documents to process (default 300)
  --concurrency N        documents in flight at once (default 16)
  --temp-bucket NAME     bucket of uploaded documents (default s3-ops-temp)
  --results-bucket NAME  bucket of results and images (default s3-ops-results)
  --metrics-addr ADDR    where /metrics listens (default 127.0.0.1:0, a free port)
  --serve                keep serving /metrics after the run, until Ctrl-C, for a Prometheus
                         of your own to scrape (see observability/README.md)
  -h, --help             this text

environment:
  RUST_LOG               log filter (default: warn,s3_ops::breaker=info,s3s=off)
  AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION,
  S3_OPS_CHECKSUMS=when_required   use an S3-compatible server instead of the embedded one
  S3_OPS_UPLOAD_*, S3_OPS_DOWNLOAD_*   the breaker and retries of writes and of reads:
                         FAILURE_THRESHOLD, SUCCESS_THRESHOLD, OPEN_TIMEOUT (5s),
                         HALF_OPEN_MAX_CALLS, RETRY_BUDGET (500, unlimited),
                         FAILURE_RATE (50%/100/20, off), MAX_ATTEMPTS, BASE_DELAY, MAX_DELAY
                         e.g. S3_OPS_UPLOAD_OPEN_TIMEOUT=5s (default 2s in this demo)";

/// What to run.
#[derive(Debug)]
pub(crate) struct Args {
    pub(crate) documents: usize,
    pub(crate) concurrency: usize,
    pub(crate) temp_bucket: Option<String>,
    pub(crate) results_bucket: Option<String>,
    pub(crate) metrics_addr: String,
    pub(crate) serve: bool,
}

/// Why the program stops before running: help was asked for, or an argument is wrong.
#[derive(Debug)]
pub(crate) enum Stop {
    Help,
    Invalid(String),
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::Help => f.write_str(USAGE),
            Stop::Invalid(problem) => write!(f, "{problem}\n\n{USAGE}"),
        }
    }
}

impl Args {
    pub(crate) fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, Stop> {
        let mut parsed = Args {
            documents: 300,
            concurrency: 16,
            temp_bucket: None,
            results_bucket: None,
            metrics_addr: "127.0.0.1:0".to_owned(),
            serve: false,
        };
        while let Some(arg) = args.next() {
            let mut value = |name: &str| {
                args.next()
                    .ok_or_else(|| Stop::Invalid(format!("`{name}` needs a value")))
            };
            match arg.as_str() {
                "-h" | "--help" => return Err(Stop::Help),
                "--documents" => parsed.documents = count(&arg, &value(&arg)?)?,
                "--concurrency" => parsed.concurrency = count(&arg, &value(&arg)?)?,
                "--temp-bucket" => parsed.temp_bucket = Some(value(&arg)?),
                "--results-bucket" => parsed.results_bucket = Some(value(&arg)?),
                "--metrics-addr" => parsed.metrics_addr = value(&arg)?,
                "--serve" => parsed.serve = true,
                other => return Err(Stop::Invalid(format!("unknown argument `{other}`"))),
            }
        }
        Ok(parsed)
    }
}

fn count(name: &str, value: &str) -> Result<usize, Stop> {
    match value.parse() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(Stop::Invalid(format!(
            "`{name}` takes a positive number, not `{value}`"
        ))),
    }
}
