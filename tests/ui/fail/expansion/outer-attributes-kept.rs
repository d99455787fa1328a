// the method's own attributes are emitted with it: its `#[deprecated]` reaches callers
#![deny(deprecated)]

use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};

struct Service {
    upload_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "upload", op = "put_object")]
    #[deprecated(note = "use `put_v2`")]
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
