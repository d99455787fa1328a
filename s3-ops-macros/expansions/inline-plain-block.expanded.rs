// The expansion of inline-plain-block.rs, written by `S3_OPS_SNAPSHOTS=overwrite cargo test`.

async fn content_length(&self, key: &str) -> Result<i64, S3Error> {
    use ::s3_ops_runtime::__private as __s3_ops;
    static __S3_OPS_SITE: __s3_ops::Site = __s3_ops::site(
        "head_object",
        __s3_ops::RetryPolicy {
            max_attempts: 5u32,
            base_delay: __s3_ops::Duration::from_nanos(100000000u64),
            max_delay: __s3_ops::Duration::from_nanos(2000000000u64),
            ..__s3_ops::OperationClass::Download.default_policy()
        },
        0u64,
        0u64,
    );
    let mut __s3_ops_call = match __s3_ops::Call::begin(
        &__S3_OPS_SITE,
        "",
        __s3_ops::circuit(&(self.breakers.metadata)),
    ) {
        __s3_ops::ResultOk(__s3_ops_call) => __s3_ops_call,
        __s3_ops::ResultErr(__s3_ops_refused) => return __s3_ops_refused,
    };
    loop {
        let __s3_ops_result: Result<i64, S3Error> = {
            let request = self.client.head_object().bucket(&self.bucket).key(key);
            request
                .send()
                .await
                .map(|head| head.content_length().unwrap_or_default())
                .map_err(S3Error::from)
        };
        if __s3_ops_call
            .settle(&__s3_ops_result, __s3_ops::circuit(&(self.breakers.metadata)))
        {
            return __s3_ops_result;
        }
        __s3_ops_call.backoff().await;
        if __s3_ops_call
            .resume(&__s3_ops_result, __s3_ops::circuit(&(self.breakers.metadata)))
        {
            return __s3_ops_result;
        }
    }
}
