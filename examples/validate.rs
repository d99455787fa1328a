//! The checks the storage service makes before any S3 request: a refused input costs no
//! request, no retry and no breaker record, and is refused the same way while S3 is down.

use crate::error::ValidationError;

/// The only content type [`StorageService::store_document`](crate::StorageService::store_document)
/// accepts.
pub const PDF_CONTENT_TYPE: &str = "application/pdf";

/// Documents below this many bytes are refused: no valid PDF is that small, so it is an empty
/// or cut-short upload.
pub const MIN_DOCUMENT_SIZE: usize = 100;

/// The default maximum document size, 50 MiB.
pub const DEFAULT_MAX_DOCUMENT_SIZE: usize = 50 * 1024 * 1024;

/// The longest job id accepted, in bytes.
pub const MAX_JOB_ID_LEN: usize = 128;

/// The longest image file name accepted, in bytes.
pub const MAX_FILE_NAME_LEN: usize = 255;

/// Checks a document: PDF content type, then at least [`MIN_DOCUMENT_SIZE`] bytes, then at most
/// `max_size` bytes.
///
/// The media type is compared case-insensitively and parameters are ignored
/// (`Application/PDF; name=a.pdf` passes), as HTTP defines media types.
///
/// # Errors
///
/// The first check that fails.
pub fn document(data: &[u8], content_type: &str, max_size: usize) -> Result<(), ValidationError> {
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if !media_type.eq_ignore_ascii_case(PDF_CONTENT_TYPE) {
        return Err(ValidationError::ContentType {
            found: content_type.to_owned(),
        });
    }
    if data.len() < MIN_DOCUMENT_SIZE {
        return Err(ValidationError::TooSmall {
            size: data.len(),
            min: MIN_DOCUMENT_SIZE,
        });
    }
    if data.len() > max_size {
        return Err(ValidationError::TooLarge {
            size: data.len(),
            max: max_size,
        });
    }
    Ok(())
}

/// Checks a job id: 1 to [`MAX_JOB_ID_LEN`] ASCII letters, digits, `-` or `_`.
///
/// No `/` (the id is one key segment) and no `.`: a job's keys are `temp/{job_id}.pdf` and
/// `{job_id}.{ext}`, so without a `.` in ids no job's keys start with another job's id followed
/// by a `.`, which is what lets cleanup tell job `a` from job `a.b` (see
/// [`keys::belongs_to_job`](crate::keys::belongs_to_job)).
///
/// # Errors
///
/// [`ValidationError::JobId`] saying what is wrong.
pub fn job_id(job_id: &str) -> Result<(), ValidationError> {
    let reason = if job_id.is_empty() {
        Some("it is empty")
    } else if job_id.len() > MAX_JOB_ID_LEN {
        Some("it is longer than 128 bytes")
    } else if !job_id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Some("only ASCII letters, digits, `-` and `_` are allowed")
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(ValidationError::JobId {
            job_id: job_id.to_owned(),
            reason,
        }),
    }
}

/// Checks an image file name: 1 to [`MAX_FILE_NAME_LEN`] bytes, one key segment (no `/` or
/// `\`), not `.` or `..`, no control characters.
///
/// # Errors
///
/// [`ValidationError::FileName`] saying what is wrong.
pub fn file_name(name: &str) -> Result<(), ValidationError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_FILE_NAME_LEN {
        Some("it is longer than 255 bytes")
    } else if name.contains(['/', '\\']) {
        Some("it must be a single path segment, without `/` or `\\`")
    } else if name == "." || name == ".." {
        Some("`.` and `..` are not file names")
    } else if name.chars().any(char::is_control) {
        Some("it contains control characters")
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(ValidationError::FileName {
            name: name.to_owned(),
            reason,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1000;

    #[test]
    fn accepts_a_pdf_within_bounds() {
        assert_eq!(document(&[0; 100], "application/pdf", MAX), Ok(()));
        assert_eq!(document(&[0; MAX], "application/pdf", MAX), Ok(()));
        assert_eq!(
            document(&[0; 500], " Application/PDF ; name=a.pdf", MAX),
            Ok(())
        );
    }

    #[test]
    fn refuses_other_content_types() {
        for content_type in [
            "image/png",
            "application/pdfx",
            "",
            "text/plain; x=application/pdf",
        ] {
            assert_eq!(
                document(&[0; 500], content_type, MAX),
                Err(ValidationError::ContentType {
                    found: content_type.to_owned()
                }),
                "{content_type:?}"
            );
        }
    }

    #[test]
    fn refuses_too_small_and_too_large() {
        assert_eq!(
            document(&[0; 99], PDF_CONTENT_TYPE, MAX),
            Err(ValidationError::TooSmall { size: 99, min: 100 })
        );
        assert_eq!(
            document(&[0; MAX + 1], PDF_CONTENT_TYPE, MAX),
            Err(ValidationError::TooLarge {
                size: MAX + 1,
                max: MAX
            })
        );
    }

    #[test]
    fn content_type_is_checked_first() {
        assert!(matches!(
            document(&[], "image/png", MAX),
            Err(ValidationError::ContentType { .. })
        ));
    }

    #[test]
    fn job_ids() {
        for ok in ["job-1", "A_b-9", &"x".repeat(MAX_JOB_ID_LEN)] {
            assert_eq!(job_id(ok), Ok(()), "{ok:?}");
        }
        for bad in [
            "",
            "a/b",
            "a.b",
            "a b",
            "é",
            "../x",
            &"x".repeat(MAX_JOB_ID_LEN + 1),
        ] {
            assert!(
                matches!(job_id(bad), Err(ValidationError::JobId { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn file_names() {
        for ok in ["page-1.png", "a b.png", "café.png", ".hidden"] {
            assert_eq!(file_name(ok), Ok(()), "{ok:?}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b.png",
            "a\\b.png",
            "a\nb",
            &"x".repeat(256),
        ] {
            assert!(
                matches!(file_name(bad), Err(ValidationError::FileName { .. })),
                "{bad:?}"
            );
        }
    }
}
