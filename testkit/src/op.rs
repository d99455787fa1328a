//! Operation names: the aws-sdk-s3 snake_case names (`"put_object"`, `"list_objects_v2"`, ...).

use std::fmt;

/// An S3 operation, named the way aws-sdk-s3 names its fluent builders: `"put_object"`,
/// `"get_object"`, `"list_objects_v2"`, ... plus the wildcard [`Op::ANY`] (`"*"`).
///
/// Every [`Faults`](crate::Faults) method takes `impl Into<Op>`, so a string literal works:
/// `faults.fail_next("put_object", FaultCode::SlowDown, 2)`. Those methods panic on a name that
/// is neither `"*"` nor one of the operations the server knows (see [`Op::all`]), so a typo
/// fails the test instead of silently never matching.
///
/// The server learns the operation from s3s's router (`PutObject`, `ListObjectsV2`, ...) and
/// maps it to this snake_case form.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Op(&'static str);

impl Op {
    /// The wildcard: matches every operation.
    pub const ANY: Op = Op("*");
    /// `PutObject`.
    pub const PUT_OBJECT: Op = Op("put_object");
    /// `GetObject`.
    pub const GET_OBJECT: Op = Op("get_object");
    /// `HeadObject`.
    pub const HEAD_OBJECT: Op = Op("head_object");
    /// `ListObjectsV2`.
    pub const LIST_OBJECTS_V2: Op = Op("list_objects_v2");
    /// `DeleteObject`.
    pub const DELETE_OBJECT: Op = Op("delete_object");
    /// `DeleteObjects` (multi-object delete).
    pub const DELETE_OBJECTS: Op = Op("delete_objects");
    /// `CreateBucket`.
    pub const CREATE_BUCKET: Op = Op("create_bucket");
    /// `HeadBucket`.
    pub const HEAD_BUCKET: Op = Op("head_bucket");
    /// `CopyObject`.
    pub const COPY_OBJECT: Op = Op("copy_object");

    /// An operation by its snake_case name. Not checked here; the [`Faults`](crate::Faults)
    /// methods check it.
    #[must_use]
    pub const fn new(name: &'static str) -> Op {
        Op(name)
    }

    /// The snake_case name (`"*"` for [`Op::ANY`]).
    #[must_use]
    pub const fn name(self) -> &'static str {
        self.0
    }

    /// Whether this is the wildcard [`Op::ANY`].
    #[must_use]
    pub fn is_any(self) -> bool {
        self.0 == "*"
    }

    /// Whether this is [`Op::ANY`] or an operation the server knows.
    #[must_use]
    pub fn is_known(self) -> bool {
        self.is_any() || self.index().is_some()
    }

    /// The operation s3s calls `name` (`"PutObject"` gives `put_object`), if it is one.
    #[must_use]
    pub fn from_s3s_name(name: &str) -> Option<Op> {
        index_of_s3s_name(name).map(|i| Op(OPS[i].1))
    }

    /// The name s3s uses for this operation (`"PutObject"`); `None` for [`Op::ANY`].
    #[must_use]
    pub fn s3s_name(self) -> Option<&'static str> {
        self.index().map(|i| OPS[i].0)
    }

    /// Every operation the server knows (not including [`Op::ANY`]).
    pub fn all() -> impl Iterator<Item = Op> {
        OPS.iter().map(|&(_, snake)| Op(snake))
    }

    /// The position of this operation in [`OPS`], `None` for the wildcard or an unknown name.
    pub(crate) fn index(self) -> Option<usize> {
        OPS.iter().position(|&(_, snake)| snake == self.0)
    }

    /// Whether a rule for `self` applies to a request of the operation at `index`.
    pub(crate) fn matches(self, index: Option<usize>) -> bool {
        self.is_any() || (index.is_some() && self.index() == index)
    }
}

impl From<&'static str> for Op {
    fn from(name: &'static str) -> Op {
        Op(name)
    }
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Op({:?})", self.0)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

pub(crate) fn index_of_s3s_name(name: &str) -> Option<usize> {
    OPS.iter().position(|&(s3s, _)| s3s == name)
}

/// Number of operations s3s 0.14 routes.
pub(crate) const OP_COUNT: usize = OPS.len();

