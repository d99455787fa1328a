// a duration must be a whole number and a unit: fractions, spaces, long unit names and words are rejected
use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};

struct Service {
    upload_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "upload", op = "put_object", timeout = "1.5s")]
    async fn fraction(&self) -> Result<(), S3Error> {
        Ok(())
    }

    #[s3_operation(class = "upload", op = "put_object", base_delay = "1 sec")]
    async fn spelled_out(&self) -> Result<(), S3Error> {
        Ok(())
    }

    #[s3_operation(class = "upload", op = "put_object", max_delay = "fast")]
    async fn word(&self) -> Result<(), S3Error> {
        Ok(())
    }
}

fn main() {
    let service = Service {
        upload_circuit: CircuitBreaker::new("s3-upload"),
    };
    drop(service.fraction());
    drop(service.spelled_out());
    drop(service.word());
}
