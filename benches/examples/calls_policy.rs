//! `calls_policy annotated|annotated_policy N`: as `calls.rs`, for the two forms of the retry
//! policy side by side, the literal arguments and `retry = self.retry`. A binary of its own:
//! a second annotated method in `calls.rs` would change how the compiler inlines the first,
//! and so the figures compared there.

use s3_ops_benches::annotated::Annotated;
use s3_ops_benches::harness::{run, runtime};

const USAGE: &str = "usage: calls_policy annotated|annotated_policy N";

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(variant), Some(Ok(n))) = (args.next(), args.next().map(|n| n.parse::<u64>())) else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let rt = runtime();
    let svc = Annotated::new();
    let elapsed = match variant.as_str() {
        "annotated" => run(&rt, n, &async |x: u64| svc.put(x).await),
        "annotated_policy" => run(&rt, n, &async |x: u64| svc.put_policy(x).await),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    eprintln!("{variant}: {n} calls in {elapsed:?}");
}
