//! `calls VARIANT N`: N calls of one variant's success path in one loop (the loop of the
//! criterion benchmarks), for counting instructions per call under callgrind:
//! `benches/instructions.sh` runs it twice and takes the difference.

use s3_ops_benches::annotated::Annotated;
use s3_ops_benches::hand::Hand;
use s3_ops_benches::harness::{run, runtime};
use s3_ops_benches::peers::{Autometrics, Composed};
use s3_ops_benches::seed::Seed;

const USAGE: &str =
    "usage: calls bare|annotated|annotated_policy|hand_optimal|seed_port|failsafe_backon|autometrics N";

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(variant), Some(Ok(n))) = (args.next(), args.next().map(|n| n.parse::<u64>())) else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let rt = runtime();
    // `n` calls of `svc.method(x)`, as the criterion benchmarks make them.
    macro_rules! calls {
        ($svc:expr, $method:ident) => {{
            let svc = $svc;
            run(&rt, n, &async |x: u64| svc.$method(x).await)
        }};
    }
    let elapsed = match variant.as_str() {
        "bare" => calls!(Annotated::new(), bare),
        "annotated" => calls!(Annotated::new(), put),
        "annotated_policy" => calls!(Annotated::new(), put_policy),
        "hand_optimal" => calls!(Hand::new(), put),
        "seed_port" => calls!(Seed::new(), put),
        "failsafe_backon" => calls!(Composed::new(), put),
        "autometrics" => calls!(Autometrics, put),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    eprintln!("{variant}: {n} calls in {elapsed:?}");
}
