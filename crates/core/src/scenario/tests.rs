//! Unit tests of scenario parsing: whole files, good and bad, through [`Scenario::parse`].

use super::*;
use crate::think::Think;
use std::time::Duration;

const QUICKSTART: &str = r#"
name = "quickstart"
description = "One page: an HTML document and twelve images"
protocols = ["http1.0", "http1.1"]
repeat = 5
[client]
max_connections_per_host = 6
tls = true
[server]
think = "2ms"
[[resource]]
path = "/index.html"
size = "14kb"
[[resource]]
path = "/img/{i}.png"
count = 12
size = "8kb"
think = "5ms"
"#;

#[test]
fn quickstart_expands() {
    let s = Scenario::parse(QUICKSTART, "q.toml").unwrap();
    assert_eq!(s.resources.len(), 13);
    assert_eq!(s.resources[0].think, Duration::from_millis(2));
    assert_eq!(s.resources[12].path, "/img/12.png");
    assert_eq!(s.resources[12].size, 8_000);
    assert_eq!(s.resources[12].think, Duration::from_millis(5));
    assert_eq!(s.requests()[3].id, 3);
    assert!(s.client.tls);
    assert_eq!(s.repeat, 5);
}

fn error_of(src: &str) -> ScenarioError {
    Scenario::parse(src, "bad.toml").unwrap_err()
}

#[test]
fn mistakes_are_located() {
    // (mistake, line, column, words the message must hold)
    let cases: &[(&str, usize, usize, &str)] = &[
        (
            "name = \"x\"\n[[resource]]\npath = \"/a\"\nsize = 12kb\n",
            4,
            8,
            "quoted",
        ),
        (
            "name = \"x\"\n[client]\nmax_conections = 6\n[[resource]]\npath = \"/a\"\n",
            3,
            1,
            "unknown field",
        ),
        (
            "name = \"x\"\n[[resource]]\npath = \"/a\"\nthink = \"5 parsecs\"\n",
            4,
            9,
            "not a duration",
        ),
        (
            "name = \"x\"\nprotocols = [\"http1.1\", \"http3\"]\n[[resource]]\npath = \"/a\"\n",
            2,
            25,
            "unknown protocol",
        ),
        (
            "name = \"x\"\n[[resource]]\npath = \"/img/{i}.png\"\n",
            3,
            8,
            "count",
        ),
        (
            "name = \"x\"\n[client]\nmax_connections_per_host = 0\n[[resource]]\npath = \"/a\"\n",
            3,
            28,
            "between 1 and",
        ),
        (
            "name = \"x\"\n[[resource]]\npath = \"a\"\n",
            3,
            8,
            "start with one '/'",
        ),
        (
            "name = \"x\"\nrepeat = \"five\"\n[[resource]]\npath = \"/a\"\n",
            2,
            10,
            "invalid type",
        ),
    ];
    for (src, line, col, words) in cases {
        let e = error_of(src);
        assert_eq!((e.line, e.column), (*line, *col), "{e}");
        assert!(e.message.contains(words), "{e}");
        assert!(
            e.to_string()
                .starts_with(&format!("bad.toml:{line}:{col}: ")),
            "{e}"
        );
        assert!(e.snippet.contains('^'), "{e}");
    }
}

#[test]
fn pipelining_and_methods() {
    let s = Scenario::parse(
        "name = \"p\"\n[client]\npipeline_depth = 4\n[server]\npipelining = [\"serial\", \"parallel\"]\n[[resource]]\npath = \"/up\"\nmethod = \"POST\"\nbody = \"2kb\"\n",
        "p.toml",
    )
    .unwrap();
    assert_eq!(
        s.server.pipelining,
        vec![PipeliningModel::Serial, PipeliningModel::Parallel]
    );
    assert_eq!(
        (s.client.pipeline_connections, s.client.pipeline_depth),
        (1, Some(4))
    );
    assert_eq!(s.requests()[0].body_bytes, 2_000);
    assert!(!is_idempotent(&s.requests()[0].method));
    let s = Scenario::parse(
        "name = \"p\"\n[server]\npipelining = \"parallel\"\n[[resource]]\npath = \"/a\"\n",
        "p.toml",
    )
    .unwrap();
    assert_eq!(s.server.pipelining, vec![PipeliningModel::Parallel]);
    let e =
        error_of("name = \"x\"\n[server]\npipelining = \"eager\"\n[[resource]]\npath = \"/a\"\n");
    assert_eq!(e.line, 3, "{e}");
    let e = error_of("name = \"x\"\n[[resource]]\npath = \"/a\"\nbody = \"1kb\"\n");
    assert!(e.message.contains("carries no body"), "{e}");
    let e = error_of("name = \"x\"\n[[resource]]\npath = \"/a\"\nmethod = \"BREW\"\n");
    assert!(e.message.contains("must be one of"), "{e}");
}

