//! Mistakes in a scenario file, located for the user, and which one is reported first.
//!
//! It owns [`ScenarioError`] (the file, line and column of a mistake, its message, and the
//! offending line with a caret under it), the arithmetic from a byte span to that place, the
//! place of the one TOML mistake the reader reports without a span (a key nested past its
//! recursion limit, [`deep_key`]), and [`Stage`]: the order in which the tables' checks are ranked, so that a file with mistakes in
//! several tables is told about the same one first whichever table is validated first. It
//! deliberately does not decide what is a mistake (each table's own file does) nor where an
//! overridden value sits (`overrides.rs` maps `--set` text back to the file).

use std::fmt;
use std::ops::Range;

/// A mistake in a scenario file, located for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    /// 1-based; 0 when the mistake has no single place (e.g. a missing table).
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
    /// The offending line and a caret under the mistake, ready to print.
    pub snippet: String,
}

impl ScenarioError {
    /// Locates `span` (byte offsets into `source`) and builds the message.
    pub(crate) fn at(
        file: &str,
        source: &str,
        span: Option<Range<usize>>,
        message: String,
    ) -> Self {
        Self::at_in(file, source, &LineStarts::new(source), span, message)
    }

    /// Like [`ScenarioError::at`], with `source`'s lines already found: a parse that locates
    /// many spans (the run budget places every table's keys) finds them once.
    pub(crate) fn at_in(
        file: &str,
        source: &str,
        lines: &LineStarts,
        span: Option<Range<usize>>,
        message: String,
    ) -> Self {
        let Some(span) = span else {
            return Self {
                file: file.to_string(),
                line: 0,
                column: 0,
                message,
                snippet: String::new(),
            };
        };
        let start = floor_char_boundary(source, span.start.min(source.len()));
        let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = source[start..]
            .find('\n')
            .map_or(source.len(), |i| start + i);
        let line_no = lines.line_of(start);
        let text = source[line_start..line_end].trim_end_matches('\r');
        let column = source[line_start..start].chars().count() + 1;
        let end = floor_char_boundary(source, span.end.clamp(start, line_end));
        let width = source[start..end].chars().count().max(1);
        let gutter = " ".repeat(line_no.to_string().len());
        let snippet = format!(
            "{gutter} |\n{line_no} | {text}\n{gutter} | {}{}",
            " ".repeat(column - 1),
            "^".repeat(width)
        );
        Self {
            file: file.to_string(),
            line: line_no,
            column,
            message,
            snippet,
        }
    }
}

/// Where each line of a source starts, so that locating a span costs a binary search rather
/// than a count of the newlines before it (an imported page of 10,000 resources places 20,000
/// keys, which counted one by one took 22 s).
#[derive(Debug, Clone)]
pub(crate) struct LineStarts(Vec<usize>);

impl LineStarts {
    pub(crate) fn new(source: &str) -> Self {
        Self(
            std::iter::once(0)
                .chain(source.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
        )
    }

    /// The 1-based line of byte offset `at`.
    fn line_of(&self, at: usize) -> usize {
        self.0.partition_point(|&start| start <= at)
    }
}

/// Keys nested this deep stop the TOML reader (`toml`'s `LIMIT` of 80 levels), which then
/// reports "recursion limit" without a place.
pub(crate) const TOML_NESTING_LIMIT: usize = 80;

/// The first key in `source` (a table header's or a key/value line's) of at least
/// [`TOML_NESTING_LIMIT`] dotted parts: its span and its number of parts. Dots inside quotes
/// do not count.
pub(crate) fn deep_key(source: &str) -> Option<(Range<usize>, usize)> {
    let mut offset = 0;
    for line in source.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let start = offset + (line.len() - trimmed.len());
        offset += line.len();
        let key = match trimmed.strip_prefix('[') {
            Some(header) => header.trim_start_matches('[').split(']').next(),
            None => trimmed.split('=').next(),
        }
        .unwrap_or_default();
        let (mut parts, mut quote) = (1, None);
        for c in key.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (None, '"' | '\'') => quote = Some(c),
                (None, '.') => parts += 1,
                _ => {}
            }
        }
        if parts >= TOML_NESTING_LIMIT && !trimmed.starts_with('#') {
            let skipped = trimmed.len() - trimmed.trim_start_matches('[').len();
            let from = start + skipped;
            return Some((from..from + key.trim_end().len(), parts));
        }
    }
    None
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}\n{}",
                self.file, self.line, self.column, self.message, self.snippet
            )
        }
    }
}

impl std::error::Error for ScenarioError {}

/// A group of checks of one table, ranked: when `[client]`, `[server]` and `[network]` all hold
/// mistakes, the one reported is the first in this order. It is the order the checks have
/// always run in (from when one function validated the whole file), kept so that the error a
/// file with several mistakes gets does not depend on which table is validated first. Within a
/// table, checks run in the order its own file writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Stage {
    /// `[client]` `profile`, `max_connections_per_host`, `tls_version`, `resumption`,
    /// `pipeline_connections`, `pipeline_depth`.
    ClientConnections,
    /// `[server] pipelining`.
    ServerPipelining,
    /// `[client]` `h2_stream_window`, `h2_connection_window`.
    ClientH2Windows,
    /// `[server] h2_stream_window`.
    ServerH2Window,
    /// `[client] cookie`.
    ClientCookie,
    /// `[server]` `max_concurrent_streams`, `max_frame_size`.
    ServerH2Settings,
    /// The `[network]` table.
    Network,
    /// `[server]` `request_timeout`, `keep_alive_timeout`, `max_connections`,
    /// `max_requests_per_connection`.
    ServerConnections,
}

/// A table's first mistake, with the stage of the check that found it.
#[derive(Debug)]
pub(crate) struct Staged {
    pub(crate) stage: Stage,
    pub(crate) error: ScenarioError,
}

impl Stage {
    /// Tags an error of this stage: `check().map_err(Stage::Network.tag())`.
    pub(crate) fn tag(self) -> impl Fn(ScenarioError) -> Staged {
        move |error| Staged { stage: self, error }
    }
}

/// The three tables' results, or the mistake of the earliest stage among those that failed.
pub(crate) fn first_mistake<A, B, C>(
    a: Result<A, Staged>,
    b: Result<B, Staged>,
    c: Result<C, Staged>,
) -> Result<(A, B, C), ScenarioError> {
    match (a, b, c) {
        (Ok(a), Ok(b), Ok(c)) => Ok((a, b, c)),
        (a, b, c) => {
            let earliest = [a.err(), b.err(), c.err()]
                .into_iter()
                .flatten()
                .min_by_key(|s| s.stage);
            Err(earliest.expect("one of the tables failed").error)
        }
    }
}
