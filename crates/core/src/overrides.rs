//! Command-line overrides of scenario keys: `httplab run FILE --set network.rtt=100ms`.
//!
//! An override is `KEY=VALUE`, where KEY is a top-level key (`repeat`, `seed`) or `TABLE.KEY`
//! for the `[client]`, `[server]` and `[network]` tables (`[[resource]]` tables cannot be
//! addressed). VALUE is read as a TOML value when it is one (`1`, `true`, `["ie7","chrome"]`,
//! `"quoted"`), else as a string (`100ms`, `ie7`, `2%`).
//!
//! Overrides edit the file's *text* before it is parsed: an existing value is replaced where
//! it is written, a missing key is added under its table's header (or at the top, or in a new
//! table at the end). So the scenario is validated exactly as if the user had edited the file,
//! and a mistake is still reported at its place in the file — or, when the mistake is in the
//! overridden text, as `--set KEY=VALUE: …`. This module owns the editing and that mapping; it
//! does not know what the keys mean (the scenario's validation does).

use crate::scenario::{LineStarts, ScenarioError};
use std::ops::Range;
use toml::de::{DeTable, DeValue};

/// One `--set KEY=VALUE` (or one value of a `--vary`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// `repeat` or `network.rtt`.
    pub key: String,
    /// The value as given on the command line.
    pub value: String,
    /// The argument it came from, which is how errors name it.
    pub origin: OverrideOrigin,
}

/// The command-line argument an override came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverrideOrigin {
    /// `--set KEY=VALUE`.
    #[default]
    Set,
    /// One value of `--vary KEY=V1,V2,...`.
    Vary,
}

impl OverrideOrigin {
    /// The argument's name: `--set`, `--vary`.
    pub fn flag(self) -> &'static str {
        match self {
            OverrideOrigin::Set => "--set",
            OverrideOrigin::Vary => "--vary",
        }
    }
}

/// A `--set` argument that is not `KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--set `{0}`: write KEY=VALUE, e.g. --set network.rtt=100ms or --set client.profile=ie7")]
pub struct OverrideSyntax(pub String);

impl std::str::FromStr for Override {
    type Err = OverrideSyntax;

    fn from_str(arg: &str) -> Result<Self, OverrideSyntax> {
        let bad = || OverrideSyntax(arg.to_string());
        let (key, value) = arg.split_once('=').ok_or_else(bad)?;
        let key = key.trim();
        let parts: Vec<&str> = key.split('.').collect();
        let bare = |p: &str| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if parts.len() > 2 || !parts.iter().all(|p| bare(p)) {
            return Err(bad());
        }
        Ok(Override {
            key: key.to_string(),
            value: value.trim().to_string(),
            origin: OverrideOrigin::Set,
        })
    }
}

impl Override {
    /// How errors name it: `--set network.rtt=100ms`, `--vary network.rtt=20ms`.
    pub fn label(&self) -> String {
        format!("{} {}={}", self.origin.flag(), self.key, self.value)
    }

    /// The value as TOML text: itself if it is a TOML value, else a quoted string.
    fn toml_value(&self) -> String {
        if DeValue::parse(&self.value).is_ok() {
            self.value.clone()
        } else {
            toml::Value::String(self.value.clone()).to_string()
        }
    }
}

/// One change to the text: `old` in the original became `new` in the edited text.
#[derive(Debug, Clone)]
struct Edit {
    old: Range<usize>,
    new: Range<usize>,
    label: String,
}

/// A scenario's text with overrides applied, and how to map places back.
#[derive(Debug, Clone)]
pub(crate) struct Edited {
    pub text: String,
    edits: Vec<Edit>,
    /// The original source's lines, for locating mistakes in it.
    lines: LineStarts,
}

impl Edited {
    /// The error for `span` of the edited text: inside an override, named after it; elsewhere,
    /// located in the original `source`.
    pub(crate) fn locate(
        &self,
        source: &str,
        file: &str,
        span: Option<Range<usize>>,
        message: String,
    ) -> ScenarioError {
        let Some(span) = span else {
            return ScenarioError::at(file, source, None, message);
        };
        let end = span.end.max(span.start + 1);
        if let Some(edit) = self
            .edits
            .iter()
            .find(|e| span.start < e.new.end && e.new.start < end)
        {
            return ScenarioError::at(file, source, None, format!("{}: {message}", edit.label));
        }
        let back = |at: usize| -> usize {
            let mut shift: isize = 0;
            for e in self.edits.iter().filter(|e| e.new.end <= at) {
                shift += e.new.len() as isize - e.old.len() as isize;
            }
            (at as isize - shift).max(0) as usize
        };
        ScenarioError::at_in(
            file,
            source,
            &self.lines,
            Some(back(span.start)..back(span.end)),
            message,
        )
    }
}

