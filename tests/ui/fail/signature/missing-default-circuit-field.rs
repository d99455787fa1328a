// an upload method of a type without an `upload_circuit` field must name its breaker with `circuit`
use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};

struct Service {
    breaker: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "upload", op = "put_object")]
    async fn put(&self) -> Result<(), S3Error> {
        Ok(())
    }
}

fn main() {
    let service = Service {
        breaker: CircuitBreaker::new("s3-upload"),
    };
    drop(service.put());
}
