// `hedge` on an upload is rejected: a hedge sends the write a second time
use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};

struct Service {
    upload_circuit: CircuitBreaker,
    download_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "upload", op = "put_object", hedge = "50ms")]
    async fn call(&self, key: &str) -> Result<usize, S3Error> {
        Ok(key.len())
    }
}

fn main() {
    let service = Service {
        upload_circuit: CircuitBreaker::new("s3-upload"),
        download_circuit: CircuitBreaker::new("s3-download"),
    };
    drop(service.call("key"));
}
