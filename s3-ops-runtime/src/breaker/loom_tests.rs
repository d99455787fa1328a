//! Model checks of the breaker's lock-free paths under every interleaving loom can find.
//!
//! ```sh
//! RUSTFLAGS="--cfg s3_ops_loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p s3-ops-runtime --lib --release loom
//! ```
//!
//! The open timeout is zero in these models, so an open circuit is half-open at once whatever
//! the wall clock says: the schedule, not time, is what loom explores.

use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use super::{BreakerConfig, BreakerOutcome as Outcome, CircuitBreaker, CircuitState};

fn half_open(max_probes: u32, success_threshold: u32) -> CircuitBreaker {
    let breaker = CircuitBreaker::with_config(
        "loom",
        BreakerConfig {
            failure_threshold: 2,
            success_threshold,
            open_timeout: Duration::ZERO,
            half_open_max_calls: max_probes,
            ..BreakerConfig::default()
        },
    );
    breaker.force_open();
    breaker
}

/// Half-open admission never exceeds `half_open_max_calls`, and probes that are dropped
/// without an outcome give their slots back: afterwards a probe is admitted again.
#[test]
fn loom_half_open_admission_is_bounded_and_slots_come_back() {
    loom::model(|| {
        let breaker = Arc::new(half_open(1, 2));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let breaker = breaker.clone();
                let in_flight = in_flight.clone();
                thread::spawn(move || {
                    if let Ok(permit) = breaker.acquire() {
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        assert!(now <= 1, "{now} probes in flight with 1 slot");
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                        drop(permit);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        assert!(
            breaker.acquire().is_ok(),
            "a slot leaked: half-open is stuck"
        );
    });
}

/// Probes racing to report: one failure reopens, successes alone close; never stuck in
/// half-open with no probe in flight and no slot free.
#[test]
fn loom_racing_probe_outcomes_end_in_a_consistent_state() {
    loom::model(|| {
        let breaker = Arc::new(half_open(2, 2));
        // Tickets, the owned permits generated code uses, so they can move to threads.
        let first = breaker.admit().expect("first probe");
        let second = breaker.admit().expect("second probe");
        assert!(breaker.admit().is_err(), "both slots are taken");
        let a = {
            let breaker = breaker.clone();
            thread::spawn(move || first.settle(&breaker, Outcome::Success))
        };
        let b = {
            let breaker = breaker.clone();
            thread::spawn(move || second.settle(&breaker, Outcome::Failure))
        };
        a.join().unwrap();
        b.join().unwrap();
        // Whatever the order, the failure reopens the circuit (one success is not enough to
        // close it) and a success reported after that is from an old epoch and ignored. With a
        // zero open timeout the reopened circuit is half-open again with its slots free.
        assert_eq!(breaker.state(), CircuitState::HalfOpen);
        assert_eq!(breaker.stats().opened, 2);
        assert!(breaker.acquire().is_ok(), "a slot leaked");
    });
}

/// Concurrent failures of a closed circuit are all counted: none is lost between the lock-free
/// read and the locked update.
#[test]
fn loom_concurrent_failures_open_the_circuit() {
    loom::model(|| {
        let breaker = Arc::new(CircuitBreaker::with_config(
            "loom",
            BreakerConfig {
                failure_threshold: 2,
                open_timeout: Duration::from_secs(3600),
                ..BreakerConfig::default()
            },
        ));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let breaker = breaker.clone();
                thread::spawn(move || {
                    if let Ok(permit) = breaker.acquire() {
                        permit.failure();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // Both were admitted while closed (nothing opened it before both acquired), or the
        // second was refused because the first had already opened it: open either way.
        assert_eq!(breaker.state(), CircuitState::Open);
    });
}

/// A success racing a failure on a closed circuit: the lock-free success path (no store when
/// there is nothing to forget) must not lose the failure's count.
#[test]
fn loom_success_fast_path_does_not_lose_a_failure() {
    loom::model(|| {
        let breaker = Arc::new(CircuitBreaker::with_config(
            "loom",
            BreakerConfig {
                failure_threshold: 2,
                open_timeout: Duration::from_secs(3600),
                ..BreakerConfig::default()
            },
        ));
        breaker.record_failure();
        let ok = {
            let breaker = breaker.clone();
            thread::spawn(move || {
                // Refused when the racing failure has already opened the circuit.
                if let Ok(permit) = breaker.acquire() {
                    permit.success();
                }
            })
        };
        let failed = {
            let breaker = breaker.clone();
            thread::spawn(move || breaker.record_failure())
        };
        ok.join().unwrap();
        failed.join().unwrap();
        // The success (locked: it has a failure to forget) either reset the first failure
        // before the second (closed, 1 failure) or came after the circuit opened (an old epoch:
        // ignored, open). Both are outcomes of some sequential order.
        let state = breaker.state();
        assert!(matches!(state, CircuitState::Closed | CircuitState::Open));
        if state == CircuitState::Closed {
            breaker.record_failure();
            assert_eq!(
                breaker.state(),
                CircuitState::Open,
                "the racing failure was lost"
            );
        }
    });
}
