//! Unit tests of `[[origin]]` tables and a resource's `origin`, through [`Scenario::parse`].

use super::*;

const SITE: &str = r#"
name = "site"
[client]
tls = true
[[origin]]
name = "www.example.com"
[[origin]]
name = "Static.Example.com."
same_address_as = "www.example.com"
tls = false
[[origin]]
name = "cdn.example.net"
max_connections = 2
[[resource]]
path = "/"
[[resource]]
origin = "static.example.com"
path = "/"
after = "//www.example.com/"
[[resource]]
origin = "cdn.example.net"
path = "/app.js"
after = "//static.example.com/"
[[resource]]
origin = "cdn.example.net"
path = "/font.woff2"
after = "/app.js"
"#;

fn message(src: &str) -> String {
    Scenario::parse(src, "o.toml").unwrap_err().to_string()
}

#[test]
fn without_origin_tables_the_page_has_one_origin_localhost() {
    let s = Scenario::parse("name = \"x\"\n[[resource]]\npath = \"/\"\n", "x.toml").unwrap();
    assert_eq!(s.origins, vec![Origin::default_for(false)]);
    assert_eq!(s.origins[0].name, DEFAULT_ORIGIN);
    assert_eq!((s.resources[0].origin, s.address_count()), (0, 1));
}

#[test]
fn origins_have_names_schemes_caps_and_addresses_and_resources_name_theirs() {
    let s = Scenario::parse(SITE, "site.toml").unwrap();
    let names: Vec<&str> = s.origins.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        ["www.example.com", "static.example.com", "cdn.example.net"]
    );
    let tls: Vec<bool> = s.origins.iter().map(|o| o.tls).collect();
    assert_eq!(tls, [true, false, true]);
    let addresses: Vec<usize> = s.origins.iter().map(|o| o.address).collect();
    assert_eq!((addresses, s.address_count()), (vec![0, 0, 1], 2));
    assert_eq!(s.origins[2].max_connections, Some(2));
    let origins: Vec<usize> = s.resources.iter().map(|r| r.origin).collect();
    assert_eq!(origins, [0, 1, 2, 2]);
    // A path is looked for on the resource's own origin, then on the one other that has it.
    assert_eq!(s.dependencies(), vec![None, Some(0), Some(1), Some(2)]);
    // The server finds a resource by host (any port, any case) and path.
    assert_eq!(
        s.resource(Some("static.example.com:8443"), "/")
            .map(|r| r.origin),
        Some(1)
    );
    assert_eq!(
        s.resource(Some("WWW.example.com"), "/").map(|r| r.origin),
        Some(0)
    );
    assert_eq!(s.resource(None, "/font.woff2").map(|r| r.origin), Some(2));
    assert!(s.resource(Some("www.example.com"), "/nope").is_none());
    // Another origin's path is not this one's; a host that names no origin finds any.
    assert!(s.resource(Some("www.example.com"), "/app.js").is_none());
    assert_eq!(
        s.resource(Some("localhost:8443"), "/app.js")
            .map(|r| r.origin),
        Some(2)
    );
}

#[test]
fn bad_origins_are_located_mistakes() {
    let table = |name: &str| {
        format!("name = \"x\"\n[[origin]]\nname = \"{name}\"\n[[resource]]\npath = \"/\"\n")
    };
    for bad in [
        "https://x.com",
        "x.com:8443",
        "-x.com",
        "a..b",
        "",
        "x.com/app",
    ] {
        assert!(message(&table(bad)).contains("is a host name"), "{bad}");
    }
    assert!(message(&table("10.0.0.1")).contains("not an address"));
    let twice = "name = \"x\"\n[[origin]]\nname = \"a.test\"\n[[origin]]\nname = \"A.test\"\n\
                 [[resource]]\npath = \"/\"\n";
    assert!(message(twice).contains("origin `a.test` is named twice"));
    let forward = "name = \"x\"\n[[origin]]\nname = \"a.test\"\nsame_address_as = \"b.test\"\n\
                   [[origin]]\nname = \"b.test\"\n[[resource]]\npath = \"/\"\n";
    assert!(message(forward).contains("written earlier"));
    let unknown = "name = \"x\"\n[[origin]]\nname = \"a.test\"\n[[resource]]\npath = \"/\"\n\
                   origin = \"b.test\"\n";
    let e = message(unknown);
    assert!(
        e.contains("no such [[origin]]") && e.contains("\"a.test\""),
        "{e}"
    );
    assert!(e.contains("o.toml:6"), "{e}");
    let cap = "name = \"x\"\n[[origin]]\nname = \"a.test\"\nmax_connections = 0\n\
               [[resource]]\npath = \"/\"\n";
    assert!(message(cap).contains("`max_connections` must be between 1"));
}

#[test]
fn a_path_is_unique_on_its_origin_and_after_says_which_origin_when_it_must() {
    let twice = "name = \"x\"\n[[origin]]\nname = \"a.test\"\n[[origin]]\nname = \"b.test\"\n\
                 [[resource]]\npath = \"/\"\n[[resource]]\npath = \"/\"\n";
    assert!(message(twice).contains("path `/` is described twice on origin `a.test`"));
    // `/x` on b and c, asked from a: which one?
    let ambiguous = "name = \"x\"\n[[origin]]\nname = \"a.test\"\n[[origin]]\nname = \"b.test\"\n\
                     [[origin]]\nname = \"c.test\"\n\
                     [[resource]]\norigin = \"b.test\"\npath = \"/x\"\n\
                     [[resource]]\norigin = \"c.test\"\npath = \"/x\"\n\
                     [[resource]]\npath = \"/y\"\nafter = \"/x\"\n";
    let e = message(ambiguous);
    assert!(
        e.contains("several origins serve") && e.contains("\"//b.test/x\""),
        "{e}"
    );
    let fixed = ambiguous.replace("after = \"/x\"", "after = \"//c.test/x\"");
    let s = Scenario::parse(&fixed, "o.toml").unwrap();
    assert_eq!(s.dependencies()[2], Some(1));
    let no_origin = ambiguous.replace("after = \"/x\"", "after = \"//d.test/x\"");
    assert!(message(&no_origin).contains("origin `d.test`"));
    let network_path = "name = \"x\"\n[[resource]]\npath = \"//x\"\n";
    assert!(message(network_path).contains("start with one '/'"));
}
