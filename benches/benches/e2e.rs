//! End to end: a 4 KiB put then get against the embedded S3 server, through annotated methods
//! and through the same bodies without the attribute, on one client.
//!
//! `cargo bench -p s3-ops-benches --features e2e --bench e2e`
//!
//! Two measurements: criterion's, per put+get pair, one variant after the other; then rounds
//! of 1000 puts and 1000 gets alternating the variants (ABBA), whose median ratio is the
//! overhead least disturbed by drift in the machine's load. Both on the process's CPU clock
//! (client, runtime and embedded server together) unless `S3_OPS_BENCH_CLOCK=wall`: on a
//! shared machine a round's wall time is mostly time spent waiting for a core. The rounds
//! print both clocks.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::Criterion;
use s3_ops_benches::e2e::{key, payload, Storage};
use s3_ops_benches::harness::{clock, process_cpu_time, Clock};
use s3_ops_testkit::S3Server;
use tokio::runtime::Runtime;

/// Objects per round, written then read.
const ROUND: u64 = 1000;

#[derive(Clone, Copy, Debug)]
enum Variant {
    Plain,
    Annotated,
}

async fn put_get(storage: &Storage, data: &Bytes, variant: Variant, i: u64) {
    let key = key(i);
    match variant {
        Variant::Plain => {
            storage.put_plain(&key, data).await.expect("put");
            black_box(storage.get_plain(&key).await.expect("get"));
        }
        Variant::Annotated => {
            storage.put(&key, data).await.expect("put");
            black_box(storage.get(&key).await.expect("get"));
        }
    }
}

/// Wall time and process CPU time of `calls` put+get pairs.
fn timed(
    rt: &Runtime,
    storage: &Storage,
    data: &Bytes,
    variant: Variant,
    calls: u64,
) -> (Duration, Duration) {
    rt.block_on(async {
        let (wall, cpu) = (Instant::now(), process_cpu_time());
        for i in 0..calls {
            put_get(storage, data, variant, i).await;
        }
        (wall.elapsed(), process_cpu_time().saturating_sub(cpu))
    })
}

/// The time criterion sees: the configured clock.
fn measured(clock: Clock, (wall, cpu): (Duration, Duration)) -> Duration {
    match clock {
        Clock::Wall => wall,
        Clock::ThreadCpu => cpu,
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

fn main() {
    // Two workers, as many as the machine has cores: the server and the client share them.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let server = rt
        .block_on(S3Server::start())
        .expect("the embedded S3 server");
    let storage = rt
        .block_on(Storage::connect(&server))
        .expect("the bench bucket");
    let data = payload();
    // Every key exists before the first measured get, and connections are warm.
    timed(&rt, &storage, &data, Variant::Plain, ROUND);

    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10))
        .configure_from_args();
    let clock = clock();
    {
        let mut group = c.benchmark_group("e2e_put_get_4KiB");
        for (name, variant) in [("plain", Variant::Plain), ("annotated", Variant::Annotated)] {
            group.bench_function(name, |b| {
                b.iter_custom(|iters| measured(clock, timed(&rt, &storage, &data, variant, iters)))
            });
        }
        group.finish();
    }
    c.final_summary();

    let rounds: usize = std::env::var("E2E_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(12);
    println!("\ninterleaved: {rounds} rounds of {ROUND} puts + {ROUND} gets per variant (ABBA)");
    // [variant][clock: wall, cpu]
    let mut totals = [[Duration::ZERO; 2]; 2];
    let mut ratios = [Vec::with_capacity(rounds), Vec::with_capacity(rounds)];
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [Variant::Plain, Variant::Annotated]
        } else {
            [Variant::Annotated, Variant::Plain]
        };
        let mut times = [(Duration::ZERO, Duration::ZERO); 2];
        for variant in order {
            times[variant as usize] = timed(&rt, &storage, &data, variant, ROUND);
        }
        let [plain, annotated] = times;
        for (k, (p, a)) in [(plain.0, annotated.0), (plain.1, annotated.1)]
            .into_iter()
            .enumerate()
        {
            totals[0][k] += p;
            totals[1][k] += a;
            ratios[k].push(a.as_secs_f64() / p.as_secs_f64());
        }
        println!(
            "round {round:2}: wall plain {:7.1} ms annotated {:7.1} ms | cpu plain {:7.1} ms annotated {:7.1} ms",
            plain.0.as_secs_f64() * 1e3,
            annotated.0.as_secs_f64() * 1e3,
            plain.1.as_secs_f64() * 1e3,
            annotated.1.as_secs_f64() * 1e3,
        );
    }
    let pairs = rounds as f64 * ROUND as f64;
    for (k, name) in ["wall", "cpu"].into_iter().enumerate() {
        let median_ratio = median(&mut ratios[k]);
        println!(
            "{name}: per put+get plain {:.1} us, annotated {:.1} us; median annotated/plain {median_ratio:.4} \
             (overhead {:+.2} %; ratios {:.4} .. {:.4})",
            totals[0][k].as_secs_f64() * 1e6 / pairs,
            totals[1][k].as_secs_f64() * 1e6 / pairs,
            (median_ratio - 1.0) * 100.0,
            ratios[k].first().copied().unwrap_or(f64::NAN),
            ratios[k].last().copied().unwrap_or(f64::NAN),
        );
    }
}
