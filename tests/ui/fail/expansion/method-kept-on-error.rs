// an invalid invocation still emits the method: its callers compile and only the attribute's error is reported
use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};

struct Service {
    bucket: String,
    upload_circuit: CircuitBreaker,
}

impl Service {
    #[s3_operation(class = "upload", op = "put_objekt", bucket = self.bucket)]
    async fn upload(&self, key: &str) -> Result<usize, S3Error> {
        Ok(key.len())
    }

    async fn upload_twice(&self) -> Result<usize, S3Error> {
        let first = self.upload("a").await?;
        let second = Self::upload(self, "b").await?;
        Ok(first + second)
    }
}

fn main() {
    let service = Service {
        bucket: "results".to_owned(),
        upload_circuit: CircuitBreaker::new("s3-upload"),
    };
    drop(service.upload_twice());
}
