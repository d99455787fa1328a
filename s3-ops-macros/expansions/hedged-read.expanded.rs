// The expansion of hedged-read.rs, written by `S3_OPS_SNAPSHOTS=overwrite cargo test`.

async fn download(&self, key: &str) -> Result<Vec<u8>, S3Error> {
    use ::s3_ops_runtime::__private as __s3_ops;
    static __S3_OPS_SITE: __s3_ops::Site = __s3_ops::site(
        "get_object",
        __s3_ops::OperationClass::Download.default_policy(),
        0u64,
        0u64,
    );
    static __S3_OPS_HEDGE: __s3_ops::Hedge = __s3_ops::hedge(0u64, 950u16);
    let mut __s3_ops_call = match __s3_ops::Call::begin(
        &__S3_OPS_SITE,
        __s3_ops::bucket(&(self.bucket)),
        __s3_ops::circuit(&(self.download_circuit)),
    ) {
        __s3_ops::ResultOk(__s3_ops_call) => __s3_ops_call,
        __s3_ops::ResultErr(__s3_ops_refused) => return __s3_ops_refused,
    };
    loop {
        let __s3_ops_result = {
            let mut __s3_ops_pair = __s3_ops::AttemptPair::new();
            for _ in 0..2 {
                __s3_ops_pair
                    .put(async {
                        #[allow(
                            unreachable_code,
                            clippy::diverging_sub_expression,
                            clippy::let_unit_value,
                            clippy::empty_loop,
                            clippy::needless_return
                        )]
                        if false {
                            let __s3_ops_fake_return: Result<Vec<u8>, S3Error> = loop {};
                            return __s3_ops_fake_return;
                        }
                        let out = self
                            .client
                            .get_object()
                            .bucket(&self.bucket)
                            .key(key)
                            .send()
                            .await?;
                        Ok(out.body.collect().await?.to_vec())
                    });
            }
            __s3_ops_call
                .hedged(
                    &__S3_OPS_HEDGE,
                    __s3_ops_pair,
                    __s3_ops::circuit(&(self.download_circuit)),
                )
                .await
        };
        if __s3_ops_call
            .settle(&__s3_ops_result, __s3_ops::circuit(&(self.download_circuit)))
        {
            return __s3_ops_result;
        }
        __s3_ops_call.backoff().await;
        if __s3_ops_call
            .resume(&__s3_ops_result, __s3_ops::circuit(&(self.download_circuit)))
        {
            return __s3_ops_result;
        }
    }
}
