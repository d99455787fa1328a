//! Half-open admission under contention (1000 tasks on a multi-thread runtime), and probe slots
//! freed when a probe's future is dropped mid-flight.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use s3_ops_runtime::retry::{Jitter, RetryPolicy};
use s3_ops_runtime::{
    BreakerConfig, CircuitBreaker, CircuitState, Operation, OperationClass, S3Error,
};
use tokio::sync::{Barrier, Notify};

const TASKS: usize = 1000;

/// A breaker that half-opens as soon as it opens, so a multi-thread runtime (which cannot
/// pause time) finds it half-open without sleeping.
fn half_open_breaker(name: &'static str, probes: u32) -> CircuitBreaker {
    let breaker = CircuitBreaker::with_config(
        name,
        BreakerConfig {
            open_timeout: Duration::ZERO,
            half_open_max_calls: probes,
            ..BreakerConfig::default()
        },
    );
    breaker.force_open();
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    breaker
}

/// 1000 tasks released together try to acquire; each keeps what it got until all have tried.
async fn race_acquire(probes: u32) {
    let breaker = half_open_breaker("race-acquire", probes);
    let start = Arc::new(Barrier::new(TASKS));
    let tried = Arc::new(Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (breaker, start, tried) = (breaker.clone(), start.clone(), tried.clone());
            tokio::spawn(async move {
                start.wait().await;
                let permit = breaker.acquire();
                let admitted = match &permit {
                    Ok(permit) => {
                        assert!(permit.is_probe());
                        true
                    }
                    Err(refused) => {
                        assert_eq!(refused.retry_after(), Duration::ZERO);
                        false
                    }
                };
                // Held across the wait: no slot is freed before every task has tried.
                tried.wait().await;
                drop(permit);
                admitted
            })
        })
        .collect();
    let mut admitted = 0;
    for task in tasks {
        admitted += usize::from(task.await.expect("the task does not panic"));
    }
    assert_eq!(admitted, probes as usize);
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_tasks_get_exactly_one_probe() {
    race_acquire(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_tasks_get_exactly_three_probes() {
    race_acquire(3).await;
}

/// The same race through `Operation::run`: admitted calls park inside their attempt until all
/// others have been refused.
async fn race_operations(probes: u32) {
    static OP: Operation = Operation::new(OperationClass::Upload, "race_operation");
    let breaker = half_open_breaker("race-operations", probes);
    let entered = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(Notify::new());
    let start = Arc::new(Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let breaker = breaker.clone();
            let (entered, refused, release, start) = (
                entered.clone(),
                refused.clone(),
                release.clone(),
                start.clone(),
            );
            tokio::spawn(async move {
                start.wait().await;
                let result = OP
                    .run(&breaker, "race", || async {
                        let released = release.notified();
                        entered.fetch_add(1, Ordering::SeqCst);
                        released.await;
                        Ok::<_, S3Error>(())
                    })
                    .await;
                if let Err(err) = &result {
                    assert!(err.is_circuit_open(), "{err}");
                    refused.fetch_add(1, Ordering::SeqCst);
                }
                result.is_ok()
            })
        })
        .collect();
    // Polling, not timing: wait until every task has either entered its attempt or been refused.
    while entered.load(Ordering::SeqCst) + refused.load(Ordering::SeqCst) < TASKS {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(entered.load(Ordering::SeqCst), probes as usize);
    release.notify_waiters();
    let mut succeeded = 0;
    for task in tasks {
        succeeded += usize::from(task.await.expect("the task does not panic"));
    }
    assert_eq!(succeeded, probes as usize);
    assert_eq!(refused.load(Ordering::SeqCst), TASKS - probes as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_operations_run_exactly_one_probe() {
    race_operations(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_operations_run_exactly_three_probes() {
    race_operations(3).await;
}

fn exact(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        jitter: Jitter::None,
        ..RetryPolicy::DEFAULT
    }
}

/// A breaker opened with the default 60 s timeout, then half-opened by advancing the paused
/// clock.
async fn paused_half_open(name: &'static str) -> CircuitBreaker {
    let breaker = CircuitBreaker::new(name);
    breaker.force_open();
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    breaker
}

#[tokio::test(start_paused = true)]
async fn a_probe_cancelled_by_a_timeout_frees_its_slot() {
    let op = Operation::with_policy(OperationClass::Upload, "cancelled_probe", exact(3));
    let breaker = paused_half_open("cancelled-by-timeout").await;

    let hung = op.run(&breaker, "b", std::future::pending::<Result<(), S3Error>>);
    let timed_out = tokio::time::timeout(Duration::from_secs(5), hung).await;
    assert!(timed_out.is_err(), "the attempt never completes");

    // The cancelled probe recorded nothing and gave its slot back: the next call is a probe.
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    let probe = breaker.acquire().expect("the slot was freed");
    assert!(probe.is_probe());
    probe.success();
    breaker.acquire().expect("probe").success();
    assert_eq!(
        breaker.state(),
        CircuitState::Closed,
        "the cancelled probe was not a success"
    );
}

#[tokio::test(start_paused = true)]
async fn a_probe_cancelled_by_select_frees_its_slot_for_the_next_operation() {
    let op = Operation::with_policy(OperationClass::Upload, "selected_probe", exact(3));
    let breaker = paused_half_open("cancelled-by-select").await;

    let probe = op.run(&breaker, "b", std::future::pending::<Result<(), S3Error>>);
    let refused = async {
        // Let the probe take the slot first; while it is in flight, other calls fail fast.
        tokio::task::yield_now().await;
        op.run(&breaker, "b", || async { Ok::<_, S3Error>(()) })
            .await
    };
    let refused = tokio::select! {
        _ = probe => unreachable!("the probe never completes"),
        refused = refused => refused,
    };
    assert!(refused
        .expect_err("the probe slot is taken")
        .is_circuit_open());

    let ran = AtomicUsize::new(0);
    op.run(&breaker, "b", || async {
        ran.fetch_add(1, Ordering::SeqCst);
        Ok::<_, S3Error>(())
    })
    .await
    .expect("admitted as the next probe");
    assert_eq!(ran.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_probe_holds_its_slot_across_retries_and_frees_it_when_cancelled_in_backoff() {
    let op = Operation::with_policy(OperationClass::Upload, "probe_in_backoff", exact(3));
    let breaker = paused_half_open("cancelled-in-backoff").await;
    let attempts = AtomicUsize::new(0);

    let probe = op.run(&breaker, "b", || async {
        attempts.fetch_add(1, Ordering::SeqCst);
        Err::<(), _>(S3Error::service("SlowDown", Some(503)))
    });
    // The first attempt fails at once; the call then sleeps its 1 s backoff.
    let timed_out = tokio::time::timeout(Duration::from_millis(500), probe).await;
    assert!(timed_out.is_err());
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    // Dropped in its backoff: nothing recorded, slot free.
    assert_eq!(breaker.state(), CircuitState::HalfOpen);
    assert!(breaker.acquire().expect("the slot was freed").is_probe());
}

#[tokio::test(start_paused = true)]
async fn the_slot_is_held_while_the_probe_retries() {
    let op = Operation::with_policy(OperationClass::Upload, "probe_retrying", exact(3));
    let breaker = paused_half_open("held-while-retrying").await;
    let attempts = AtomicUsize::new(0);

    let probe = op.run(&breaker, "b", || async {
        if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
            Err(S3Error::service("SlowDown", Some(503)))
        } else {
            Ok(())
        }
    });
    let other = async {
        // Inside the probe's backoff, the slot is still taken.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            breaker.acquire().is_err(),
            "one call, one probe slot, across retries"
        );
    };
    let (result, ()) = tokio::join!(probe, other);
    result.expect("the retry succeeds");
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    assert_eq!(
        breaker.state(),
        CircuitState::HalfOpen,
        "one probe success of two"
    );
}