#[test]
fn http2_and_tls_keys() {
    let s = Scenario::parse(
        "name = \"h\"\n[client]\ntls_version = \"1.2\"\nresumption = true\nh2_stream_window = \"64kib\"\ncookie = \"2kb\"\n\
         [server]\nmax_concurrent_streams = 4\nmax_frame_size = \"32kib\"\n[[resource]]\npath = \"/a\"\n",
        "h.toml",
    )
    .unwrap();
    assert_eq!(s.client.tls_version, Some(TlsVersion::Tls12));
    assert!(s.client.resumption);
    assert_eq!(s.client.h2_stream_window, 65_536);
    assert_eq!(s.client.h2_connection_window, BROWSER_H2_CONNECTION_WINDOW);
    assert_eq!(
        (s.server.max_concurrent_streams, s.server.max_frame_size),
        (4, 32_768)
    );
    let cookie = &s.requests()[0].headers[0];
    assert_eq!((cookie.0.as_str(), cookie.1.len()), ("cookie", 2_000));
    // Bad values are located like every other mistake.
    for (src, line, words) in [
        (
            "[client]\ntls_version = \"1.1\"\n",
            3,
            "unknown `tls_version`",
        ),
        ("[client]\ncookie = \"1mb\"\n", 3, "at most 64kib"),
        ("[client]\nh2_stream_window = \"3gb\"\n", 3, "2^31-1"),
        ("[server]\nmax_concurrent_streams = 0\n", 3, "at least 1"),
        ("[server]\nmax_frame_size = \"1kb\"\n", 3, "16384b"),
    ] {
        let e = error_of(&format!("name = \"x\"\n{src}[[resource]]\npath = \"/a\"\n"));
        assert_eq!(e.line, line, "{e}");
        assert!(e.message.contains(words), "{e}");
    }
}

#[test]
fn duplicates_and_empty() {
    let e = error_of("name = \"x\"\n[[resource]]\npath = \"/a\"\n[[resource]]\npath = \"/a\"\n");
    assert!(e.message.contains("twice"), "{e}");
    let e = error_of("name = \"x\"\n");
    assert!(e.message.contains("no resources"), "{e}");
    let e = error_of("name = \"../etc\"\n[[resource]]\npath = \"/a\"\n");
    assert!(e.message.contains("report folder"), "{e}");
}

