//! A brown-out, and the operator's switches. S3 fails half of the requests, not all of them:
//! under the consecutive rule (the default) a success between failures resets the count, so
//! whether the circuit opens is left to chance; a failure-rate rule opens it on the rate. Then
//! `hold_open`, `disable` and `release`, called as an admin endpoint's handler would call them,
//! with the `s3_circuit_breaker_override` gauge the metrics endpoint shows after each.

use aws_sdk_s3::Client;
use s3_ops_runtime::{
    s3_operation, BreakerConfig, BreakerOverride, CircuitBreaker, CircuitState, FailureRate,
    S3Error,
};
use s3_ops_testkit::{FaultCode, Faults};

use crate::http;

/// Calls each circuit sees during the brown-out.
const CALLS: usize = 100;
/// Half of the requests fail.
const ERROR_RATE: f64 = 0.5;
/// The failure-rate rule shown: half of the last 20 calls, once 10 are recorded.
const RATE: FailureRate = FailureRate {
    threshold_percent: 50,
    window_calls: 20,
    minimum_calls: 10,
};

/// An existence check behind a circuit of its own, one attempt per call (a latency-sensitive
/// read): a call's outcome is its request's, so the circuit sees the brown-out's rate.
struct Checker {
    client: Client,
    bucket: String,
    download_circuit: CircuitBreaker,
}

impl Checker {
    fn new(client: &Client, bucket: &str, name: &'static str, config: BreakerConfig) -> Self {
        Self {
            client: client.clone(),
            bucket: bucket.to_owned(),
            download_circuit: CircuitBreaker::with_config(name, config),
        }
    }

    #[s3_operation(class = "download", op = "head_object", bucket = self.bucket, max_attempts = 1)]
    async fn exists(&self, key: &str) -> Result<(), S3Error> {
        self.client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(())
    }
}

/// What one circuit saw.
#[derive(Default)]
struct Seen {
    admitted: usize,
    failed: usize,
    refused: usize,
    /// The call after which the circuit first opened (1-based).
    opened_after: Option<usize>,
}

pub(crate) async fn run(
    client: &Client,
    bucket: &str,
    key: &str,
    faults: Option<&Faults>,
    metrics_url: &str,
) -> Result<(), String> {
    let open_timeout = BreakerConfig::default().open_timeout;
    let consecutive = Checker::new(
        client,
        bucket,
        "s3-brownout-consecutive",
        BreakerConfig::default(),
    );
    let by_rate = Checker::new(
        client,
        bucket,
        "s3-brownout-rate",
        BreakerConfig {
            failure_rate: Some(RATE),
            ..BreakerConfig::default()
        },
    );
    match faults {
        Some(faults) => {
            faults.fail_rate("head_object", FaultCode::ServiceUnavailable, ERROR_RATE);
            println!(
                "  faults().fail_rate(\"head_object\", ServiceUnavailable, {ERROR_RATE}): half of the requests fail;\n  \
                 {CALLS} existence checks through each of two circuits, one attempt a call, open for {open_timeout:?} once open:"
            );
            let (mut a, mut b) = (Seen::default(), Seen::default());
            for n in 1..=CALLS {
                check(&consecutive, key, n, &mut a).await;
                check(&by_rate, key, n, &mut b).await;
            }
            faults.clear();
            report("consecutive rule (the default: 5 in a row)", &a);
            report(
                "failure-rate rule (50% of the last 20 calls, once 10 are recorded)",
                &b,
            );
            println!(
                "     the consecutive rule opens only on a run of 5 failures, which at 50 % comes by chance\n     \
                 (about one call in 64), while the rate rule opens once the window holds enough calls to judge"
            );
            if b.opened_after.is_none() {
                return Err("the failure-rate circuit did not open in the brown-out".into());
            }
        }
        None => println!(
            "  the brown-out needs the embedded server's fault injection: skipped on an external server"
        ),
    }

    operator(&consecutive, &by_rate, key, faults, metrics_url).await
}