/// s3s 0.14 operation names (from `s3s::ops`) and their aws-sdk-s3 snake_case names.
const OPS: [(&str, &str); 99] = [
    ("AbortMultipartUpload", "abort_multipart_upload"),
    ("CompleteMultipartUpload", "complete_multipart_upload"),
    ("CopyObject", "copy_object"),
    ("CreateBucket", "create_bucket"),
    (
        "CreateBucketMetadataTableConfiguration",
        "create_bucket_metadata_table_configuration",
    ),
    ("CreateMultipartUpload", "create_multipart_upload"),
    ("CreateSession", "create_session"),
    ("DeleteBucket", "delete_bucket"),
    (
        "DeleteBucketAnalyticsConfiguration",
        "delete_bucket_analytics_configuration",
    ),
    ("DeleteBucketCors", "delete_bucket_cors"),
    ("DeleteBucketEncryption", "delete_bucket_encryption"),
    (
        "DeleteBucketIntelligentTieringConfiguration",
        "delete_bucket_intelligent_tiering_configuration",
    ),
    (
        "DeleteBucketInventoryConfiguration",
        "delete_bucket_inventory_configuration",
    ),
    ("DeleteBucketLifecycle", "delete_bucket_lifecycle"),
    (
        "DeleteBucketMetadataTableConfiguration",
        "delete_bucket_metadata_table_configuration",
    ),
    (
        "DeleteBucketMetricsConfiguration",
        "delete_bucket_metrics_configuration",
    ),
    (
        "DeleteBucketOwnershipControls",
        "delete_bucket_ownership_controls",
    ),
    ("DeleteBucketPolicy", "delete_bucket_policy"),
    ("DeleteBucketReplication", "delete_bucket_replication"),
    ("DeleteBucketTagging", "delete_bucket_tagging"),
    ("DeleteBucketWebsite", "delete_bucket_website"),
    ("DeleteObject", "delete_object"),
    ("DeleteObjectTagging", "delete_object_tagging"),
    ("DeleteObjects", "delete_objects"),
    ("DeletePublicAccessBlock", "delete_public_access_block"),
    (
        "GetBucketAccelerateConfiguration",
        "get_bucket_accelerate_configuration",
    ),
    ("GetBucketAcl", "get_bucket_acl"),
    (
        "GetBucketAnalyticsConfiguration",
        "get_bucket_analytics_configuration",
    ),
    ("GetBucketCors", "get_bucket_cors"),
    ("GetBucketEncryption", "get_bucket_encryption"),
    (
        "GetBucketIntelligentTieringConfiguration",
        "get_bucket_intelligent_tiering_configuration",
    ),
    (
        "GetBucketInventoryConfiguration",
        "get_bucket_inventory_configuration",
    ),
    (
        "GetBucketLifecycleConfiguration",
        "get_bucket_lifecycle_configuration",
    ),
    ("GetBucketLocation", "get_bucket_location"),
    ("GetBucketLogging", "get_bucket_logging"),
    (
        "GetBucketMetadataTableConfiguration",
        "get_bucket_metadata_table_configuration",
    ),
    (
        "GetBucketMetricsConfiguration",
        "get_bucket_metrics_configuration",
    ),
    (
        "GetBucketNotificationConfiguration",
        "get_bucket_notification_configuration",
    ),
    (
        "GetBucketOwnershipControls",
        "get_bucket_ownership_controls",
    ),
    ("GetBucketPolicy", "get_bucket_policy"),
    ("GetBucketPolicyStatus", "get_bucket_policy_status"),
    ("GetBucketReplication", "get_bucket_replication"),
    ("GetBucketRequestPayment", "get_bucket_request_payment"),
    ("GetBucketTagging", "get_bucket_tagging"),
    ("GetBucketVersioning", "get_bucket_versioning"),
    ("GetBucketWebsite", "get_bucket_website"),
    ("GetObject", "get_object"),
    ("GetObjectAcl", "get_object_acl"),
    ("GetObjectAttributes", "get_object_attributes"),
    ("GetObjectLegalHold", "get_object_legal_hold"),
    (
        "GetObjectLockConfiguration",
        "get_object_lock_configuration",
    ),
    ("GetObjectRetention", "get_object_retention"),
    ("GetObjectTagging", "get_object_tagging"),
    ("GetObjectTorrent", "get_object_torrent"),
    ("GetPublicAccessBlock", "get_public_access_block"),
    ("HeadBucket", "head_bucket"),
    ("HeadObject", "head_object"),
    (
        "ListBucketAnalyticsConfigurations",
        "list_bucket_analytics_configurations",
    ),
    (
        "ListBucketIntelligentTieringConfigurations",
        "list_bucket_intelligent_tiering_configurations",
    ),
    (
        "ListBucketInventoryConfigurations",
        "list_bucket_inventory_configurations",
    ),
    (
        "ListBucketMetricsConfigurations",
        "list_bucket_metrics_configurations",
    ),
    ("ListBuckets", "list_buckets"),
    ("ListDirectoryBuckets", "list_directory_buckets"),
    ("ListMultipartUploads", "list_multipart_uploads"),
    ("ListObjectVersions", "list_object_versions"),
    ("ListObjects", "list_objects"),
    ("ListObjectsV2", "list_objects_v2"),
    ("ListParts", "list_parts"),
    ("PostObject", "post_object"),
    (
        "PutBucketAccelerateConfiguration",
        "put_bucket_accelerate_configuration",
    ),
    ("PutBucketAcl", "put_bucket_acl"),
    (
        "PutBucketAnalyticsConfiguration",
        "put_bucket_analytics_configuration",
    ),
    ("PutBucketCors", "put_bucket_cors"),
    ("PutBucketEncryption", "put_bucket_encryption"),
    (
        "PutBucketIntelligentTieringConfiguration",
        "put_bucket_intelligent_tiering_configuration",
    ),
    (
        "PutBucketInventoryConfiguration",
        "put_bucket_inventory_configuration",
    ),
    (
        "PutBucketLifecycleConfiguration",
        "put_bucket_lifecycle_configuration",
    ),
    ("PutBucketLogging", "put_bucket_logging"),
    (
        "PutBucketMetricsConfiguration",
        "put_bucket_metrics_configuration",
    ),
    (
        "PutBucketNotificationConfiguration",
        "put_bucket_notification_configuration",
    ),
    (
        "PutBucketOwnershipControls",
        "put_bucket_ownership_controls",
    ),
    ("PutBucketPolicy", "put_bucket_policy"),
    ("PutBucketReplication", "put_bucket_replication"),
    ("PutBucketRequestPayment", "put_bucket_request_payment"),
    ("PutBucketTagging", "put_bucket_tagging"),
    ("PutBucketVersioning", "put_bucket_versioning"),
    ("PutBucketWebsite", "put_bucket_website"),
    ("PutObject", "put_object"),
    ("PutObjectAcl", "put_object_acl"),
    ("PutObjectLegalHold", "put_object_legal_hold"),
    (
        "PutObjectLockConfiguration",
        "put_object_lock_configuration",
    ),
    ("PutObjectRetention", "put_object_retention"),
    ("PutObjectTagging", "put_object_tagging"),
    ("PutPublicAccessBlock", "put_public_access_block"),
    ("RestoreObject", "restore_object"),
    ("SelectObjectContent", "select_object_content"),
    ("UploadPart", "upload_part"),
    ("UploadPartCopy", "upload_part_copy"),
    ("WriteGetObjectResponse", "write_get_object_response"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_names() {
        assert_eq!(Op::from_s3s_name("PutObject"), Some(Op::PUT_OBJECT));
        assert_eq!(
            Op::from_s3s_name("ListObjectsV2").unwrap().name(),
            "list_objects_v2"
        );
        assert_eq!(
            Op::from_s3s_name("GetObjectAcl").unwrap().name(),
            "get_object_acl"
        );
        assert_eq!(Op::from_s3s_name("Nope"), None);
        assert_eq!(Op::DELETE_OBJECTS.s3s_name(), Some("DeleteObjects"));
        assert!(Op::ANY.is_known());
        assert!(!Op::new("PutObject").is_known());
        for op in Op::all() {
            assert!(op
                .name()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        }
    }

    #[test]
    fn matching() {
        let put = Op::PUT_OBJECT.index();
        assert!(Op::ANY.matches(None));
        assert!(Op::ANY.matches(put));
        assert!(Op::PUT_OBJECT.matches(put));
        assert!(!Op::GET_OBJECT.matches(put));
        assert!(!Op::PUT_OBJECT.matches(None));
    }
}