fn parse_ok(src: &str) -> Scenario {
    Scenario::parse(src, "ok.toml").unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn profiles_set_the_connection_cap_and_lists_make_variants() {
    let one = |client: &str| {
        parse_ok(&format!(
            "name = \"p\"\n[client]\n{client}\n[[resource]]\npath = \"/a\"\n"
        ))
    };
    assert_eq!(one("").client.max_connections_per_host, 6);
    assert_eq!(one("profile = \"ie7\"").client.max_connections_per_host, 2);
    assert_eq!(
        one("profile = \"unlimited\"")
            .client
            .max_connections_per_host,
        crate::profile::UNLIMITED_CONNECTIONS
    );
    let over = one("profile = \"ie11\"\nmax_connections_per_host = 4");
    assert_eq!(
        over.client.max_connections_per_host, 4,
        "the number overrides"
    );
    assert_eq!(over.client.profile.map(|p| p.name), Some("ie11"));
    assert!(over.variants.is_empty());

    let s = one("profile = [\"ie7\", \"chrome\", \"ie11\"]");
    let labels: Vec<(&str, u32)> = s
        .variants
        .iter()
        .map(|v| (v.label.as_str(), v.client.max_connections_per_host))
        .collect();
    assert_eq!(labels, [("ie7", 2), ("chrome", 6), ("ie11", 13)]);
    assert_eq!(s.client.max_connections_per_host, 2, "the first variant");
    let ie11 = s.variant("ie11").unwrap();
    assert_eq!(
        (ie11.client.max_connections_per_host, ie11.variants.len()),
        (13, 0)
    );
    assert_eq!(s.variant_scenarios().len(), 3);

    let s = one("tls_version = [\"1.2\", \"1.3\"]\nresumption = [false, true]");
    let labels: Vec<&str> = s.variants.iter().map(|v| v.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "tls1.2-full",
            "tls1.2-resumed",
            "tls1.3-full",
            "tls1.3-resumed"
        ]
    );
    let v = &s.variants[3].client;
    assert_eq!(
        (v.tls_version, v.resumption),
        (Some(TlsVersion::Tls13), true)
    );
    // A one-item list is a single value.
    assert!(one("profile = [\"safari\"]").variants.is_empty());

    for (client, words) in [
        (
            "profile = \"netscape\"",
            "unknown profile `netscape`: use one of ie7, ie8",
        ),
        ("profile = [\"ie7\", \"ie7\"]", "listed twice"),
        ("profile = []", "empty list"),
        (
            "profile = [\"ie7\", \"ie11\"]\nmax_connections_per_host = 6",
            "overrides `profile`",
        ),
        ("resumption = [true, true]", "listed twice"),
    ] {
        let e = error_of(&format!(
            "name = \"x\"\n[client]\n{client}\n[[resource]]\npath = \"/a\"\n"
        ));
        assert!(e.message.contains(words), "{client}: {e}");
        assert!(e.line >= 3, "{e}");
    }
    let e = error_of(
        "name = \"x\"\n[client]\nprofile = [\"ie7\", \"mosaic\"]\n[[resource]]\npath = \"/a\"\n",
    );
    assert_eq!((e.line, e.column), (3, 19), "the bad item itself: {e}");
}

#[test]
fn server_behaviours() {
    let s = parse_ok(
        "name = \"b\"\nseed = 42\n[server]\nthink = \"uniform(10ms,30ms)\"\nrequest_timeout = \"2m\"\n\
         max_connections = 2\nkeep_alive_timeout = \"5s\"\nmax_requests_per_connection = 100\n\
         [[resource]]\npath = \"/up\"\nmethod = \"POST\"\nbody = \"10kb\"\nrespond = \"never\"\n\
         request_timeout = \"500ms\"\n[[resource]]\npath = \"/a\"\nthink = \"exp(20ms)\"\n\
         [[resource]]\npath = \"/b\"\n",
    );
    assert_eq!(s.seed, 42);
    let sv = &s.server;
    assert_eq!(sv.think, Duration::from_millis(20), "the mean");
    assert_eq!(
        (sv.max_connections, sv.max_requests_per_connection),
        (Some(2), Some(100))
    );
    assert_eq!(sv.keep_alive_timeout, Some(Duration::from_secs(5)));
    let up = s.resource(None, "/up").unwrap();
    assert_eq!(up.respond, Respond::Never);
    assert_eq!(up.request_timeout, Some(Duration::from_millis(500)));
    let a = s.resource(None, "/a").unwrap();
    assert_eq!(
        a.think_distribution,
        Think::Exp {
            mean: Duration::from_millis(20)
        }
    );
    assert_eq!(
        a.request_timeout,
        Some(Duration::from_secs(120)),
        "from [server]"
    );
    let b = s.resource(None, "/b").unwrap();
    assert_eq!(b.respond, Respond::Always);
    assert!(matches!(b.think_distribution, Think::Uniform { .. }));
    assert_eq!(
        parse_ok("name = \"d\"\n[[resource]]\npath = \"/a\"\n").seed,
        DEFAULT_SEED
    );

    for (src, line, col, words) in [
        (
            "[[resource]]\npath = \"/a\"\nrespond = \"sometimes\"\n",
            4,
            11,
            "unknown variant `sometimes`",
        ),
        (
            "[[resource]]\npath = \"/a\"\nrespond = \"never\"\n",
            4,
            11,
            "request_timeout",
        ),
        (
            "[server]\nrespond = \"never\"\n[[resource]]\npath = \"/a\"\n",
            3,
            11,
            "request_timeout",
        ),
        (
            "[server]\nrequest_timeout = \"0ms\"\n[[resource]]\npath = \"/a\"\n",
            3,
            19,
            "above zero",
        ),
        (
            "[server]\nmax_connections = 0\n[[resource]]\npath = \"/a\"\n",
            3,
            19,
            "backlog",
        ),
        (
            "[server]\nmax_requests_per_connection = 0\n[[resource]]\npath = \"/a\"\n",
            3,
            31,
            "at least 1",
        ),
        (
            "[[resource]]\npath = \"/a\"\nthink = \"uniform(9ms,1ms)\"\n",
            4,
            9,
            "low <= high",
        ),
        (
            "[[resource]]\npath = \"/a\"\nthink = \"gauss(1ms)\"\n",
            4,
            9,
            "normal(20ms,5ms)",
        ),
    ] {
        let e = error_of(&format!("name = \"x\"\n{src}"));
        assert_eq!((e.line, e.column), (line, col), "{src}: {e}");
        assert!(e.message.contains(words), "{src}: {e}");
    }
}

