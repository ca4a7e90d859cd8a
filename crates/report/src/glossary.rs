//! The glossary: every term the reports use, defined once, in the order a request meets them.
//! `report.md` and `report.html` both lay out [`TERMS`] and [`SIGNIFICANCE`]; neither defines
//! a term of its own.

/// One defined term.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Term {
    /// The waterfall's colour class for this term, where it has one (HTML draws a swatch).
    pub swatch: Option<&'static str>,
    pub term: &'static str,
    pub definition: &'static str,
}

const fn term(swatch: Option<&'static str>, term: &'static str, definition: &'static str) -> Term {
    Term {
        swatch,
        term,
        definition,
    }
}

/// Every term, in the order a request meets them.
pub(crate) const TERMS: &[Term] = &[
    term(
        None,
        "Page load time",
        "the workload's first request issued → the last response byte received.",
    ),
    term(
        Some("blocked"),
        "blocked",
        "the request was issued → a connection (or HTTP/2 stream slot) was free for it.",
    ),
    term(
        Some("connect"),
        "connect",
        "the TCP handshake on a new connection; none (\"–\") on a reused one, and none over \
         HTTP/3, whose QUIC has no TCP (its one handshake is ssl).",
    ),
    term(
        Some("ssl"),
        "ssl",
        "the TLS handshake on a new connection; none (\"–\") on reuse or without TLS (the HAR \
         files also count it inside connect, as HAR requires). Over HTTP/3 it is QUIC's \
         handshake, which carries TLS 1.3 inside it: one round trip for what TCP and TLS take \
         two, and none at all for a 0-RTT connection, whose first requests leave with its first \
         packet (the HAR files give QUIC's handshake as connect too, as HAR requires).",
    ),
    term(
        Some("send"),
        "send",
        "the first request byte written → the last one written.",
    ),
    term(
        Some("wait"),
        "wait (TTFB)",
        "the last request byte written → the first response byte read: the round trip plus the \
         server's time (its queue and think time) and any head-of-line time.",
    ),
    term(
        Some("hol"),
        "hol",
        "head-of-line: the part of wait when the response was ready at the server but queued \
         behind earlier responses on the same connection (pipelining).",
    ),
    term(
        Some("receive"),
        "receive",
        "the first response byte → the last one; grows with size and the congestion window.",
    ),
    term(
        None,
        "total",
        "blocked + connect + ssl + send + wait + receive; the phases are contiguous.",
    ),
    term(
        None,
        "server arrival",
        "when the lab server had parsed the request head, on the same clock as the client.",
    ),
    term(
        Some("srv"),
        "at the server",
        "when the lab server had read the request → when its response was ready (queue and \
         think time), on the same clock as the client.",
    ),
    term(
        None,
        "causes",
        "a request's time split into causes that add up to it: queued for a connection or \
         stream slot; waiting for its connection's own handshakes (a multiplexed request issued \
         while its one connection was being set up); the TCP and TLS handshakes; the upload; \
         server think; HTTP head-of-line (the server's queue and a response's wait for its \
         turn); loss recovery (a dropped segment waiting to be sent again); one round trip; \
         serialization at the link's rates; congestion-window rounds (further round trips the \
         server's data needed: slow start, or after a loss, a window cut by it); and the rest, \
         the endpoints' own time. The page's critical path is split the same way.",
    ),
    term(
        None,
        "Bytes on the wire",
        "TCP payload both ways, TLS records included, TCP/IP headers not.",
    ),
    term(
        None,
        "Header bytes",
        "for HTTP/1.x the request and response heads as text (request or status line, header \
         lines, blank line); for HTTP/2 the HEADERS and CONTINUATION payloads, HPACK-compressed, \
         counted in the frames (padding and priority fields excluded).",
    ),
    term(
        None,
        "Body bytes",
        "request (up) and response (down) bodies, without chunked or DATA framing.",
    ),
];

/// How two configurations' page load times are compared.
pub(crate) const SIGNIFICANCE: &str = "Significance: page load times of two protocols are \
    compared with the Mann–Whitney U test (two-sided, α = 0.05; exact for up to 10 repetitions \
    each without ties), and the ratio of their medians with a bootstrap 95% interval (2,000 \
    resamples, fixed seed, so the same results give the same report). With fewer than 3 \
    repetitions, or too few for any outcome to reach p < 0.05, the difference is not tested.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_term_is_defined_once_as_a_sentence() {
        for (i, t) in TERMS.iter().enumerate() {
            assert!(
                !TERMS[..i].iter().any(|u| u.term == t.term),
                "{} twice",
                t.term
            );
            assert!(t.definition.ends_with('.'), "{}", t.term);
            assert!(!t.definition.contains("  "), "{}", t.term);
        }
        assert!(!SIGNIFICANCE.contains("  "));
    }
}
