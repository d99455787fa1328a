// The method's own attributes survive the expansion: docs, `#[must_use]`, `#[inline]`, lint
// levels (an `#[allow]` whose removal would fail this file), inner attributes of the body, and
// the visibility (the method is called from outside its module).
#![deny(warnings, unused_qualifications)]

mod core {}
mod s3_ops_runtime {}

use s3_ops_ui_tests::{assert_send, client};

mod storage {
    use ::s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};

    pub(crate) struct Storage {
        pub(crate) client: aws_sdk_s3::Client,
        pub(crate) bucket: String,
        pub(crate) upload_circuit: CircuitBreaker,
        pub(crate) download_circuit: CircuitBreaker,
    }

    impl Storage {
        /// Stores `body` under `key`.
        ///
        /// `trace_id` is kept for callers that pass one; the `#[allow]` below must reach the
        /// emitted method, or `unused_variables` fails the build.
        #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket)]
        #[must_use = "the upload may have failed"]
        #[allow(unused_variables)]
        pub(crate) async fn put(
            &self,
            key: &str,
            body: &[u8],
            trace_id: u64,
        ) -> Result<(), S3Error> {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .body(body.to_vec().into())
                .send()
                .await?;
            Ok(())
        }

        /// Reads `key`.
        #[doc(alias = "download")]
        #[inline]
        #[s3_operation(class = "download", op = "get_object", bucket = self.bucket)]
        pub(crate) async fn get(&self, key: &str) -> Result<Vec<u8>, S3Error> {
            // An inner attribute: it must stay on the method, or `unused_variables` fails.
            #![allow(unused_variables)]
            let unused = key.len();
            let object = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await?;
            Ok(object.body.collect().await?.to_vec())
        }
    }
}

// `pub(crate)`: `tests/ui.rs` also compiles this file as a module and calls it.
pub(crate) fn main() {
    let storage = storage::Storage {
        client: client(),
        bucket: "results".to_owned(),
        upload_circuit: ::s3_ops_runtime::CircuitBreaker::new("s3-upload"),
        download_circuit: ::s3_ops_runtime::CircuitBreaker::new("s3-download"),
    };
    assert_send(storage.put("key", b"body", 7));
    assert_send(storage.get("key"));
}
