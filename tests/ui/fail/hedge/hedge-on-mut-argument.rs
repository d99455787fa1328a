// `hedge` with a `&mut` argument is rejected: two attempts of the body would borrow it at once
use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};

struct Service {
    download_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "download", op = "get_object", hedge = "p95")]
    async fn call(&self, key: &str, out: &mut Vec<u8>) -> Result<usize, S3Error> {
        out.extend_from_slice(key.as_bytes());
        Ok(key.len())
    }
}

fn main() {
    let service = Service {
        download_circuit: CircuitBreaker::new("s3-download"),
    };
    let mut out = Vec::new();
    drop(service.call("key", &mut out));
}
