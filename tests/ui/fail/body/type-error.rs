// a type error in the body lands on the user's expression, not on the attribute
use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};

struct Service {
    download_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "download", op = "get_object")]
    async fn size(&self, key: &str) -> Result<u64, S3Error> {
        Ok(key)
    }
}

fn main() {
    let service = Service {
        download_circuit: CircuitBreaker::new("s3-download"),
    };
    drop(service.size("key"));
}
