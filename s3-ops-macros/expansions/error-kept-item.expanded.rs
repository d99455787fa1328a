// The expansion of error-kept-item.rs, written by `S3_OPS_SNAPSHOTS=overwrite cargo test`.

async fn store(&self, key: &str) -> Result<(), S3Error> {
    self.client.put_object().key(key).send().await?;
    Ok(())
}
::core::compile_error! {
    "`max_attempts` must be at least 1: it counts the first attempt too"
}
::core::compile_error! {
    "malformed duration `\"99999999999999999999h\"`: write a whole number and a unit (`ms`, `s`, `m` or `h`), like `\"250ms\"`, `\"1s\"` or `\"2m\"`"
}
::core::compile_error! {
    "unknown class `uplaod`; did you mean `upload`? (expected `upload`, `download` or `cleanup`)"
}
::core::compile_error! {
    "unknown S3 operation `put_objekt`; did you mean `put_object`?"
}
