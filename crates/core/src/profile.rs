//! Client profiles: the number of connections a browser (or a standard) keeps to one host,
//! chosen in a scenario by name (`[client] profile = "ie7"`) instead of by number.
//!
//! Each profile carries the one-line source of its number, which `httplab profiles` prints. The
//! table is only about connections per host (what decides how HTTP/1.x queues a page's
//! requests); it deliberately does not model anything else a browser does (pipelining, HTTP/2
//! windows, priorities). `max_connections_per_host` in the scenario overrides a profile.

/// What `unlimited` means: more connections than any page in the lab has requests at once.
/// A real operating system would run out of ports or file descriptors somewhere above this.
pub const UNLIMITED_CONNECTIONS: u32 = 1_000;

/// One named client profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Profile {
    /// The name scenario files use, e.g. `"ie7"`.
    pub name: &'static str,
    /// Connections the client keeps to one host at most.
    pub max_connections_per_host: u32,
    /// Where the number comes from, in one line.
    pub source: &'static str,
}

/// Every profile, oldest browsers first.
pub const PROFILES: [Profile; 10] = [
    Profile {
        name: "ie7",
        max_connections_per_host: 2,
        source: "Internet Explorer 7 kept RFC 2616's 2 per server (MSDN, \"Connectivity Enhancements in Internet Explorer 8\"; KB 183110)",
    },
    Profile {
        name: "ie8",
        max_connections_per_host: 6,
        source: "MSDN, \"Connectivity Enhancements in Internet Explorer 8\": 6 per host on broadband",
    },
    Profile {
        name: "ie10",
        max_connections_per_host: 8,
        source: "Browserscope network tests, connections per hostname: IE 10 = 8",
    },
    Profile {
        name: "ie11",
        max_connections_per_host: 13,
        source: "Browserscope network tests, connections per hostname: IE 11 = 13",
    },
    Profile {
        name: "chrome",
        max_connections_per_host: 6,
        source: "Chromium net/socket/client_socket_pool_manager.cc: kMaxSocketsPerGroup = 6",
    },
    Profile {
        name: "firefox",
        max_connections_per_host: 6,
        source: "Firefox about:config network.http.max-persistent-connections-per-server = 6",
    },
    Profile {
        name: "safari",
        max_connections_per_host: 6,
        source: "Browserscope network tests, connections per hostname: Safari = 6 (WebKit's default)",
    },
    Profile {
        name: "opera",
        max_connections_per_host: 6,
        source: "Browserscope network tests, connections per hostname: Opera = 6 (Chromium-based since Opera 15)",
    },
    Profile {
        name: "rfc2616",
        max_connections_per_host: 2,
        source: "RFC 2616 §8.1.4: a single-user client SHOULD NOT maintain more than 2 connections with any server (dropped by RFC 7230 §6.4)",
    },
    Profile {
        name: "unlimited",
        max_connections_per_host: UNLIMITED_CONNECTIONS,
        source: "no per-host cap; the lab stops at 1000 connections",
    },
];

/// The profile called `name` (case-insensitive).
pub fn find(name: &str) -> Option<&'static Profile> {
    PROFILES
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name.trim()))
}

/// Every profile's name, comma-separated, for error messages.
pub fn names() -> String {
    PROFILES
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_numbers_the_issue_names() {
        let cap = |name: &str| find(name).map(|p| p.max_connections_per_host);
        assert_eq!(cap("ie7"), Some(2));
        assert_eq!(cap("IE8"), Some(6));
        assert_eq!(cap("ie10"), Some(8));
        assert_eq!(cap("ie11"), Some(13));
        for browser in ["chrome", "firefox", "safari", "opera"] {
            assert_eq!(cap(browser), Some(6), "{browser}");
        }
        assert_eq!(cap("rfc2616"), Some(2));
        assert_eq!(cap("unlimited"), Some(UNLIMITED_CONNECTIONS));
        assert_eq!(cap("netscape"), None);
        assert!(names().starts_with("ie7, ie8"));
        assert!(PROFILES.iter().all(|p| !p.source.is_empty()));
    }
}
