//! The one-line summary of a scenario file, for listings (`httplab scenarios`).
//!
//! It owns reading that line from the file's opening comment block. It deliberately parses no
//! TOML: a file with a mistake still has a summary.

/// The summary of a scenario file: the first line of its opening comment block, without the
/// `#` and without a leading "name — ", e.g. "one page: an HTML document and twelve images".
pub fn comment_summary(source: &str) -> Option<String> {
    let first = source.lines().map(str::trim).find(|l| !l.is_empty())?;
    let text = first.strip_prefix('#')?.trim();
    let text = text
        .split_once(" — ")
        .or_else(|| text.split_once(" - "))
        .map_or(text, |(_, rest)| rest)
        .trim();
    (!text.is_empty()).then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_come_from_the_comment_block() {
        assert_eq!(
            comment_summary(
                "\n# quickstart — one page of 13 resources.\n#\n# more\nname = \"q\"\n"
            )
            .as_deref(),
            Some("one page of 13 resources.")
        );
        assert_eq!(
            comment_summary("# just words\n").as_deref(),
            Some("just words")
        );
        assert_eq!(comment_summary("name = \"q\"\n"), None);
    }
}
