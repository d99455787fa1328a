//! The cost of the wrapper per call, on the success path of an `async fn` that returns at once,
//! against the body alone, a hand-written optimum, a port of the original recipe and published peers; the
//! same under two threads sharing one breaker and one registry; and the breaker's fast paths.
//!
//! `cargo bench -p s3-ops-benches --bench wrapper`; `python3 benches/summarize.py` prints the
//! table with ratios from criterion's estimates.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use s3_ops_benches::ablation::{
    mutex_breaker, prometheus_by_label, prometheus_resolved, runtime_breaker, RuntimeMetrics,
    StoringBreaker,
};
use s3_ops_benches::annotated::Annotated;
use s3_ops_benches::hand::Hand;
use s3_ops_benches::harness::{run, runtime, Pair};
use s3_ops_benches::metrics::Families;
use s3_ops_benches::peers::{Autometrics, Composed};
use s3_ops_benches::seed::{MutexBreaker, Seed};
use s3_ops_benches::{BUCKET, OPERATION};
use s3_ops_runtime::{BreakerConfig, CircuitBreaker};

/// The six variants, each measured by the same `measure` expression in `group`.
macro_rules! variants {
    ($group:expr, |$iters:ident, $call:ident| $measure:expr) => {{
        let mut group = $group;
        let annotated = Annotated::new();
        let hand = Hand::new();
        let seed = Seed::new();
        let composed = Composed::new();
        let autometrics = Autometrics;
        variants!(@one group, "bare", |$iters, $call| $measure, annotated.bare);
        variants!(@one group, "annotated", |$iters, $call| $measure, annotated.put);
        variants!(@one group, "hand_optimal", |$iters, $call| $measure, hand.put);
        variants!(@one group, "seed_port", |$iters, $call| $measure, seed.put);
        variants!(@one group, "failsafe_backon", |$iters, $call| $measure, composed.put);
        variants!(@one group, "autometrics", |$iters, $call| $measure, autometrics.put);
        group.finish();
    }};
    (@one $group:ident, $name:literal, |$iters:ident, $call:ident| $measure:expr, $svc:ident.$method:ident) => {
        $group.bench_function($name, |b| {
            b.iter_custom(|$iters| {
                let $call = &async |x: u64| $svc.$method(x).await;
                $measure
            })
        });
    };
}

fn single_thread(c: &mut Criterion) {
    let rt = runtime();
    variants!(c.benchmark_group("single_thread"), |iters, call| run(
        &rt, iters, call
    ));
}

fn two_threads(c: &mut Criterion) {
    let pair = Pair::new();
    variants!(c.benchmark_group("two_threads"), |iters, call| pair
        .run(iters, call));
}

/// The annotated call behind a circuit with a failure-rate window, on one thread and on two
/// sharing the breaker: what the window costs a success, and whether it scales.
fn failure_rate(c: &mut Criterion) {
    let rt = runtime();
    let pair = Pair::new();
    let svc = Annotated::with_failure_rate();
    let call = &async |x: u64| svc.put(x).await;
    let mut group = c.benchmark_group("failure_rate");
    group.bench_function("single_thread", |b| {
        b.iter_custom(|iters| run(&rt, iters, call))
    });
    group.bench_function("two_threads", |b| {
        b.iter_custom(|iters| pair.run(iters, call))
    });
    group.finish();
}

/// An open timeout no benchmark outlasts.
fn stays_open(name: impl Into<std::borrow::Cow<'static, str>>) -> CircuitBreaker {
    let circuit = CircuitBreaker::with_config(
        name,
        BreakerConfig {
            open_timeout: Duration::from_secs(3600),
            ..BreakerConfig::default()
        },
    );
    circuit.force_open();
    circuit
}

