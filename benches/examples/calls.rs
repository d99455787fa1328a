//! `calls VARIANT N`: N calls of one variant's success path in one loop (the loop of the
//! criterion benchmarks), for counting instructions per call under callgrind:
//! `benches/instructions.sh` runs it twice and takes the difference.

use s3_ops_benches::annotated::Annotated;
use s3_ops_benches::hand::Hand;
use s3_ops_benches::harness::{run, runtime};
use s3_ops_benches::peers::{Autometrics, Composed};
use s3_ops_benches::recipe::RecipePort;

const USAGE: &str =
    "usage: calls bare|annotated|annotated_failure_rate|hand_optimal|recipe_port|failsafe_backon|autometrics N";

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
        // One call site for both: a second loop around `put` would change how the compiler
        // inlines the first, and so the figure being compared.
        "annotated" | "annotated_failure_rate" => {
            let svc = match variant.as_str() {
                "annotated" => Annotated::new(),
                _ => Annotated::with_failure_rate(),
            };
            calls!(svc, put)
        }
        "hand_optimal" => calls!(Hand::new(), put),
        "recipe_port" => calls!(RecipePort::new(), put),
        "failsafe_backon" => calls!(Composed::new(), put),
        "autometrics" => calls!(Autometrics, put),
        _ => {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    eprintln!("{variant}: {n} calls in {elapsed:?}");
}