#[test]
fn after_chains_missing_paths_and_cycles() {
    let s = parse_ok(
        "name = \"d\"\n[[resource]]\npath = \"/index.html\"\n[[resource]]\npath = \"/font.woff2\"\n\
         after = \"/style.css\"\n[[resource]]\npath = \"/style.css\"\nafter = \"/index.html\"\n\
         [[resource]]\npath = \"/img/{i}.png\"\ncount = 2\nafter = \"/index.html\"\n",
    );
    assert_eq!(s.dependencies(), [None, Some(2), Some(0), Some(0), Some(0)]);
    assert_eq!(s.resources[4].after.as_deref(), Some("/index.html"));

    let e = error_of("name = \"x\"\n[[resource]]\npath = \"/a\"\n[[resource]]\npath = \"/b\"\nafter = \"/index.html\"\n");
    assert_eq!((e.line, e.column), (6, 9), "{e}");
    assert!(e.message.contains("no resource has that path"), "{e}");
    let e = error_of("name = \"x\"\n[[resource]]\npath = \"/a\"\nafter = \"/a\"\n");
    assert!(e.message.contains("itself"), "{e}");
    let e = error_of(
        "name = \"x\"\n[[resource]]\npath = \"/a\"\nafter = \"/c\"\n[[resource]]\npath = \"/b\"\nafter = \"/a\"\n\
         [[resource]]\npath = \"/c\"\nafter = \"/b\"\n",
    );
    assert_eq!((e.line, e.column), (4, 9), "{e}");
    assert!(e.message.contains("cycle: /a → /c → /b → /a"), "{e}");
}

#[test]
fn delay_is_a_duration_of_at_most_600s_defaulting_to_zero() {
    let s = parse_ok(
        "name = \"d\"\n[[resource]]\npath = \"/index.html\"\n[[resource]]\npath = \"/app.js\"\n\
         after = \"/index.html\"\ndelay = \"35ms\"\n",
    );
    assert_eq!(s.resources[0].delay, Duration::ZERO);
    assert_eq!(s.resources[1].delay, Duration::from_millis(35));
    let e = error_of("name = \"x\"\n[[resource]]\npath = \"/a\"\ndelay = \"1000000s\"\n");
    assert_eq!((e.line, e.column), (4, 9), "{e}");
    assert!(e.message.contains("`delay` may be at most 600s"), "{e}");
}

#[test]
fn of_mistakes_in_several_tables_the_same_one_is_reported_first() {
    // The tables are validated one by one, but the first mistake reported is the one an earlier
    // check finds, whatever the table (see `Stage`): here [server] `pipelining` before [client]
    // `cookie`, and [network] before [server] `max_connections`.
    let e = error_of(
        "name = \"x\"\n[client]\ncookie = \"1mb\"\n[server]\npipelining = []\n\
         [[resource]]\npath = \"/a\"\n",
    );
    assert_eq!((e.line, e.column), (5, 14), "{e}");
    assert!(e.message.contains("`pipelining` is empty"), "{e}");
    let e = error_of(
        "name = \"x\"\n[server]\nmax_connections = 0\n[network]\nrtt = \"11s\"\n\
         [[resource]]\npath = \"/a\"\n",
    );
    assert_eq!((e.line, e.column), (5, 7), "{e}");
    assert!(e.message.contains("`rtt` may be at most 10s"), "{e}");
    // Within [client], a bad `pipeline_depth` still comes before a bad `h2_stream_window`.
    let e = error_of(
        "name = \"x\"\n[client]\nh2_stream_window = \"3gb\"\npipeline_depth = 0\n\
         [server]\nh2_stream_window = \"3gb\"\n[[resource]]\npath = \"/a\"\n",
    );
    assert_eq!((e.line, e.column), (4, 18), "{e}");
}
