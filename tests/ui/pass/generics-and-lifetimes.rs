// Generic methods (type parameters, where clauses, lifetimes, `impl Trait` arguments) and
// `Result<impl Trait, E>` returns compile warning-free, and their futures are `Send`.
#![deny(warnings, unused_qualifications)]

use std::borrow::Cow;
use std::fmt::Display;

use ::s3_ops_runtime::{s3_operation, CircuitBreaker, S3Error};
use s3_ops_ui_tests::{assert_send, client};

mod core {}
mod s3_ops_runtime {}

struct Store<C> {
    client: C,
    bucket: String,
    upload_circuit: CircuitBreaker,
    download_circuit: CircuitBreaker,
}

impl<C> Store<C>
where
    C: AsRef<aws_sdk_s3::Client> + Sync,
{
    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket)]
    async fn put<K, B>(&self, key: K, body: &B) -> Result<String, S3Error>
    where
        K: Display + Sync,
        B: AsRef<[u8]> + Sync + ?Sized,
    {
        self.client
            .as_ref()
            .put_object()
            .bucket(&self.bucket)
            .key(key.to_string())
            .body(body.as_ref().to_vec().into())
            .send()
            .await?;
        Ok(key.to_string())
    }

    // A borrowed return: the result outlives the call only through `'a`.
    #[s3_operation(class = "download", op = "head_object", bucket = self.bucket)]
    async fn etag_or<'a>(&'a self, key: &str, fallback: &'a str) -> Result<Cow<'a, str>, S3Error> {
        let head = self
            .client
            .as_ref()
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await?;
        Ok(head.e_tag.map_or(Cow::Borrowed(fallback), Cow::Owned))
    }

    #[s3_operation(class = "upload", op = "put_object", bucket = self.bucket)]
    async fn put_all(
        &self,
        keys: impl IntoIterator<Item = impl AsRef<str>> + Clone + Send,
    ) -> Result<usize, S3Error> {
        let mut count = 0;
        for key in keys.clone() {
            let key = key.as_ref().to_owned();
            self.client
                .as_ref()
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await?;
            count += 1;
        }
        Ok(count)
    }

    // `impl Trait` in the return type: the expansion must not name it in a `let`.
    #[s3_operation(class = "download", op = "list_objects_v2", bucket = self.bucket)]
    async fn keys(&self) -> Result<impl Iterator<Item = String> + Send, S3Error> {
        let page = self
            .client
            .as_ref()
            .list_objects_v2()
            .bucket(&self.bucket)
            .send()
            .await?;
        Ok(page
            .contents
            .unwrap_or_default()
            .into_iter()
            .filter_map(|object| object.key))
    }
}

struct Shared(aws_sdk_s3::Client);

impl AsRef<aws_sdk_s3::Client> for Shared {
    fn as_ref(&self) -> &aws_sdk_s3::Client {
        &self.0
    }
}

// `pub(crate)`: `tests/ui.rs` also compiles this file as a module and calls it.
pub(crate) fn main() {
    let store = Store {
        client: Shared(client()),
        bucket: "results".to_owned(),
        upload_circuit: CircuitBreaker::new("s3-upload"),
        download_circuit: CircuitBreaker::new("s3-download"),
    };
    assert_send(store.put(7_u32, "body"));
    assert_send(store.put(String::from("key"), &[1_u8, 2, 3][..]));
    assert_send(store.etag_or("key", "none"));
    assert_send(store.put_all(["a", "b"]));
    assert_send(store.put_all(vec![String::from("c")]));
    assert_send(store.keys());
}
