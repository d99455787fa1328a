// `circuit` must be a `CircuitBreaker`; another type is reported at the expression
use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};

struct Service {
    bucket: String,
    upload_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "upload", op = "put_object", circuit = self.bucket)]
    async fn put(&self) -> Result<(), S3Error> {
        Ok(())
    }
}

fn main() {
    let service = Service {
        bucket: String::new(),
        upload_circuit: CircuitBreaker::new("s3-upload"),
    };
    drop(service.put());
}
