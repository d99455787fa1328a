//! An S3 outage as the breakers see it: the upload circuit opens after five failed calls, calls
//! then fail fast without a request, a half-open probe while S3 is still down reopens it, and
//! two successful probes after recovery close it. Cleanup, which has no breaker, keeps reaching
//! S3 throughout.

use std::time::{Duration, Instant};

use bytes::Bytes;
use s3_ops_examples::{S3CleanupService, StorageError, StorageService};
use s3_ops_runtime::CircuitState;
use s3_ops_testkit::Faults;
use tokio::task::JoinSet;

use crate::latency::short;

/// Uploads refused while the circuit is open, to show that none of them makes a request.
const REFUSED_CALLS: usize = 20;

/// An unexpected turn: the outage part stops there, says what it saw, and the run fails.
pub(crate) type Unexpected = String;

pub(crate) async fn run(
    storage: &StorageService,
    cleanup: &S3CleanupService,
    faults: Option<&Faults>,
) -> Result<(), Unexpected> {
    // A normal call, alone, to compare the fast failures with; its file is the one cleanup
    // deletes during the outage.
    let started = Instant::now();
    let doomed = storage
        .store_document("job-outage", document(), "application/pdf")
        .await
        .map_err(|err| format!("storing the document to delete during the outage: {err}"))?;
    let normal_store = started.elapsed();
    match faults {
        Some(faults) => injected(storage, cleanup, faults, &doomed, normal_store).await,
        None => simulated(storage, cleanup, &doomed, normal_store).await,
    }
}

/// The embedded server goes down for real: every request is answered 503.
async fn injected(
    storage: &StorageService,
    cleanup: &S3CleanupService,
    faults: &Faults,
    doomed: &str,
    normal_store: Duration,
) -> Result<(), Unexpected> {
    let circuit = storage.upload_circuit();
    let threshold = circuit.config().failure_threshold;
    faults.outage();
    println!("  faults().outage(): every request is now answered 503 ServiceUnavailable");
    let retry = storage.upload_retry();
    println!(
        "  {threshold} uploads in flight, each making {} attempts (backoff from {:?}, jittered) before giving up:",
        retry.max_attempts, retry.base_delay
    );
    let started = Instant::now();
    let mut uploads = JoinSet::new();
    for i in 0..threshold {
        let storage = storage.clone();
        uploads.spawn(async move {
            storage
                .store_document(&format!("job-down-{i}"), document(), "application/pdf")
                .await
        });
    }
    let mut failed = 0;
    while let Some(upload) = uploads.join_next().await {
        if matches!(upload, Ok(Err(ref err)) if !err.is_circuit_open()) {
            failed += 1;
        }
    }
    println!(
        "  -> {failed} uploads failed after {:.1}s; circuit s3-upload is {}",
        started.elapsed().as_secs_f64(),
        describe(storage)
    );
    expect_state(storage, CircuitState::Open)?;

    let puts = faults.requests("put_object");
    let open_for = fail_fast(storage, normal_store).await?;
    for _ in 0..REFUSED_CALLS {
        let _ = store(storage).await;
    }
    println!(
        "  {REFUSED_CALLS} more uploads refused the same way; put_object requests meanwhile: +{}",
        faults.requests("put_object") - puts
    );

    let deletes = faults.requests("delete_object");
    let mut deleted = 0;
    for _ in 0..3 {
        deleted += usize::from(cleanup.delete_temp_file(doomed).await);
    }
    println!(
        "  cleanup has no breaker: 3 delete_temp_file calls reached S3 (delete_object requests +{}) \
         while uploads were refused;\n  S3 answered 503, so {deleted} of them returned true \
         (best effort: the next sweep deletes the file)",
        faults.requests("delete_object") - deletes,
    );

    wait(open_for).await;
    println!(
        "  circuit s3-upload is {}: one probe goes through while S3 is still down",
        storage.upload_circuit().state()
    );
    let (probe, took) = store(storage).await;
    if probe.is_ok() {
        return Err("the probe succeeded during the outage".into());
    }
    println!(
        "  -> the probe failed after {} attempts in {:.1}s; circuit s3-upload is {}",
        storage.upload_retry().max_attempts,
        took.as_secs_f64(),
        describe(storage)
    );
    expect_state(storage, CircuitState::Open)?;

    let open_for = refusal(storage).await?;
    wait(open_for).await;
    faults.recover();
    println!("  faults().recover(): S3 answers again");
    probe_until_closed(storage).await?;
    let deleted = cleanup.delete_temp_file(doomed).await;
    println!("  delete_temp_file({doomed}) after recovery -> {deleted}");
    Ok(())
}

