//! Every operation `aws-sdk-s3` exposes (1.157), with the kind of call it is. The `op`
//! argument must name one of them: it is the `operation` metric label, so a typo would split a
//! dashboard silently.
//!
//! Regenerate from the SDK's `src/operation/` folder when it adds operations.

/// What an operation does to S3, which decides the classes it may be used under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Reads (`get_*`, `head_*`, `list_*`): `download`, or `cleanup` finding what to delete.
    Read,
    /// Writes (`put_*`, `create_*`, copies, multipart uploads): `upload`.
    Write,
    /// Deletes (`delete_*`, `abort_multipart_upload`): `cleanup` only.
    Delete,
}

/// Sorted by name, for binary search.
pub(crate) const OPERATIONS: &[(&str, Kind)] = &[
    ("abort_multipart_upload", Kind::Delete),
    ("complete_multipart_upload", Kind::Write),
    ("copy_object", Kind::Write),
    ("create_bucket", Kind::Write),
    ("create_bucket_metadata_configuration", Kind::Write),
    ("create_bucket_metadata_table_configuration", Kind::Write),
    ("create_multipart_upload", Kind::Write),
    ("create_session", Kind::Read),
    ("delete_bucket", Kind::Delete),
    ("delete_bucket_analytics_configuration", Kind::Delete),
    ("delete_bucket_cors", Kind::Delete),
    ("delete_bucket_encryption", Kind::Delete),
    (
        "delete_bucket_intelligent_tiering_configuration",
        Kind::Delete,
    ),
    ("delete_bucket_inventory_configuration", Kind::Delete),
    ("delete_bucket_lifecycle", Kind::Delete),
    ("delete_bucket_metadata_configuration", Kind::Delete),
    ("delete_bucket_metadata_table_configuration", Kind::Delete),
    ("delete_bucket_metrics_configuration", Kind::Delete),
    ("delete_bucket_ownership_controls", Kind::Delete),
    ("delete_bucket_policy", Kind::Delete),
    ("delete_bucket_replication", Kind::Delete),
    ("delete_bucket_tagging", Kind::Delete),
    ("delete_bucket_website", Kind::Delete),
    ("delete_object", Kind::Delete),
    ("delete_object_annotation", Kind::Delete),
    ("delete_object_tagging", Kind::Delete),
    ("delete_objects", Kind::Delete),
    ("delete_public_access_block", Kind::Delete),
    ("get_bucket_abac", Kind::Read),
    ("get_bucket_accelerate_configuration", Kind::Read),
    ("get_bucket_acl", Kind::Read),
    ("get_bucket_analytics_configuration", Kind::Read),
    ("get_bucket_cors", Kind::Read),
    ("get_bucket_encryption", Kind::Read),
    ("get_bucket_intelligent_tiering_configuration", Kind::Read),
    ("get_bucket_inventory_configuration", Kind::Read),
    ("get_bucket_lifecycle_configuration", Kind::Read),
    ("get_bucket_location", Kind::Read),
    ("get_bucket_logging", Kind::Read),
    ("get_bucket_metadata_configuration", Kind::Read),
    ("get_bucket_metadata_table_configuration", Kind::Read),
    ("get_bucket_metrics_configuration", Kind::Read),
    ("get_bucket_notification_configuration", Kind::Read),
    ("get_bucket_ownership_controls", Kind::Read),
    ("get_bucket_policy", Kind::Read),
    ("get_bucket_policy_status", Kind::Read),
    ("get_bucket_replication", Kind::Read),
    ("get_bucket_request_payment", Kind::Read),
    ("get_bucket_tagging", Kind::Read),
    ("get_bucket_versioning", Kind::Read),
    ("get_bucket_website", Kind::Read),
    ("get_object", Kind::Read),
    ("get_object_acl", Kind::Read),
    ("get_object_annotation", Kind::Read),
    ("get_object_attributes", Kind::Read),
    ("get_object_legal_hold", Kind::Read),
    ("get_object_lock_configuration", Kind::Read),
    ("get_object_retention", Kind::Read),
    ("get_object_tagging", Kind::Read),
    ("get_object_torrent", Kind::Read),
    ("get_public_access_block", Kind::Read),
    ("head_bucket", Kind::Read),
    ("head_object", Kind::Read),
    ("list_bucket_analytics_configurations", Kind::Read),
    ("list_bucket_intelligent_tiering_configurations", Kind::Read),
    ("list_bucket_inventory_configurations", Kind::Read),
    ("list_bucket_metrics_configurations", Kind::Read),
    ("list_buckets", Kind::Read),
    ("list_directory_buckets", Kind::Read),
    ("list_multipart_uploads", Kind::Read),
    ("list_object_annotations", Kind::Read),
    ("list_object_versions", Kind::Read),
    ("list_objects", Kind::Read),
    ("list_objects_v2", Kind::Read),
    ("list_parts", Kind::Read),
    ("put_bucket_abac", Kind::Write),
    ("put_bucket_accelerate_configuration", Kind::Write),
    ("put_bucket_acl", Kind::Write),
    ("put_bucket_analytics_configuration", Kind::Write),
    ("put_bucket_cors", Kind::Write),
    ("put_bucket_encryption", Kind::Write),
    ("put_bucket_intelligent_tiering_configuration", Kind::Write),
    ("put_bucket_inventory_configuration", Kind::Write),
    ("put_bucket_lifecycle_configuration", Kind::Write),
    ("put_bucket_logging", Kind::Write),
    ("put_bucket_metrics_configuration", Kind::Write),
    ("put_bucket_notification_configuration", Kind::Write),
    ("put_bucket_ownership_controls", Kind::Write),
    ("put_bucket_policy", Kind::Write),
    ("put_bucket_replication", Kind::Write),
    ("put_bucket_request_payment", Kind::Write),
    ("put_bucket_tagging", Kind::Write),
    ("put_bucket_versioning", Kind::Write),
    ("put_bucket_website", Kind::Write),
    ("put_object", Kind::Write),
    ("put_object_acl", Kind::Write),
    ("put_object_annotation", Kind::Write),
    ("put_object_legal_hold", Kind::Write),
    ("put_object_lock_configuration", Kind::Write),
    ("put_object_retention", Kind::Write),
    ("put_object_tagging", Kind::Write),
    ("put_public_access_block", Kind::Write),
    ("rename_object", Kind::Write),
    ("restore_object", Kind::Write),
    ("select_object_content", Kind::Read),
    (
        "update_bucket_metadata_annotation_table_configuration",
        Kind::Write,
    ),
    (
        "update_bucket_metadata_inventory_table_configuration",
        Kind::Write,
    ),
    (
        "update_bucket_metadata_journal_table_configuration",
        Kind::Write,
    ),
    ("update_object_encryption", Kind::Write),
    ("upload_part", Kind::Write),
    ("upload_part_copy", Kind::Write),
    ("write_get_object_response", Kind::Write),
];

