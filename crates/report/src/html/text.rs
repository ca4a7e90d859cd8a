//! Text in the HTML report: escaping every string that came from a scenario, a record or the
//! environment, the verdict's little Markdown (`**bold**`, `` `code` ``, paragraphs) turned
//! into HTML, and the number formats the charts' hover text uses. It owns nothing else; the
//! page and the charts call it for every piece of text they write.

use std::time::Duration;

/// `s` safe as HTML text and as a quoted attribute value.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The verdict's Markdown as HTML: each blank-line-separated paragraph a `<p>`, `**x**` as
/// `<strong>`, `` `x` `` as `<code>`. The text is escaped first, so nothing in it can become
/// markup; an unpaired marker is left as written.
pub(super) fn markdown_paragraphs(md: &str) -> String {
    md.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>\n", inline(&esc(p))))
        .collect()
}

fn inline(s: &str) -> String {
    let s = pairs(s, "**", "strong");
    pairs(&s, "`", "code")
}

/// Replaces each `marker … marker` pair with `<tag>…</tag>`.
fn pairs(s: &str, marker: &str, tag: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find(marker) {
        let after = &rest[start + marker.len()..];
        let Some(end) = after.find(marker) else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&format!("<{tag}>{}</{tag}>", &after[..end]));
        rest = &after[end + marker.len()..];
    }
    out.push_str(rest);
    out
}

/// Milliseconds with three decimals, for hover text: `4.103 ms`.
pub(super) fn ms3(d: Duration) -> String {
    let us = (d.as_nanos() + 500) / 1_000;
    format!("{}.{:03} ms", us / 1_000, us % 1_000)
}

/// An optional phase for hover text: its value, or "–" when it did not happen.
pub(super) fn phase(d: Option<Duration>) -> String {
    d.map_or_else(|| "–".to_string(), ms3)
}

/// A path shortened to `max` characters for a chart label (the full one goes in hover text).
pub(super) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("/<script>alert('x')</script>&\"y\""),
            "/&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;y&quot;"
        );
        assert_eq!(esc("/img/1.png"), "/img/1.png");
    }

    #[test]
    fn verdict_markdown_becomes_safe_html() {
        assert_eq!(
            markdown_paragraphs("**h2** won.\n\nSee `error` in <x>.\n\n"),
            "<p><strong>h2</strong> won.</p>\n<p>See <code>error</code> in &lt;x&gt;.</p>\n"
        );
        assert_eq!(
            markdown_paragraphs("a ** b and `c"),
            "<p>a ** b and `c</p>\n"
        );
    }

    #[test]
    fn numbers_and_labels() {
        assert_eq!(ms3(Duration::from_micros(4_103)), "4.103 ms");
        assert_eq!(phase(None), "–");
        assert_eq!(shorten("/img/1.png", 20), "/img/1.png");
        assert_eq!(shorten("/a/very/long/path.png", 8), "/a/very…");
    }
}
