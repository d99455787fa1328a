//! What `#[s3_operation]` expands to calls. Not a stable API: only generated code should name
//! anything here, and it may change in any release. It only re-exports.
//!
//! The expansion imports this module as `__s3_ops` and names everything through it: short
//! paths are fewer tokens for the macro to write and for rustc to resolve in every annotated
//! method. The prelude's names are imported under names of their own: `__s3_ops::Ok` would
//! trip `unused_qualifications` in the user's crate, and a bare `Ok` could be shadowed there.

pub use crate::call::expansion::{
    bucket, circuit, hedge, retry, site, BucketName, FromAttemptTimeout, FromCircuitOpen,
    RetryPolicySource,
};
pub use crate::call::hedge::AttemptPair;
pub use crate::call::{AttemptLimit, Call, CallPolicy, Site, SitePolicy};
pub use crate::operation::OperationClass;
pub use crate::retry::hedge::Hedge;
pub use crate::retry::RetryPolicy;
pub use core::convert::From as ConvertFrom;
pub use core::option::Option::None as OptionNone;
pub use core::result::Result::{Err as ResultErr, Ok as ResultOk};
pub use core::time::Duration;
