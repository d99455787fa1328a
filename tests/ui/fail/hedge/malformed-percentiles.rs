// Percentiles outside `p50` … `p99.9`, or not a number, are rejected at the literal
use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};

struct Service {
    download_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "download", op = "get_object", hedge = "p100")]
    async fn everything_hedged_never(&self, key: &str) -> Result<usize, S3Error> {
        Ok(key.len())
    }

    #[s3_operation(class = "download", op = "get_object", hedge = "p0")]
    async fn everything_hedged_at_once(&self, key: &str) -> Result<usize, S3Error> {
        Ok(key.len())
    }

    #[s3_operation(class = "download", op = "get_object", hedge = "p9x")]
    async fn not_a_number(&self, key: &str) -> Result<usize, S3Error> {
        Ok(key.len())
    }
}

fn main() {
    let service = Service {
        download_circuit: CircuitBreaker::new("s3-download"),
    };
    drop(service.everything_hedged_never("key"));
    drop(service.everything_hedged_at_once("key"));
    drop(service.not_a_number("key"));
}
