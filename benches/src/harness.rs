//! The measurement loops, the same for every variant: `iters` calls back to back inside one
//! `block_on` of a current-thread runtime, timed around the loop, so what is measured per call
//! is the call (creating and polling its future to completion) and not the runtime's entry.
//!
//! Use them from criterion's `iter_custom`. Criterion's linear sampling then fits time against
//! iterations, so a constant per-sample cost (entering `block_on`, starting threads) falls into
//! the intercept and out of the per-call slope it reports. [`interleave`] runs two variants
//! side by side instead, for a ratio that the machine's drift between criterion's sequential
//! measurements does not move.
//!
//! The loops are timed on the thread's CPU clock by default: on a machine shared with other
//! work, wall time counts the slices in which the benchmark waited for a core, and that noise
//! is larger than the differences measured here. Cache misses and contended cache lines still
//! count, as they stall the thread while it runs. `S3_OPS_BENCH_CLOCK=wall` times the wall
//! clock instead.

use std::hint::black_box;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use tokio::runtime::{Builder, Runtime};

/// What the loops are timed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// `CLOCK_THREAD_CPUTIME_ID`: the time the measuring thread ran.
    ThreadCpu,
    /// `std::time::Instant`.
    Wall,
}

impl Clock {
    /// `S3_OPS_BENCH_CLOCK=wall` or `cpu` (the default).
    ///
    /// # Panics
    ///
    /// On any other value.
    pub fn from_env() -> Self {
        match std::env::var("S3_OPS_BENCH_CLOCK").as_deref() {
            Err(_) | Ok("cpu") => Clock::ThreadCpu,
            Ok("wall") => Clock::Wall,
            Ok(other) => panic!("S3_OPS_BENCH_CLOCK={other}: expected `cpu` or `wall`"),
        }
    }

    /// A reading of this clock on the calling thread.
    pub fn now(self) -> Duration {
        match self {
            Clock::ThreadCpu => thread_cpu_time(),
            Clock::Wall => {
                static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
                ORIGIN.get_or_init(Instant::now).elapsed()
            }
        }
    }
}

/// The calling thread's CPU time.
fn thread_cpu_time() -> Duration {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// The CPU time of the whole process, all threads: for the end-to-end pair, whose work is
/// spread over the runtime's workers and the embedded server.
pub fn process_cpu_time() -> Duration {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn cpu_clock(id: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; `id` is one of the CPU-time clocks above.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime({id}) failed");
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// The clock every loop uses, read once from the environment.
pub fn clock() -> Clock {
    static CLOCK: std::sync::OnceLock<Clock> = std::sync::OnceLock::new();
    *CLOCK.get_or_init(Clock::from_env)
}

/// A current-thread runtime with the timer on (the retry loops can sleep), no I/O driver.
///
/// # Panics
///
/// When the runtime cannot be built.
pub fn runtime() -> Runtime {
    Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime")
}

/// Calls `call(i)` for `i` in `0..iters`, awaiting each, on `rt`; returns the loop's time.
pub fn run<F, R>(rt: &Runtime, iters: u64, call: &F) -> Duration
where
    F: AsyncFn(u64) -> R,
{
    let clock = clock();
    rt.block_on(async {
        let start = clock.now();
        for i in 0..iters {
            black_box(call(black_box(i)).await);
        }
        clock.now().saturating_sub(start)
    })
}

/// Two OS threads, each with its own current-thread runtime, calling one shared service.
pub struct Pair {
    runtimes: [Runtime; 2],
}

impl Pair {
    /// Two runtimes, built once and reused by every sample.
    pub fn new() -> Self {
        Self {
            runtimes: [runtime(), runtime()],
        }
    }

    /// Runs [`run`] with `iters` calls on both threads at once, released together by a barrier;
    /// returns the longer of the two loops' times. Divided by `iters`, that is the per-call
    /// cost each thread pays while the other hammers the same breaker and metrics (on the CPU
    /// clock: only while the two actually overlap, which a busy machine does not guarantee).
    ///
    /// # Panics
    ///
    /// When a call panics.
    pub fn run<F, R>(&self, iters: u64, call: &F) -> Duration
    where
        F: AsyncFn(u64) -> R + Sync,
    {
        let barrier = Barrier::new(self.runtimes.len());
        thread::scope(|scope| {
            let threads: Vec<_> = self
                .runtimes
                .iter()
                .map(|rt| {
                    let barrier = &barrier;
                    scope.spawn(move || {
                        barrier.wait();
                        run(rt, iters, call)
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().expect("a benchmark thread panicked"))
                .max()
                .unwrap_or_default()
        })
    }
}

impl Default for Pair {
    fn default() -> Self {
        Self::new()
    }
}

/// The per-call times (ns) of two variants `a` and `b` measured side by side, and their ratio
/// `a / b`, round by round.
pub struct Rounds {
    /// `a`'s time per call in each round.
    pub a: Vec<f64>,
    /// `b`'s time per call in each round.
    pub b: Vec<f64>,
    /// `a / b` in each round.
    pub ratio: Vec<f64>,
}

/// `rounds` rounds of `batch` calls of `a` and of `b` back to back ([`run`] each), the order
/// alternating (ABBA), after one batch of each to warm up. A drift of the machine slower than
/// a round cancels out of that round's ratio.
pub fn interleave<A, B, RA, RB>(rt: &Runtime, rounds: u64, batch: u64, a: &A, b: &B) -> Rounds
where
    A: AsyncFn(u64) -> RA,
    B: AsyncFn(u64) -> RB,
{
    let per_call = |d: Duration| d.as_secs_f64() * 1e9 / batch as f64;
    // First calls resolve the metric series and fill the caches.
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
///
/// # Panics
///
/// When `values` is empty.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[rank]
}