/// Applies `overrides` (a later one of the same key wins) to `source`.
pub(crate) fn apply(
    source: &str,
    file: &str,
    overrides: &[Override],
) -> Result<Edited, ScenarioError> {
    let root = DeTable::parse(source)
        .map_err(|e| ScenarioError::at(file, source, e.span(), e.message().to_string()))?;
    let fail = |o: &Override, message: String| {
        ScenarioError::at(file, source, None, format!("{}: {message}", o.label()))
    };
    // (where in the original, the text to put there, the override)
    let mut changes: Vec<(Range<usize>, String, &Override)> = Vec::new();
    // Tables created at the end of the file, in order, with their keys.
    let mut new_tables: Vec<(String, Vec<&Override>)> = Vec::new();
    for (n, o) in overrides.iter().enumerate() {
        if overrides[n + 1..].iter().any(|later| later.key == o.key) {
            continue;
        }
        let line = format!("{} = {}", o.key, o.toml_value());
        let (table, key) = match o.key.split_once('.') {
            None => (None, o.key.as_str()),
            Some((table, key)) => (Some(table), key),
        };
        match table {
            None => {
                match entry(root.get_ref(), key) {
                    Some((DeValue::Table(_), _)) => {
                        return Err(fail(
                            o,
                            format!(
                            "`{key}` is a table: set one of its keys, e.g. --set network.rtt=100ms"
                        ),
                        ))
                    }
                    Some((DeValue::Array(_), _)) if key == "resource" => return Err(fail(
                        o,
                        "[[resource]] tables cannot be set from the command line: edit the file"
                            .into(),
                    )),
                    Some((_, span)) => changes.push((span, o.toml_value(), o)),
                    None => changes.push((0..0, format!("{line}\n"), o)),
                }
            }
            Some(table) => match entry(root.get_ref(), table) {
                Some((DeValue::Table(t), _)) => match entry(&t, key) {
                    Some((_, span)) => changes.push((span, o.toml_value(), o)),
                    None => {
                        let Some((at, newline)) = after_header(source, table) else {
                            return Err(fail(
                                o,
                                format!("[{table}] is written inline or with dotted keys, so `{key}` cannot be added to it: edit the file"),
                            ));
                        };
                        let lead = if newline { "" } else { "\n" };
                        changes.push((at..at, format!("{lead}{}\n", line_in_table(o)), o));
                    }
                },
                Some((DeValue::Array(_), _)) => {
                    return Err(fail(
                        o,
                        format!(
                            "[[{table}]] tables cannot be set from the command line: edit the file"
                        ),
                    ))
                }
                Some(_) => return Err(fail(o, format!("`{table}` is not a table in this file"))),
                None => match new_tables.iter_mut().find(|(t, _)| t == table) {
                    Some((_, keys)) => keys.push(o),
                    None => new_tables.push((table.to_string(), vec![o])),
                },
            },
        }
    }
    changes.sort_by_key(|(at, _, _)| (at.start, at.end));

    let mut text = String::with_capacity(source.len() + 256);
    let mut edits = Vec::new();
    let mut copied = 0;
    for (old, insert, o) in changes {
        text.push_str(&source[copied..old.start]);
        let start = text.len();
        text.push_str(&insert);
        edits.push(Edit {
            old: old.clone(),
            new: start..text.len(),
            label: o.label(),
        });
        copied = old.end;
    }
    text.push_str(&source[copied..]);
    for (table, keys) in new_tables {
        let old = source.len()..source.len();
        let start = text.len();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("[{table}]\n"));
        for o in &keys {
            let line_start = text.len();
            text.push_str(&line_in_table(o));
            text.push('\n');
            edits.push(Edit {
                old: old.clone(),
                new: line_start..text.len(),
                label: o.label(),
            });
        }
        // The header itself belongs to the first key's override.
        if let Some(first) = edits.iter_mut().rev().nth(keys.len() - 1) {
            first.new.start = start;
        }
    }
    Ok(Edited {
        text,
        edits,
        lines: LineStarts::new(source),
    })
}

