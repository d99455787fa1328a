//! The end-to-end pair (feature `e2e`): 4 KiB puts and gets against the embedded S3 server,
//! through annotated methods and through the same bodies without the attribute, on one client
//! configured with [`s3_ops_runtime::client::configure`].

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use s3_ops_runtime::client::{configure, ClientOptions};
use s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};
use s3_ops_testkit::S3Server;

/// The bucket the pair writes to.
pub const E2E_BUCKET: &str = "bench-e2e";

/// Object size.
pub const OBJECT_SIZE: usize = 4096;

/// A storage service with both forms of each operation.
pub struct Storage {
    client: aws_sdk_s3::Client,
    bucket: String,
    upload_circuit: CircuitBreaker,
    download_circuit: CircuitBreaker,
}

impl Storage {
    /// A client for `server` set up by `client::configure` (SDK retries off), on a new bucket.
    ///
    /// # Errors
    ///
    /// When the bucket cannot be created.
    pub async fn connect(server: &S3Server) -> std::io::Result<Self> {
        server.create_bucket(E2E_BUCKET).await?;
        let config = configure(server.config_builder(), &ClientOptions::new()).build();
        Ok(Self {
            client: aws_sdk_s3::Client::from_conf(config),
            bucket: E2E_BUCKET.to_owned(),
            upload_circuit: CircuitBreaker::new("s3-upload"),
            download_circuit: CircuitBreaker::new("s3-download"),
        })
    }

    /// `put_object` without the attribute.
    ///
    /// # Errors
    ///
    /// The SDK's, converted.
    pub async fn put_plain(&self, key: &str, content: &Bytes) -> Result<(), S3Error> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(content.clone()))
            .send()
            .await?;
        Ok(())
    }

    /// `get_object` without the attribute, body read in full.
    ///
    /// # Errors
    ///
    /// The SDK's, converted.
    pub async fn get_plain(&self, key: &str) -> Result<Bytes, S3Error> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(object.body.collect().await?.into_bytes())
    }

    /// [`put_plain`](Self::put_plain) under the attribute.
    ///
    /// # Errors
    ///
    /// The SDK's, converted, or the circuit's refusal.
    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket)]
    pub async fn put(&self, key: &str, content: &Bytes) -> Result<(), S3Error> {
        self.put_plain(key, content).await
    }

    /// [`get_plain`](Self::get_plain) under the attribute.
    ///
    /// # Errors
    ///
    /// The SDK's, converted, or the circuit's refusal.
    #[s3_operation(class = "download", op = "get_object", bucket = self.bucket)]
    pub async fn get(&self, key: &str) -> Result<Bytes, S3Error> {
        self.get_plain(key).await
    }
}

/// The 4 KiB payload.
pub fn payload() -> Bytes {
    Bytes::from(
        (0..OBJECT_SIZE)
            .map(|i| (i % 251) as u8)
            .collect::<Vec<u8>>(),
    )
}

/// The key of call `i`: a thousand distinct objects, rewritten in turn.
pub fn key(i: u64) -> String {
    format!("obj-{:04}", i % 1000)
}

#[cfg(test)]
mod tests {
    use s3_ops_runtime::metrics::{self, OperationResult};

    use super::*;

    #[test]
    fn both_forms_store_and_read_the_same_object_and_only_the_annotated_counts() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let server = S3Server::start().await.unwrap();
            let storage = Storage::connect(&server).await.unwrap();
            let total = |op| metrics::operations_total(op, E2E_BUCKET, OperationResult::Success);
            let data = payload();

            storage.put_plain(&key(1), &data).await.unwrap();
            assert_eq!(storage.get_plain(&key(1)).await.unwrap(), data);
            assert_eq!((total("put_object"), total("get_object")), (0, 0));

            storage.put(&key(2), &data).await.unwrap();
            assert_eq!(storage.get(&key(2)).await.unwrap(), data);
            assert_eq!((total("put_object"), total("get_object")), (1, 1));
            assert_eq!(server.faults().requests("put_object"), 2);
            assert_eq!(server.faults().requests("get_object"), 2);
        });
    }
}
