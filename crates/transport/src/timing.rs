//! From byte times to a `RequestRecord`: the one place phases are computed.

use crate::meter::ByteTimes;
use crate::ResponseSummary;
use httplab_core::{Phases, RequestRecord, RequestSpec};
use std::time::Duration;

/// What opening a connection cost, as its first request pays it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Setup {
    /// `None` over QUIC, which has no TCP handshake: its one handshake is `tls_handshake`.
    pub tcp_connect: Option<Duration>,
    /// `None` on a cleartext connection.
    pub tls_handshake: Option<Duration>,
}

/// What a protocol client knows about one request, gathered as it goes.
#[derive(Debug, Clone, Default)]
pub struct RequestTiming {
    pub spec: RequestSpec,
    pub url: String,
    pub issued_at: Duration,
    pub connection: Option<u32>,
    /// TCP and TLS setup, when this request opened the connection it went out on.
    pub new_connection: Option<Setup>,
    pub request_headers: Vec<(String, String)>,
    pub request_body_bytes: u64,
    /// Times the request was sent again on a new connection.
    pub retries: u32,
}

impl RequestTiming {
    pub fn new(spec: RequestSpec, url: String, issued_at: Duration) -> Self {
        Self {
            spec,
            url,
            issued_at,
            connection: None,
            new_connection: None,
            request_headers: Vec::new(),
            request_body_bytes: 0,
            retries: 0,
        }
    }

    /// The record of a completed exchange, phases taken from the exchange's byte times.
    ///
    /// Phases are contiguous from `issued_at` to the last response byte; `blocked` absorbs the
    /// client's own overhead between holding a connection and writing its first byte.
    pub fn finish(self, bytes: ByteTimes, response: ResponseSummary) -> RequestRecord {
        let (connect, ssl) = match self.new_connection {
            Some(setup) => (setup.tcp_connect, setup.tls_handshake),
            None => (None, None),
        };
        let setup = connect.unwrap_or_default() + ssl.unwrap_or_default();
        let first_write = bytes.first_write.unwrap_or(self.issued_at + setup);
        let last_write = bytes.last_write.unwrap_or(first_write).max(first_write);
        let first_read = bytes.first_read.unwrap_or(last_write).max(last_write);
        let last_read = bytes.last_read.unwrap_or(first_read).max(first_read);
        let phases = Phases {
            blocked: first_write.saturating_sub(self.issued_at + setup),
            connect,
            ssl,
            send: last_write - first_write,
            wait: first_read - last_write,
            receive: last_read - first_read,
            // Head-of-line time is the server's to know; the harness joins it from its log.
            hol: None,
        };
        let request_header_bytes = bytes.bytes_written.saturating_sub(self.request_body_bytes);
        let response_header_bytes = bytes.bytes_read.saturating_sub(response.body_bytes);
        self.record(
            phases,
            response,
            request_header_bytes,
            response_header_bytes,
        )
    }

    /// The record of a request that failed at `failed_at` after (some of) it was written, e.g.
    /// a connection closed or a stream reset with no response: its phases come from the byte
    /// times measured so far, and the time until the failure is `wait` (no response byte had
    /// arrived) or `receive` (a partial response). Nothing written yet: as `fail`.
    pub fn fail_after(self, bytes: ByteTimes, failed_at: Duration, error: String) -> RequestRecord {
        if bytes.first_write.is_none() {
            return self.fail(failed_at, error);
        }
        let bytes = ByteTimes {
            first_read: Some(bytes.first_read.unwrap_or(failed_at)),
            last_read: Some(failed_at.max(bytes.last_read.unwrap_or(failed_at))),
            ..bytes
        };
        let response = ResponseSummary {
            error: Some(error),
            ..ResponseSummary::default()
        };
        self.finish(bytes, response)
    }