/// The value of `key` in `table`, with where it is written.
fn entry<'i>(table: &DeTable<'i>, key: &str) -> Option<(DeValue<'i>, Range<usize>)> {
    table
        .iter()
        .find(|(name, _)| name.get_ref() == key)
        .map(|(_, v)| (v.get_ref().clone(), v.span()))
}

/// `KEY = VALUE` for the last part of the key.
fn line_in_table(o: &Override) -> String {
    let key = o.key.rsplit('.').next().unwrap_or(&o.key);
    format!("{key} = {}", o.toml_value())
}

/// The offset just after the line holding the `[table]` header, if the file has one, and
/// whether that line ends with a newline.
fn after_header(source: &str, table: &str) -> Option<(usize, bool)> {
    let mut offset = 0;
    for line in source.split_inclusive('\n') {
        let code = line.split('#').next().unwrap_or("").trim();
        if let Some(name) = code.strip_prefix('[').and_then(|c| c.strip_suffix(']')) {
            if !name.starts_with('[') && name.trim() == table {
                return Some((offset + line.len(), line.ends_with('\n')));
            }
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scenario;
    use std::time::Duration;

    const FILE: &str = "# a comment\nname = \"s\"\n\n[client]\ntls = true\n\n[network]\nrtt = \"40ms\" # the RTT\n\n[[resource]]\npath = \"/a\"\nsize = \"1kb\"\n";

    fn set(args: &[&str]) -> Vec<Override> {
        args.iter().map(|a| a.parse().unwrap()).collect()
    }

    fn parse(args: &[&str]) -> Result<Scenario, ScenarioError> {
        Scenario::parse_with_overrides(FILE, "s.toml", &set(args))
    }

    #[test]
    fn replaces_adds_and_creates() {
        let s = parse(&[
            "network.rtt=100ms",
            "repeat=1",
            "client.profile=ie7",
            "server.think=exp(5ms)",
            "client.tls=false",
            "seed=7",
        ])
        .unwrap();
        let network = s.network.as_ref().unwrap();
        assert_eq!(network.rtt, Duration::from_millis(100));
        assert_eq!(s.repeat, 1);
        assert_eq!(s.client.max_connections_per_host, 2);
        assert!(!s.client.tls);
        assert_eq!(s.server.think, Duration::from_millis(5));
        assert_eq!(s.seed, 7);
        // A later override of the same key wins; TOML values are taken as such.
        let s = parse(&["repeat=2", "repeat=4", "client.profile=[\"ie7\",\"ie11\"]"]).unwrap();
        assert_eq!(s.repeat, 4);
        assert_eq!(s.variants.len(), 2);
    }

    #[test]
    fn mistakes_name_the_override_or_keep_their_place_in_the_file() {
        let e = parse(&["network.rtt=fast"]).unwrap_err();
        assert_eq!(e.line, 0, "{e}");
        assert!(
            e.to_string()
                .starts_with("s.toml: --set network.rtt=fast: "),
            "{e}"
        );
        assert!(e.message.contains("not a duration"), "{e}");
        let e = parse(&["client.profile=netscape"]).unwrap_err();
        assert!(
            e.message
                .starts_with("--set client.profile=netscape: unknown profile"),
            "{e}"
        );
        let e = parse(&["client.conections=3"]).unwrap_err();
        assert!(e.message.contains("unknown field"), "{e}");
        assert!(parse(&["resource.size=1kb"])
            .unwrap_err()
            .message
            .contains("[[resource]]"));
        assert!(parse(&["network=1"])
            .unwrap_err()
            .message
            .contains("is a table"));
        // A mistake elsewhere in the file keeps its line and column despite the edits above it.
        let broken = FILE.replace("size = \"1kb\"", "size = \"1 parsec\"");
        let e = Scenario::parse_with_overrides(
            &broken,
            "s.toml",
            &set(&["seed=3", "client.profile=ie7", "network.rtt=100ms"]),
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (12, 8), "{e}");
        assert!(e.snippet.contains("1 parsec"), "{e}");
        assert!("novalue".parse::<Override>().is_err());
        assert!("a.b.c=1".parse::<Override>().is_err());
    }
}
