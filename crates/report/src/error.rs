//! The report crate's errors: only writing files can fail. Formatting itself is infallible,
//! because every record the harness produces can be shown; this module deliberately has no
//! variant for "bad data".

use std::path::PathBuf;

/// Why a report file could not be written; each variant names the path.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(
        "cannot write {path}: {source} (check that the folder is writable and the disk not full)"
    )]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode {path} as JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}
