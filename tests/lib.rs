//! Tests of s3-ops across crates (the trybuild catalogue is the crate in `ui/`): the attribute's
//! behaviour against mocked S3 responses (`behaviour.rs`) and wire-level tests against real S3
//! servers (`wire/`). This library is empty; the tests are its `[[test]]` targets.
