// Only a read may be hedged: in a `static`, `with_hedge` on another class fails to compile.
use std::time::Duration;

use s3_ops_runtime::retry::hedge::HedgeDelay;
use s3_ops_runtime::{Operation, OperationClass};

static PUT: Operation = Operation::new(OperationClass::Upload, "put_object")
    .with_hedge(HedgeDelay::After(Duration::from_millis(50)));

fn main() {
    let _ = &PUT;
}