fn breaker_paths(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("breaker_paths");

    let closed = Annotated::new();
    group.bench_function("annotated_success", |b| {
        b.iter_custom(|iters| run(&rt, iters, &async |x: u64| closed.put(x).await))
    });

    let open = Annotated::with_circuit(stays_open("s3-upload"));
    group.bench_function("annotated_open", |b| {
        b.iter_custom(|iters| run(&rt, iters, &async |x: u64| open.put(x).await))
    });

    // A name built at run time (`format!("s3-{bucket}")`): `CircuitOpen` gets a copy of it.
    let open_owned = Annotated::with_circuit(stays_open(String::from("s3-upload")));
    group.bench_function("annotated_open_owned_name", |b| {
        b.iter_custom(|iters| run(&rt, iters, &async |x: u64| open_owned.put(x).await))
    });

    let half_open = Annotated::half_open();
    group.bench_function("annotated_half_open_probe", |b| {
        b.iter_custom(|iters| run(&rt, iters, &async |x: u64| half_open.put(x).await))
    });

    let refused = Annotated::half_open();
    let held_probe = refused.circuit().acquire().expect("the half-open probe");
    group.bench_function("annotated_half_open_refused", |b| {
        b.iter_custom(|iters| run(&rt, iters, &async |x: u64| refused.put(x).await))
    });
    drop(held_probe);

    let hand = Hand::new();
    hand.breaker().open();
    group.bench_function("hand_open", |b| {
        b.iter_custom(|iters| run(&rt, iters, &async |x: u64| hand.put(x).await))
    });

    let seed = Seed::new();
    for _ in 0..5 {
        seed.circuit().record_failure();
    }
    group.bench_function("seed_open", |b| {
        b.iter_custom(|iters| run(&rt, iters, &async |x: u64| seed.put(x).await))
    });

    let composed = Composed::new();
    composed.trip();
    group.bench_function("failsafe_open", |b| {
        b.iter_custom(|iters| run(&rt, iters, &async |x: u64| composed.put(x).await))
    });
    group.finish();
}

/// Each `name => call` measured by the same `measure` expression in `group`.
macro_rules! calls {
    ($group:expr, |$iters:ident, $call:ident| $measure:expr, $($name:literal => $f:expr,)*) => {{
        let mut group = $group;
        $(
            group.bench_function($name, |b| {
                b.iter_custom(|$iters| {
                    let $call = &$f;
                    $measure
                })
            });
        )*
        group.finish();
    }};
}

fn ablation(c: &mut Criterion) {
    let circuit = CircuitBreaker::new("s3-ablation");
    let storing = StoringBreaker::default();
    let families = Families::new();
    let mutex = MutexBreaker::new(families.breaker_gauge("s3-ablation"));
    let cleanup = RuntimeMetrics::new();
    let resolved = families.resolve(OPERATION, BUCKET);
    let bucket = BUCKET.to_owned();
    macro_rules! pieces {
        ($group:expr, |$iters:ident, $call:ident| $measure:expr) => {
            calls!($group, |$iters, $call| $measure,
                "breaker_runtime" => async |_: u64| runtime_breaker(&circuit),
                "breaker_store_on_success" => async |_: u64| storing.call(),
                "breaker_mutex" => async |_: u64| mutex_breaker(&mutex),
                "metrics_runtime_cells" => async |x: u64| cleanup.delete(x).await,
                "metrics_prometheus_resolved" => async |x: u64| prometheus_resolved(&resolved, x),
                "metrics_prometheus_by_label" => async |x: u64| prometheus_by_label(&families, &bucket, x),
            )
        };
    }
    let rt = runtime();
    pieces!(
        c.benchmark_group("ablation_single_thread"),
        |iters, call| run(&rt, iters, call)
    );
    let pair = Pair::new();
    pieces!(c.benchmark_group("ablation_two_threads"), |iters, call| {
        pair.run(iters, call)
    });
}

criterion_group!(
    benches,
    single_thread,
    two_threads,
    failure_rate,
    breaker_paths,
    ablation
);
criterion_main!(benches);
