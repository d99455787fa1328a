//! The trybuild catalogue of `#[s3_operation]` (`pass/`, `fail/<topic>/`, driven by `ui.rs`).
//! This library is empty; the catalogue is its `ui` test target.
