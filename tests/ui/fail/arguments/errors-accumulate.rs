// every bad argument of one invocation is reported in the same build, not one per build
use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};

struct Service {
    upload_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(
        class = "delete",
        op = "put_objekt",
        retries = 3,
        max_attempts = 0,
        timeout = "fast",
        base_delay = 100
    )]
    async fn put(&self) -> Result<(), S3Error> {
        Ok(())
    }
}

fn main() {
    let service = Service {
        upload_circuit: CircuitBreaker::new("s3-upload"),
    };
    drop(service.put());
}
