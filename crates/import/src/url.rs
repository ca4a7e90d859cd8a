//! A HAR entry's URL as the import needs it: its scheme, its origin (scheme, host, port) and its
//! path and query, and the scenario path made of them.
//!
//! It owns the one reversible rule that turns a URL's path and query into a scenario `path`
//! (which holds no spaces, `?` or `#`, and which the lab's clients must send as a request
//! target): every character but RFC 3986's unreserved ones, its sub-delims, `:`, `@` and `/` is
//! percent-encoded once more as the `%XX` of its UTF-8 bytes, `%` itself (as `%25`) and `?` (as
//! `%3F`) included, and the fragment (never sent to a server) is dropped. Decoding the path once
//! gives the URL's path and query back. A URL
//! requested again gets `%23N` appended (its Nth request; no encoded path holds `%23` of its own,
//! since every `%` of the URL became `%25`). It deliberately resolves nothing relative and
//! normalises nothing else: the server serves exactly the path written.

/// A URL, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Url {
    /// http, https, ws or wss: something with an origin.
    Web {
        /// Lower case.
        scheme: String,
        /// Lower case; an IPv6 address keeps its brackets.
        host: String,
        port: u16,
        /// Starts with '/', fragment dropped.
        path_and_query: String,
    },
    /// Any other scheme (`data`, `blob`, `chrome-extension`, …), lower case.
    Other { scheme: String },
}

impl Url {
    /// Splits `url`, or says why it cannot.
    pub(crate) fn parse(url: &str) -> Result<Url, String> {
        let bad = |why: &str| format!("`request.url` \"{}\" {why}", shorten(url));
        let (scheme, rest) = url
            .split_once(':')
            .filter(|(s, _)| {
                s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
            })
            .ok_or_else(|| bad("has no scheme"))?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" | "ws" => 80,
            "https" | "wss" => 443,
            _ => return Ok(Url::Other { scheme }),
        };
        let rest = rest
            .strip_prefix("//")
            .ok_or_else(|| bad("has no `//` after its scheme"))?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
        let (host, port) = match authority.rfind(':') {
            Some(colon) if !authority[colon..].contains(']') => {
                let port = &authority[colon + 1..];
                let port = if port.is_empty() {
                    default_port
                } else {
                    port.parse::<u16>()
                        .map_err(|_| bad(&format!("has a bad port `{port}`")))?
                };
                (&authority[..colon], port)
            }
            _ => (authority, default_port),
        };
        if host.is_empty() {
            return Err(bad("has no host"));
        }
        let tail = tail.split('#').next().unwrap_or_default();
        let path_and_query = if tail.starts_with('/') {
            tail.to_string()
        } else {
            format!("/{tail}")
        };
        Ok(Url::Web {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
            path_and_query,
        })
    }

    /// `scheme://host[:port]`, the port written only when it is not the scheme's default.
    pub(crate) fn origin(&self) -> Option<String> {
        let Url::Web {
            scheme, host, port, ..
        } = self
        else {
            return None;
        };
        let default = matches!(
            (scheme.as_str(), *port),
            ("http" | "ws", 80) | ("https" | "wss", 443)
        );
        Some(if default {
            format!("{scheme}://{host}")
        } else {
            format!("{scheme}://{host}:{port}")
        })
    }
}

/// The scenario path of a URL's path and query (see the module's rule).
pub(crate) fn scenario_path(path_and_query: &str) -> String {
    let mut out = String::with_capacity(path_and_query.len());
    for c in path_and_query.chars() {
        let kept = c.is_ascii_alphanumeric()
            || matches!(
                c,
                '-' | '.'
                    | '_'
                    | '~'
                    | '!'
                    | '$'
                    | '&'
                    | '\''
                    | '('
                    | ')'
                    | '*'
                    | '+'
                    | ','
                    | ';'
                    | '='
                    | ':'
                    | '@'
                    | '/'
            );
        if kept {
            out.push(c);
        } else {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// The path of the `n`th request (n ≥ 2) of a URL whose path is `path`.
pub(crate) fn repeated(path: &str, n: usize) -> String {
    format!("{path}%23{n}")
}

/// A URL cut to 80 characters for messages (data: URLs run to megabytes).
pub(crate) fn shorten(url: &str) -> String {
    match url.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &url[..at]),
        None => url.to_string(),
    }
}
