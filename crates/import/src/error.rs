//! Why a HAR could not be imported: each error names the file and, for a bad entry, the entry
//! both ways (1-based as people count, and as `log.entries[i]`, 0-based, as a JSON path reads).
//!
//! It owns [`ImportError`] and nothing else; it deliberately says nothing about entries that
//! were skipped (those are notes, not errors: the import goes on without them).

/// A HAR the import cannot read, or one that leaves nothing to replay.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("{file}:{line}:{column}: not JSON: {message} (export the HAR again: DevTools → Network → Export HAR)")]
    NotJson {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: not a HAR 1.2 file: {why}")]
    NotHar { file: String, why: String },
    #[error("{file}: the HAR has no entries: export it after the page has loaded")]
    NoEntries { file: String },
    #[error("{file}: entry {} (log.entries[{index}]): {why}", index + 1)]
    Entry {
        file: String,
        /// 0-based, as in `log.entries[index]`.
        index: usize,
        why: String,
    },
    #[error("{file}: none of its {entries} entries can be replayed (see the notes above for why each was skipped)")]
    NothingToReplay { file: String, entries: usize },
    /// The scenario written does not pass the lab's own check: a bug of the import.
    #[error("{file}: the imported scenario does not check (a bug in `httplab import`): {message}")]
    Invalid { file: String, message: String },
}

impl ImportError {
    /// Whether the user's file is at fault (exit status 2) rather than the import.
    pub fn is_input(&self) -> bool {
        !matches!(self, ImportError::Invalid { .. })
    }
}