/// An external server cannot be taken down from here: the circuit is opened by hand and S3
/// stays up, which shows the same fast failures and that deletes still go through.
async fn simulated(
    storage: &StorageService,
    cleanup: &S3CleanupService,
    doomed: &str,
    normal_store: Duration,
) -> Result<(), Unexpected> {
    println!(
        "  an external S3 cannot be taken down from here: the outage is simulated with\n  \
         upload_circuit().force_open(); S3 itself stays up"
    );
    storage.upload_circuit().force_open();
    println!("  circuit s3-upload is {}", describe(storage));
    let open_for = fail_fast(storage, normal_store).await?;
    let deleted = cleanup.delete_temp_file(doomed).await;
    println!(
        "  cleanup has no breaker: delete_temp_file({doomed}) -> {deleted} while the upload circuit is open"
    );
    if !deleted {
        return Err("the delete failed although S3 is up".into());
    }
    wait(open_for).await;
    probe_until_closed(storage).await
}

/// Times one refused upload against a normal one; how long the circuit stays open.
async fn fail_fast(
    storage: &StorageService,
    normal_store: Duration,
) -> Result<Duration, Unexpected> {
    let (refused, took) = store(storage).await;
    let err = match refused {
        Err(err) if err.is_circuit_open() => err,
        other => return Err(format!("expected a fast refusal, got {other:?}")),
    };
    println!(
        "  store_document now fails fast, without a request, in {} (the same call took {} \
         before the outage):\n    \"{err}\"",
        short(took),
        short(normal_store)
    );
    Ok(open_for(&err))
}

async fn store(storage: &StorageService) -> (Result<String, StorageError>, Duration) {
    let started = Instant::now();
    let result = storage
        .store_document("job-probe", document(), "application/pdf")
        .await;
    (result, started.elapsed())
}

async fn refusal(storage: &StorageService) -> Result<Duration, Unexpected> {
    match store(storage).await.0 {
        Err(err) if err.is_circuit_open() => Ok(open_for(&err)),
        other => Err(format!("expected a refusal, got {other:?}")),
    }
}

fn open_for(err: &StorageError) -> Duration {
    err.as_s3()
        .and_then(|e| e.circuit_open())
        .map_or(Duration::ZERO, |open| open.retry_after())
}

async fn wait(open_for: Duration) {
    println!(
        "  waiting {:.1}s for the open timeout (2 s here, 60 s by default)...",
        open_for.as_secs_f64()
    );
    tokio::time::sleep(open_for + Duration::from_millis(20)).await;
}

/// From half-open, the probes that close the circuit.
async fn probe_until_closed(storage: &StorageService) -> Result<(), Unexpected> {
    let needed = storage.upload_circuit().config().success_threshold;
    println!(
        "  circuit s3-upload is {}: {needed} successful probes close it",
        storage.upload_circuit().state()
    );
    expect_state(storage, CircuitState::HalfOpen)?;
    for probe in 1..=needed {
        let (result, took) = store(storage).await;
        if let Err(err) = result {
            return Err(format!("probe {probe} failed: {err}"));
        }
        println!(
            "  probe {probe}: stored in {} -> circuit s3-upload is {}",
            short(took),
            storage.upload_circuit().state()
        );
    }
    expect_state(storage, CircuitState::Closed)
}

fn describe(storage: &StorageService) -> String {
    let circuit = storage.upload_circuit();
    let stats = circuit.stats();
    format!(
        "{} (opened {}x so far)",
        circuit.state().as_str().to_uppercase(),
        stats.opened
    )
}

fn expect_state(storage: &StorageService, expected: CircuitState) -> Result<(), Unexpected> {
    let state = storage.upload_circuit().state();
    if state == expected {
        Ok(())
    } else {
        Err(format!("circuit s3-upload is {state}, expected {expected}"))
    }
}

/// A small valid document.
fn document() -> Bytes {
    let mut data = b"%PDF-1.7\n".to_vec();
    data.resize(4096, b' ');
    data.into()
}