/// `release`, `hold_open`, `disable` and `release` again on the failure-rate circuit, each
/// followed by what a call meets and by the override gauge, scraped. Each override lasts a few
/// milliseconds: long enough to show, far too short for the alert on forgotten overrides.
async fn operator(
    consecutive: &Checker,
    by_rate: &Checker,
    key: &str,
    faults: Option<&Faults>,
    metrics_url: &str,
) -> Result<(), String> {
    const NAME: &str = "s3-brownout-rate";
    println!(
        "  operator switches on {NAME}, as `POST /admin/circuits/{NAME}/<action>` would run them:"
    );
    let circuits = [&consecutive.download_circuit, &by_rate.download_circuit];
    for action in ["release", "hold_open", "disable", "release"] {
        let now = admin(&circuits, NAME, action)?;
        let call = match action {
            "hold_open" => match by_rate.exists(key).await {
                Err(err) if err.is_circuit_open() => "a call to a healthy S3 is refused".to_owned(),
                _ => return Err("a call went through a circuit held open".into()),
            },
            "disable" => disabled_in_an_outage(by_rate, key, faults).await?,
            _ => String::new(),
        };
        let gauge = override_gauge(metrics_url, NAME).await?;
        println!(
            "    {action:<9} -> override {:<9} state {:<9} s3_circuit_breaker_override {gauge}  {call}",
            now.as_str(),
            by_rate.download_circuit.state().as_str(),
        );
    }
    Ok(())
}

/// A disabled breaker in a full outage: every call is admitted and the circuit stays closed.
async fn disabled_in_an_outage(
    checker: &Checker,
    key: &str,
    faults: Option<&Faults>,
) -> Result<String, String> {
    let Some(faults) = faults else {
        return Ok(String::new());
    };
    const OUTAGE_CALLS: usize = 20;
    faults.fail_rate("head_object", FaultCode::ServiceUnavailable, 1.0);
    let mut seen = Seen::default();
    for n in 1..=OUTAGE_CALLS {
        check(checker, key, n, &mut seen).await;
    }
    faults.clear();
    if seen.refused > 0 || checker.download_circuit.state() != CircuitState::Closed {
        return Err("a disabled circuit refused calls".into());
    }
    Ok(format!(
        "{OUTAGE_CALLS} calls with every request failing: {} admitted, {} failed, none refused",
        seen.admitted, seen.failed
    ))
}

async fn check(checker: &Checker, key: &str, n: usize, seen: &mut Seen) {
    match checker.exists(key).await {
        Err(err) if err.is_circuit_open() => seen.refused += 1,
        Err(_) => {
            seen.admitted += 1;
            seen.failed += 1;
        }
        Ok(()) => seen.admitted += 1,
    }
    if seen.opened_after.is_none() && checker.download_circuit.stats().opened > 0 {
        seen.opened_after = Some(n);
    }
}

fn report(rule: &str, seen: &Seen) {
    let opened = match seen.opened_after {
        Some(n) => format!("opened after call {n}"),
        None => "never opened".to_owned(),
    };
    println!(
        "  -> {rule}: {opened}; {} let through ({} failed), {} refused",
        seen.admitted, seen.failed, seen.refused
    );
}

/// The handler of an admin endpoint: `action` on the circuit called `name`; the override then
/// in force.
fn admin(
    circuits: &[&CircuitBreaker],
    name: &str,
    action: &str,
) -> Result<BreakerOverride, String> {
    let circuit = circuits
        .iter()
        .find(|circuit| circuit.name() == name)
        .ok_or_else(|| format!("no circuit `{name}`"))?;
    match action {
        "hold_open" => circuit.hold_open(),
        "disable" => circuit.disable(),
        "release" => circuit.release(),
        other => {
            return Err(format!(
                "unknown action `{other}`: `hold_open`, `disable` or `release`"
            ))
        }
    }
    Ok(circuit.operator_override())
}

/// `s3_circuit_breaker_override{circuit_name="<name>"}`, scraped.
async fn override_gauge(metrics_url: &str, name: &str) -> Result<String, String> {
    let scrape = http::get(metrics_url)
        .await
        .map_err(|err| format!("scraping {metrics_url}: {err}"))?;
    let series = format!("s3_circuit_breaker_override{{circuit_name=\"{name}\"}} ");
    String::from_utf8_lossy(&scrape.body)
        .lines()
        .find_map(|line| line.strip_prefix(&series).map(str::to_owned))
        .ok_or_else(|| format!("no `{series}` series at {metrics_url}"))
}
