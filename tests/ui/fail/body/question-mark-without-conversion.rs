// `?` on an error the method's error type cannot convert from is reported at the `?`
use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};

struct Service {
    download_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "download", op = "get_object")]
    async fn size(&self, text: &str) -> Result<u64, S3Error> {
        let size: u64 = text.parse()?;
        Ok(size)
    }
}

fn main() {
    let service = Service {
        download_circuit: CircuitBreaker::new("s3-download"),
    };
    drop(service.size("12"));
}
