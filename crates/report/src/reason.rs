//! Canonical reason phrases (RFC 9110 and the IANA status registry) for HAR's `statusText`.
//! HTTP/2 carries no reason phrase and HTTP/1.x servers may send any text, so the HAR writer
//! uses the registered phrase rather than the one on the wire; this module knows nothing else.

/// The registered reason phrase of `status`, or "" for an unregistered code (and 0, no response).
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_phrases() {
        assert_eq!(reason_phrase(200), "OK");
        assert_eq!(reason_phrase(404), "Not Found");
        assert_eq!(reason_phrase(503), "Service Unavailable");
        assert_eq!(reason_phrase(599), "");
        assert_eq!(reason_phrase(0), "");
    }
}
