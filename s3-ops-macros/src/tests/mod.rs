//! Tests of the whole attribute: `s3_operation_impl` on token streams, as rustc would call it.

mod messages;
mod never_panics;
mod rewrites;
mod snapshots;