pub(crate) fn kind_of(op: &str) -> Option<Kind> {
    OPERATIONS
        .binary_search_by(|(name, _)| (*name).cmp(op))
        .ok()
        .map(|i| OPERATIONS[i].1)
}

/// The known operation closest to `op`, if it is close enough to be a typo.
pub(crate) fn closest(op: &str) -> Option<&'static str> {
    crate::suggest::closest(op, OPERATIONS.iter().map(|(name, _)| *name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_and_unique() {
        assert!(OPERATIONS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn kinds_follow_the_classes() {
        assert_eq!(kind_of("put_object"), Some(Kind::Write));
        assert_eq!(kind_of("get_object"), Some(Kind::Read));
        assert_eq!(kind_of("list_objects_v2"), Some(Kind::Read));
        assert_eq!(kind_of("delete_objects"), Some(Kind::Delete));
        assert_eq!(kind_of("abort_multipart_upload"), Some(Kind::Delete));
        assert_eq!(kind_of("put_objekt"), None);
    }

    #[test]
    fn typos_get_a_suggestion_and_nonsense_does_not() {
        assert_eq!(closest("put_objekt"), Some("put_object"));
        assert_eq!(closest("getobject"), Some("get_object"));
        assert_eq!(closest("list_objects_v3"), Some("list_objects_v2"));
        assert_eq!(closest("frobnicate"), None);
    }
}
