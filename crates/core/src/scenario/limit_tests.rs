//! Unit tests of the limits a scenario is told about in words: values too large for their key,
//! keys nested past the TOML reader's limit, and request heads too long for the lab's clients
//! and servers, each located at the key.

use super::*;

fn error_of(src: &str) -> ScenarioError {
    Scenario::parse(src, "bad.toml").expect_err("refused")
}

/// `(line, column)` of the error and its message.
fn located(src: &str) -> ((usize, usize), String) {
    let e = error_of(src);
    assert!(e.snippet.contains('^'), "{e}");
    ((e.line, e.column), e.message)
}

#[test]
fn large_values_are_told_their_key_s_limit() {
    let resource = "[[resource]]\npath = \"/a\"\n";
    for (src, at, words) in [
        (
            format!("{resource}size = \"100gb\"\n"),
            (4, 8),
            "`size` may be at most 1gb",
        ),
        (
            format!("{resource}size = \"99999999999999999999999gib\"\n"),
            (4, 8),
            "at most 1gb",
        ),
        (
            format!("{resource}think = \"1000000s\"\n"),
            (4, 9),
            "think time may be at most 600s",
        ),
        (
            format!("{resource}think = \"uniform(1ms,1000000m)\"\n"),
            (4, 9),
            "at most 600s",
        ),
        (
            format!("{resource}request_timeout = \"1000000s\"\n"),
            (4, 19),
            "at most 3600s",
        ),
        (
            format!("{resource}method = \"POST\"\nbody = \"100gb\"\n"),
            (5, 8),
            "`body` may be at most 1gb",
        ),
        (
            format!("[client]\ncookie = \"100gb\"\n{resource}"),
            (3, 10),
            "at most 64kib",
        ),
        (
            format!("[network]\nrtt = \"1000000s\"\n{resource}"),
            (3, 7),
            "`rtt` may be at most 10s",
        ),
        (
            format!("[network]\nrtt = \"1ms\"\njitter = \"1000000s\"\n{resource}"),
            (4, 10),
            "`jitter` may be at most 10s",
        ),
        (
            format!("[network]\nrtt = \"1ms\"\nbandwidth = \"2000000gbit\"\n{resource}"),
            (4, 13),
            "at most 100gbit",
        ),
        (
            format!(
                "[network]\nrtt = \"1ms\"\nbandwidth = \"1gbit\"\nqueue = \"100gb\"\n{resource}"
            ),
            (5, 9),
            "`queue` may be at most 1gb",
        ),
        (
            format!("[server]\nkeep_alive_timeout = \"1000000s\"\n{resource}"),
            (3, 22),
            "at most 3600s",
        ),
        (
            format!("[server]\nmax_frame_size = \"100gb\"\n{resource}"),
            (3, 18),
            "16777215b",
        ),
    ] {
        let (place, message) = located(&format!("name = \"x\"\n{src}"));
        assert_eq!(place, at, "{src}: {message}");
        assert!(message.contains(words), "{src}: {message}");
    }
}

#[test]
fn a_key_nested_past_the_toml_reader_s_limit_is_located() {
    let deep = vec!["a"; 100].join(".");
    let (place, message) = located(&format!("name = \"x\"\n\n[{deep}]\nb = 1\n"));
    assert_eq!(place, (3, 2), "{message}");
    assert!(message.contains("nests 100 levels deep"), "{message}");
    assert!(message.contains("stops at 80"), "{message}");
    let (place, message) = located(&format!("name = \"x\"\n  {deep} = 1\n"));
    assert_eq!(place, (2, 3), "{message}");
    // Arrays nested too deep carry their own place from the reader.
    let nested = format!(
        "name = \"x\"\nx = {}1{}\n",
        "[".repeat(200),
        "]".repeat(200)
    );
    let e = error_of(&nested);
    assert_eq!(e.line, 2, "{e}");
}

/// A scenario over `protocols` with one resource at a path of `len` bytes.
fn with_path(protocols: &str, extra: &str, len: usize) -> String {
    let path = format!("/{}", "p".repeat(len - 1));
    format!("name = \"x\"\nprotocols = [{protocols}]\n{extra}[[resource]]\npath = \"{path}\"\n")
}

#[test]
fn paths_longer_than_the_clients_and_servers_take_are_refused_at_the_path() {
    let all = "\"http1.0\", \"http1.1\", \"http1.1-pipelined\", \"h2\", \"h2c\"";
    let h1 = "\"http1.0\", \"http1.1\"";
    let pipelining = "[server]\npipelining = \"parallel\"\n";
    let cookie = "[client]\ncookie = \"4kb\"\n";
    for (protocols, extra, cookie_bytes, pipelined) in [
        (all, "", 0, false),
        (h1, "", 0, false),
        (h1, pipelining, 0, true),
        (all, cookie, 4_000, false),
        (h1, &format!("{pipelining}{cookie}") as &str, 4_000, true),
    ] {
        let list: Vec<Protocol> = protocols
            .split(',')
            .map(|p| p.trim().trim_matches('"').parse().expect("protocol"))
            .collect();
        let longest = longest_path(&list, pipelined, cookie_bytes);
        Scenario::parse(&with_path(protocols, extra, longest), "ok.toml")
            .unwrap_or_else(|e| panic!("{protocols} {extra}: {e}"));
        let src = with_path(protocols, extra, longest + 1);
        let e = error_of(&src);
        let path_line = src
            .lines()
            .position(|l| l.starts_with("path"))
            .expect("path")
            + 1;
        assert_eq!((e.line, e.column), (path_line, 8), "{e}");
        assert!(
            e.message
                .contains(&format!("keep paths to at most {longest} bytes")),
            "{e}"
        );
    }
    // The limits themselves, for each family.
    assert_eq!(longest_path(&[Protocol::Http11], false, 0), MAX_URI);
    assert_eq!(
        longest_path(&[Protocol::Http11], true, 0),
        PIPELINING_MAX_HEAD - 256
    );
    assert_eq!(
        longest_path(&[Protocol::H2c], false, 0),
        H2_MAX_HEADER_LIST - 512
    );
    assert_eq!(
        longest_path(&[Protocol::H2], false, 4_000),
        H2_MAX_HEADER_LIST - 512 - 4_000 - 38
    );
    let e = error_of(&with_path("\"h2\"", "", 20_000));
    assert!(e.message.contains("16384 bytes"), "{e}");
    assert!(e.message.contains("431"), "{e}");
    // An `{i}` path is measured as it expands: its longest copy.
    let src = format!(
        "name = \"x\"\nprotocols = [\"h2\"]\n[[resource]]\npath = \"/{}{{i}}\"\ncount = 100\n",
        "p".repeat(H2_MAX_HEADER_LIST - 512 - 3)
    );
    assert!(error_of(&src).message.contains("of 15873 bytes"), "{src}");
}

#[test]
fn a_cookie_with_no_room_for_a_path_is_refused_at_the_cookie() {
    let src = "name = \"x\"\nprotocols = [\"h2\"]\n[client]\ncookie = \"16kb\"\n\
               [[resource]]\npath = \"/a\"\n";
    let (place, message) = located(src);
    assert_eq!(place, (4, 10), "{message}");
    assert!(
        message.contains("a `cookie` of 16000 bytes leaves no room"),
        "{message}"
    );
    // Over HTTP/1.x without pipelining, hyper's server reads it.
    let src = src.replace("\"h2\"", "\"http1.1\"");
    Scenario::parse(&src, "ok.toml").unwrap_or_else(|e| panic!("{e}"));
}
