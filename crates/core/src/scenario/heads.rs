//! Request heads against what the lab's clients and servers accept: a path or a cookie the run
//! could not send (or the server would refuse with 414 or 431) is refused when the scenario is
//! read, at the `path` or `cookie` that makes it too long, with the limit it crosses.
//!
//! It owns the three limits (measured on the lab, release build, loopback, one resource of 1 kB
//! with a path of growing length, `httplab run --protocols P`):
//! - [`MAX_URI`]: HTTP/1.x clients send the path as the request's URI, and the `http` crate
//!   builds none longer than 65,534 bytes (`u16::MAX - 1`; 65,535 fails with "could not build
//!   the request: uri too long"); hyper's HTTP/1 server has the same limit (`MAX_URI_LEN`).
//! - [`PIPELINING_MAX_HEAD`]: with `[server] pipelining`, HTTP/1.x requests are read by the
//!   lab's own pipelining loop, whose head limit is `httplab_server::MAX_HEAD` (64 KiB; above
//!   it the server answers 431: a 65,000-byte path passed, 65,534 did not).
//! - [`H2_MAX_HEADER_LIST`]: hyper's HTTP/2 server advertises SETTINGS_MAX_HEADER_LIST_SIZE
//!   16 KiB (its default, which the lab keeps), counted as RFC 9113 §6.5.2 counts it: name,
//!   value and 32 bytes per field. A 16,058-byte path passed over h2c and 16,057 over h2, one
//!   more byte got 431: the fields every request carries took 326 (h2c) and 327 bytes.
//!
//! What every request carries besides its path and cookie (request line, `host`,
//! `user-agent`, `accept`, `x-httplab-request`, `connection`, `content-length`) is an
//! allowance per protocol family, above the measured figure by enough for a five-digit request
//! id, a seven-letter method and a ten-digit `content-length`. It deliberately does not check
//! response heads: the lab server's are a few hundred bytes.

use super::resources::TableSpans;
use super::{Resource, ScenarioError};
use crate::protocol::Protocol;
use std::ops::Range;

/// Longest URI the `http` crate builds and hyper's HTTP/1 server reads: `u16::MAX - 1`.
pub const MAX_URI: usize = 65_534;
/// Longest request head the lab's pipelining server reads (`httplab_server::MAX_HEAD`).
pub const PIPELINING_MAX_HEAD: usize = 64 * 1024;
/// The header list hyper's HTTP/2 server accepts (its SETTINGS_MAX_HEADER_LIST_SIZE).
pub const H2_MAX_HEADER_LIST: usize = 16 * 1024;
/// HTTP/1.x head bytes beside the path and cookie: measured 121 for a GET with a one-digit
/// request id (`GET  HTTP/1.0`, `host`, `user-agent`, `accept`, `x-httplab-request`,
/// `connection: close`, the blank line); 256 leaves room for the longest method, id and
/// `content-length`.
const H1_ALLOWANCE: usize = 256;
/// HTTP/2 header-list bytes beside the path and cookie: measured 326 (h2c) and 327 (h2) with
/// each field's 32; 512 leaves room as for HTTP/1.x.
const H2_ALLOWANCE: usize = 512;

/// The longest path (in bytes) a request of this scenario may have: under every limit that
/// applies to `protocols`, with a cookie of `cookie` bytes.
pub fn longest_path(protocols: &[Protocol], pipelining: bool, cookie: u64) -> usize {
    limits(protocols, pipelining)
        .iter()
        .map(|l| l.max.saturating_sub(l.fixed(cookie)))
        .min()
        .unwrap_or(MAX_URI)
}

/// One limit a request head must keep under.
struct Limit {
    max: usize,
    /// The head bytes every request carries under this limit, beside path and cookie.
    allowance: usize,
    /// A cookie's bytes beside its value (`cookie: ` and CRLF; HTTP/2: the name and 32);
    /// `None`: the cookie is not part of what this limit measures.
    cookie_overhead: Option<usize>,
    /// What to say about it: the limit and whose it is.
    words: &'static str,
}

impl Limit {
    fn fixed(&self, cookie: u64) -> usize {
        let cookie = match (
            usize::try_from(cookie).unwrap_or(usize::MAX),
            self.cookie_overhead,
        ) {
            (0, _) | (_, None) => 0,
            (n, Some(overhead)) => n.saturating_add(overhead),
        };
        self.allowance.saturating_add(cookie)
    }
}

fn limits(protocols: &[Protocol], pipelining: bool) -> Vec<Limit> {
    let http1 = protocols.iter().any(|p| {
        matches!(
            p,
            Protocol::Http10 | Protocol::Http11 | Protocol::Http11Pipelined
        )
    });
    let h2 = protocols
        .iter()
        .any(|p| matches!(p, Protocol::H2 | Protocol::H2c | Protocol::H3));
    let mut out = Vec::new();
    if http1 {
        out.push(Limit {
            max: MAX_URI,
            allowance: 0,
            cookie_overhead: None,
            words: "an HTTP/1.x request's URI holds at most 65534 bytes (the `http` crate's \
                    limit and hyper's server's)",
        });
    }
    if http1 && pipelining {
        out.push(Limit {
            max: PIPELINING_MAX_HEAD,
            allowance: H1_ALLOWANCE,
            cookie_overhead: Some("cookie: \r\n".len()),
            words: "with `[server] pipelining` the lab's pipelining server reads request heads \
                    of at most 65536 bytes (64 KiB) and answers 431 to longer ones",
        });
    }
    if h2 {
        out.push(Limit {
            max: H2_MAX_HEADER_LIST,
            allowance: H2_ALLOWANCE,
            cookie_overhead: Some("cookie".len() + 32),
            words: "the lab's HTTP/2 and HTTP/3 servers accept header lists of at most 16384 \
                    bytes (16 KiB, hyper's SETTINGS_MAX_HEADER_LIST_SIZE and the HTTP/3 \
                    server's SETTINGS_MAX_FIELD_SECTION_SIZE, each field counted with 32 bytes \
                    more, RFC 9113 §6.5.2, RFC 9114 §4.2.2) and answer 431 to longer ones; \
                    leave h2, h2c and h3 out of `protocols` to test longer heads over HTTP/1.x",
        });
    }
    out
}

/// Checks the cookie, then every request's path, against each limit that applies.
pub(crate) fn check(
    protocols: &[Protocol],
    pipelining: bool,
    cookie: u64,
    resources: &[Resource],
    cookie_span: Option<Range<usize>>,
    tables: &[TableSpans],
    err: &dyn Fn(Range<usize>, String) -> ScenarioError,
) -> Result<(), ScenarioError> {
    for limit in limits(protocols, pipelining) {
        let fixed = limit.fixed(cookie);
        if let Some(span) = cookie_span.clone().filter(|_| fixed + 1 > limit.max) {
            return Err(err(
                span,
                format!(
                    "a `cookie` of {cookie} bytes leaves no room for a request's path: {}",
                    limit.words
                ),
            ));
        }
        for table in tables {
            let longest = resources[table.resources.clone()]
                .iter()
                .map(|r| r.path.len())
                .max()
                .unwrap_or(0);
            if longest + fixed > limit.max {
                let room = limit.max - fixed;
                return Err(err(
                    table.path.clone(),
                    format!(
                        "`path` makes a request path of {longest} bytes, and with the rest of \
                         the request head {} bytes: {}; keep paths to at most {room} bytes here",
                        longest + fixed,
                        limit.words
                    ),
                ));
            }
        }
    }
    Ok(())
}
