//! The per-call targets as ratios measured side by side: the annotated method against the
//! hand-written optimum and against the seed port, their calls interleaved in short rounds.
//!
//! Criterion measures one variant after another, and on a shared VM the machine's speed drifts
//! between them: the same binary's hand-written variant moves between 82 and 113 ns from run
//! to run, which is more than the differences the targets are about. Here each round times a
//! batch of calls of each variant of a pair back to back (order alternating, ABBA), so a drift
//! slower than a round cancels out of that round's ratio; the median over the rounds is the
//! ratio reported, with its quartiles.
//!
//! `cargo bench -p s3-ops-benches --bench paired` (about 30 s). `PAIRED_ROUNDS` (default 1000)
//! and `PAIRED_BATCH` (calls per variant per round, default 2000) change the run's shape.

use std::time::Duration;

use s3_ops_benches::annotated::Annotated;
use s3_ops_benches::hand::Hand;
use s3_ops_benches::harness::{run, runtime};
use s3_ops_benches::seed::Seed;
use tokio::runtime::Runtime;

fn env_or(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value}: expected a whole number")),
        Err(_) => default,
    }
}

/// The per-call times of both variants and their ratio, round by round.
struct Rounds {
    a: Vec<f64>,
    b: Vec<f64>,
    ratio: Vec<f64>,
}

/// `rounds` rounds of `batch` calls of `a` and of `b`, in ABBA order.
fn interleave<A, B, RA, RB>(rt: &Runtime, rounds: u64, batch: u64, a: &A, b: &B) -> Rounds
where
    A: AsyncFn(u64) -> RA,
    B: AsyncFn(u64) -> RB,
{
    let per_call = |d: Duration| d.as_secs_f64() * 1e9 / batch as f64;
    // Warm up both: first calls resolve the metric series and fill the caches.
    run(rt, batch, a);
    run(rt, batch, b);
    let mut out = Rounds {
        a: Vec::new(),
        b: Vec::new(),
        ratio: Vec::new(),
    };
    for round in 0..rounds {
        let (ta, tb) = if round % 2 == 0 {
            let ta = run(rt, batch, a);
            (ta, run(rt, batch, b))
        } else {
            let tb = run(rt, batch, b);
            (run(rt, batch, a), tb)
        };
        let (a, b) = (per_call(ta), per_call(tb));
        out.a.push(a);
        out.b.push(b);
        out.ratio.push(a / b);
    }
    out
}

/// The `q` quantile (0 to 1) of `values`, by nearest rank.
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[rank]
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

fn main() {
    // `cargo bench` passes `--bench`; there is nothing else to read from the command line.
    let rounds = env_or("PAIRED_ROUNDS", 1000);
    let batch = env_or("PAIRED_BATCH", 2000);
    let rt = runtime();
    let annotated = Annotated::new();
    let hand = Hand::new();
    let seed = Seed::new();
    let annotated = async |x: u64| annotated.put(x).await;

    println!("{rounds} rounds of {batch} calls per variant, interleaved ABBA, median per call\n");
    println!("| pair (a ÷ b) | a, ns/call | b, ns/call | ratio, median (quartiles) | target |");
    println!("|---|---|---|---|---|");
    let vs_hand = interleave(&rt, rounds, batch, &annotated, &async |x: u64| {
        hand.put(x).await
    });
    report("annotated ÷ hand_optimal", "≤ 1.15", &vs_hand);
    let vs_seed = interleave(&rt, rounds, batch, &annotated, &async |x: u64| {
        seed.put(x).await
    });
    report("annotated ÷ seed_port", "≤ 0.55", &vs_seed);
}
