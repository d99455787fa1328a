//! The cost of the wrapper per call, on the success path of an `async fn` that returns at once,
//! against the body alone, a hand-written optimum, a port of the original recipe and published peers; the
//! same under two threads sharing one breaker and one registry; and the breaker's fast paths.
//!
//! `cargo bench -p s3-ops-benches --bench wrapper`; `python3 benches/summarize.py` prints the
//! table with ratios from criterion's estimates.
//!
//! After criterion's groups, the two per-call targets' ratios measured side by side ([`paired`]);
//! `-- paired` runs those alone, and any other argument (a filter, criterion's options) leaves
//! them out.

use std::time::Duration;

use criterion::{criterion_group, Criterion};
use s3_ops_benches::ablation::{
    mutex_breaker, prometheus_by_label, prometheus_resolved, runtime_breaker, RuntimeMetrics,
    StoringBreaker,
};
use s3_ops_benches::annotated::Annotated;
use s3_ops_benches::hand::Hand;
use s3_ops_benches::harness::{interleave, quantile, run, runtime, Pair, Rounds};
use s3_ops_benches::metrics::Families;
use s3_ops_benches::peers::{Autometrics, Composed};
use s3_ops_benches::recipe::{MutexBreaker, RecipePort};
use s3_ops_benches::{BUCKET, OPERATION};
use s3_ops_runtime::{BreakerConfig, CircuitBreaker};

/// The six variants, each measured by the same `measure` expression in `group`.
macro_rules! variants {
    ($group:expr, |$iters:ident, $call:ident| $measure:expr) => {{
        let mut group = $group;
        let annotated = Annotated::new();
        let hand = Hand::new();
        let recipe = RecipePort::new();
        let composed = Composed::new();
        let autometrics = Autometrics;
        variants!(@one group, "bare", |$iters, $call| $measure, annotated.bare);
        variants!(@one group, "annotated", |$iters, $call| $measure, annotated.put);
        variants!(@one group, "hand_optimal", |$iters, $call| $measure, hand.put);
        variants!(@one group, "recipe_port", |$iters, $call| $measure, recipe.put);
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

    let recipe = RecipePort::new();
    for _ in 0..5 {
        recipe.circuit().record_failure();
    }
    group.bench_function("recipe_open", |b| {
        b.iter_custom(|iters| run(&rt, iters, &async |x: u64| recipe.put(x).await))
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

/// The per-call targets as ratios measured side by side: the annotated method against the
/// hand-written optimum and against the recipe port, their calls interleaved in short rounds
/// ([`interleave`]), the median over the rounds reported with its quartiles.
///
/// Criterion measures one variant after another, and on a shared VM the machine's speed drifts
/// between them: the same binary's hand-written variant moves between 82 and 113 ns from run
/// to run, which is more than the differences the targets are about.
///
/// About 30 s. `PAIRED_ROUNDS` (default 1000) and `PAIRED_BATCH` (calls per variant per round,
/// default 2000) change the run's shape.
fn paired() {
    let rounds = env_or("PAIRED_ROUNDS", 1000);
    let batch = env_or("PAIRED_BATCH", 2000);
    let rt = runtime();
    let annotated = Annotated::new();
    let hand = Hand::new();
    let recipe = RecipePort::new();
    let annotated = async |x: u64| annotated.put(x).await;

    println!("{rounds} rounds of {batch} calls per variant, interleaved ABBA, median per call\n");
    println!("| pair (a ÷ b) | a, ns/call | b, ns/call | ratio, median (quartiles) | target |");
    println!("|---|---|---|---|---|");
    let vs_hand = interleave(&rt, rounds, batch, &annotated, &async |x: u64| {
        hand.put(x).await
    });
    report("annotated ÷ hand_optimal", "≤ 1.15", &vs_hand);
    let vs_recipe = interleave(&rt, rounds, batch, &annotated, &async |x: u64| {
        recipe.put(x).await
    });
    report("annotated ÷ recipe_port", "≤ 0.55", &vs_recipe);
}

fn env_or(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value}: expected a whole number")),
        Err(_) => default,
    }
}

fn report(name: &str, target: &str, rounds: &Rounds) {
    println!(
        "| {name} | {:.1} | {:.1} | **{:.3}** ({:.3}–{:.3}) | {target} |",
        quantile(&rounds.a, 0.5),
        quantile(&rounds.b, 0.5),
        quantile(&rounds.ratio, 0.5),
        quantile(&rounds.ratio, 0.25),
        quantile(&rounds.ratio, 0.75),
    );
}

criterion_group!(
    benches,
    single_thread,
    two_threads,
    failure_rate,
    breaker_paths,
    ablation
);

// `criterion_main!`, and then the side-by-side rounds, which criterion cannot run: it measures
// one benchmark after another. `cargo bench` passes `--bench`; nothing else means a full run.
fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let only_paired = args == ["paired"];
    if !only_paired {
        benches();
        Criterion::default().configure_from_args().final_summary();
    }
    if args.is_empty() || only_paired {
        paired();
    }
}
