//! Protocol ids, as written in scenario files, on the command line and in every output.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One of the protocols the lab compares (DESIGN.md, "Protocol ids").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Protocol {
    /// A new TCP (and TLS) connection per request, closed after the response.
    #[serde(rename = "http1.0")]
    Http10,
    /// Persistent connections, at most `max_connections_per_host` at once.
    #[serde(rename = "http1.1")]
    Http11,
    /// Requests written back-to-back on one connection, responses in order.
    #[serde(rename = "http1.1-pipelined")]
    Http11Pipelined,
    /// HTTP/2 over TLS (ALPN "h2").
    #[serde(rename = "h2")]
    H2,
    /// HTTP/2 over cleartext TCP with prior knowledge.
    #[serde(rename = "h2c")]
    H2c,
    /// HTTP/3 over QUIC (UDP; TLS 1.3 inside QUIC, ALPN "h3").
    #[serde(rename = "h3")]
    H3,
}

impl Protocol {
    pub const ALL: [Protocol; 6] = [
        Protocol::Http10,
        Protocol::Http11,
        Protocol::Http11Pipelined,
        Protocol::H2,
        Protocol::H2c,
        Protocol::H3,
    ];

    /// The id used in files and outputs.
    pub fn id(self) -> &'static str {
        match self {
            Protocol::Http10 => "http1.0",
            Protocol::Http11 => "http1.1",
            Protocol::Http11Pipelined => "http1.1-pipelined",
            Protocol::H2 => "h2",
            Protocol::H2c => "h2c",
            Protocol::H3 => "h3",
        }
    }

    /// The HTTP version string its responses carry (HAR's `httpVersion`).
    pub fn http_version(self) -> &'static str {
        match self {
            Protocol::Http10 => "HTTP/1.0",
            Protocol::Http11 | Protocol::Http11Pipelined => "HTTP/1.1",
            Protocol::H2 | Protocol::H2c => "HTTP/2",
            Protocol::H3 => "HTTP/3",
        }
    }

    /// Whether it runs over QUIC (UDP) rather than TCP.
    pub fn is_quic(self) -> bool {
        self == Protocol::H3
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A protocol id no protocol has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("unknown protocol `{0}`; known ids: http1.0, http1.1, http1.1-pipelined, h2, h2c, h3")]
    Unknown(String),
}

impl FromStr for Protocol {
    type Err = ProtocolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|p| p.id() == s)
            .ok_or_else(|| ProtocolError::Unknown(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for p in Protocol::ALL {
            assert_eq!(p.id().parse::<Protocol>().unwrap(), p);
        }
        assert!(matches!(
            "http2".parse::<Protocol>(),
            Err(ProtocolError::Unknown(_))
        ));
    }
}
