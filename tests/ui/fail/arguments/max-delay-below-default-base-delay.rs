// `max_delay` shorter than the default `base_delay` (1s) is rejected
use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};

struct Service {
    upload_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "upload", op = "put_object", max_delay = "500ms")]
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