    /// The record of a request that failed at `failed_at` before any of it was written, with
    /// whatever was measured before (the whole time is `blocked`, after connect and ssl).
    pub fn fail(self, failed_at: Duration, error: String) -> RequestRecord {
        let (connect, ssl) = match self.new_connection {
            Some(setup) => (setup.tcp_connect, setup.tls_handshake),
            None => (None, None),
        };
        let setup = connect.unwrap_or_default() + ssl.unwrap_or_default();
        let phases = Phases {
            blocked: failed_at.saturating_sub(self.issued_at + setup),
            connect,
            ssl,
            ..Phases::default()
        };
        let response = ResponseSummary {
            error: Some(error),
            ..ResponseSummary::default()
        };
        self.record(phases, response, 0, 0)
    }

    fn record(
        self,
        phases: Phases,
        response: ResponseSummary,
        request_header_bytes: u64,
        response_header_bytes: u64,
    ) -> RequestRecord {
        RequestRecord {
            id: self.spec.id,
            method: self.spec.method,
            url: self.url,
            path: self.spec.path,
            connection: self.connection,
            issued_at: self.issued_at,
            phases,
            status: response.status,
            http_version: response.http_version,
            request_headers: self.request_headers,
            response_headers: response.headers,
            request_header_bytes,
            request_body_bytes: self.request_body_bytes,
            response_header_bytes,
            response_body_bytes: response.body_bytes,
            error: response.error,
            retries: self.retries,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn r_spec() -> RequestSpec {
        RequestSpec {
            id: 1,
            method: "POST".into(),
            path: "/a".into(),
            body_bytes: 1_000,
            headers: Vec::new(),
            origin: 0,
            authority: None,
            head_bytes: None,
            anonymous: false,
        }
    }

    #[test]
    fn phases_from_byte_times() {
        let spec = RequestSpec {
            id: 7,
            method: "GET".into(),
            path: "/a".into(),
            body_bytes: 0,
            headers: Vec::new(),
            origin: 0,
            authority: None,
            head_bytes: None,
            anonymous: false,
        };
        let mut t = RequestTiming::new(spec, "http://x/a".into(), ms(10));
        t.new_connection = Some(Setup {
            tcp_connect: Some(ms(1)),
            tls_handshake: Some(ms(2)),
        });
        let bytes = ByteTimes {
            bytes_written: 100,
            bytes_read: 1_200,
            first_write: Some(ms(20)),
            last_write: Some(ms(21)),
            first_read: Some(ms(31)),
            last_read: Some(ms(35)),
        };
        let resp = ResponseSummary {
            status: 200,
            body_bytes: 1_000,
            ..Default::default()
        };
        let r = t.finish(bytes, resp);
        assert_eq!(r.phases.blocked, ms(7));
        assert_eq!(
            (r.phases.send, r.phases.wait, r.phases.receive),
            (ms(1), ms(10), ms(4))
        );
        assert_eq!(r.ended_at(), ms(35));

        // Sent, then the connection closed without a response at 530 ms: waiting, not blocked.
        let mut t = RequestTiming::new(r_spec(), "http://x/a".into(), ms(10));
        t.request_body_bytes = 1_000;
        let sent = ByteTimes {
            bytes_written: 1_100,
            first_write: Some(ms(11)),
            last_write: Some(ms(12)),
            ..ByteTimes::default()
        };
        let failed = t.fail_after(sent, ms(530), "closed".into());
        assert_eq!(
            (
                failed.phases.blocked,
                failed.phases.send,
                failed.phases.wait
            ),
            (ms(1), ms(1), ms(518))
        );
        assert_eq!(
            (failed.status, failed.error.as_deref()),
            (0, Some("closed"))
        );
        assert_eq!(failed.request_header_bytes, 100);
        assert_eq!(failed.ended_at(), ms(530));
        // Nothing written: all blocked.
        let t = RequestTiming::new(r_spec(), "http://x/a".into(), ms(10));
        let never = t.fail_after(ByteTimes::default(), ms(30), "refused".into());
        assert_eq!((never.phases.blocked, never.phases.wait), (ms(20), ms(0)));
        assert_eq!(
            (r.request_header_bytes, r.response_header_bytes),
            (100, 200)
        );
    }
}
