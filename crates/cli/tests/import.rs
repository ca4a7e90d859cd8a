//! `httplab import` as a user runs it: a Chrome-format HAR becomes a scenario `httplab check`
//! accepts, written beside the HAR and never over an existing file without `--force`; bad HARs
//! exit 2 naming the file and the entry; and the lab's own HAR of a run imports back into the
//! scenario it ran (paths, sizes, methods, bodies, statuses and `after` chains).
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

mod common;

use common::httplab;
use httplab_core::Scenario;
use httplab_testkit::binary::{stderr, stdout};
use httplab_testkit::{repo_root, temp_dir};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn fixture(dir: &Path) -> PathBuf {
    let from = repo_root().join("crates/import/tests/data/chrome-shop.har");
    let to = dir.join("chrome-shop.har");
    std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    to
}

fn load(path: &Path) -> Scenario {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Scenario::parse(&text, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_chrome_har_imports_beside_itself_and_checks() {
    let dir = temp_dir("import-chrome");
    let har = fixture(&dir);
    let out = httplab(&["import", har.to_str().expect("utf-8")], &dir);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let toml = dir.join("chrome-shop.toml");
    assert!(stdout(&out).contains("26 resources"), "{}", stdout(&out));
    // One line per skipped entry, each naming the file; the analytics origin is kept.
    assert_eq!(
        err.lines()
            .filter(|l| l.contains("chrome-shop.har: "))
            .count(),
        3,
        "{err}"
    );

    let check = httplab(&["check", toml.to_str().expect("utf-8")], &dir);
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(stdout(&check).contains("26 requests"), "{}", stdout(&check));

    // Never over an existing file without --force.
    std::fs::write(&toml, "# mine\n").expect("write");
    let again = httplab(&["import", har.to_str().expect("utf-8")], &dir);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("the file exists; pass --force"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read_to_string(&toml).expect("read"), "# mine\n");
    let forced = httplab(&["import", har.to_str().expect("utf-8"), "--force"], &dir);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert_eq!(load(&toml).resources.len(), 26);

    let named = dir.join("shop.toml");
    let to = httplab(
        &[
            "import",
            "chrome-shop.har",
            "--out",
            named.to_str().expect("utf-8"),
        ],
        &dir,
    );
    assert!(to.status.success(), "{}", stderr(&to));
    assert_eq!(load(&named).resources.len(), 26);
}

#[test]
fn bad_hars_exit_2_naming_the_file_and_the_entry() {
    let dir = temp_dir("import-bad");
    let entry = |url: &str| {
        format!(
            r#"{{"startedDateTime":"2026-11-30T16:00:00.000Z","time":5,"request":{{"method":"GET","url":"{url}"}},"response":{{"status":200,"content":{{"size":1}}}},"timings":{{"send":0,"wait":4,"receive":1}}}}"#
        )
    };
    let har = |entries: &[String]| {
        format!(
            r#"{{"log":{{"version":"1.2","entries":[{}]}}}}"#,
            entries.join(",")
        )
    };
    let cases = [
        ("not-json", "<html>not a HAR</html>".to_string(), "not-json.har:1:1: not JSON"),
        (
            "old",
            r#"{"log":{"version":"1.0","entries":[]}}"#.into(),
            "old.har: not a HAR 1.2 file: `log.version` is \"1.0\"",
        ),
        ("empty", har(&[]), "empty.har: the HAR has no entries"),
        (
            "no-url",
            har(&[entry("https://a.example/"), entry("")]),
            "no-url.har: entry 2 (log.entries[1]): `request.url` is missing",
        ),
        (
            "bad-url",
            har(&[entry("https//a.example/")]),
            "bad-url.har: entry 1 (log.entries[0]): `request.url` \"https//a.example/\" has no scheme",
        ),
    ];
    for (name, text, words) in cases {
        let file = dir.join(format!("{name}.har"));
        std::fs::write(&file, text).expect("write");
        let out = httplab(&["import", file.to_str().expect("utf-8")], &dir);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(words), "{name}: no `{words}` in {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(
            !dir.join(format!("{name}.toml")).exists(),
            "{name}: nothing written"
        );
    }
}

/// A 26-resource import is far below a second: the least of three runs of the binary.
#[test]
fn importing_a_page_takes_well_under_a_second() {
    let dir = temp_dir("import-time");
    let har = fixture(&dir);
    let mut least = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        let out = httplab(&["import", har.to_str().expect("utf-8"), "--force"], &dir);
        least = least.min(started.elapsed());
        assert!(out.status.success(), "{}", stderr(&out));
    }
    eprintln!("importing 29 entries (26 resources): least of 3 runs {least:?}");
    assert!(least < Duration::from_secs(1), "{least:?}");
}

/// The lab's own HAR of a run carries `_initiator` for each `after`, so importing it gives
/// back the page the lab ran.
#[test]
fn the_labs_own_har_imports_back_into_the_scenario_it_ran() {
    let dir = temp_dir("import-roundtrip");
    let scenario = dir.join("page.toml");
    std::fs::write(
        &scenario,
        r#"name = "roundtrip"
protocols = ["h2"]
repeat = 1
[client]
tls = true
[[resource]]
path = "/index.html"
size = "14kb"
[[resource]]
path = "/css/site.css"
size = "6kb"
after = "/index.html"
[[resource]]
path = "/img/bg.png"
size = "20kb"
after = "/css/site.css"
delay = "5ms"
[[resource]]
path = "/js/app.js"
size = "30kb"
after = "/index.html"
[[resource]]
path = "/api/save"
method = "POST"
body = "3kb"
size = "200b"
status = 201
after = "/js/app.js"
[[resource]]
path = "/img/{i}.jpg"
count = 4
size = "9kb"
after = "/index.html"
[[resource]]
path = "/missing.png"
size = "300b"
status = 404
"#,
    )
    .expect("write");
    let out_dir = dir.join("out");
    let run = httplab(
        &[
            "run",
            scenario.to_str().expect("utf-8"),
            "--out",
            out_dir.to_str().expect("utf-8"),
            "--no-link",
            "--quiet",
        ],
        &dir,
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let har = out_dir.join("h2.har");
    let imported = dir.join("h2.toml");
    let out = httplab(
        &[
            "import",
            har.to_str().expect("utf-8"),
            "--out",
            imported.to_str().expect("utf-8"),
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "nothing skipped");
    let original = load(&scenario);
    let back = load(&imported);
    let facts = |s: &Scenario| {
        let mut rows: Vec<(String, String, u64, u64, u16, Option<String>)> = s
            .resources
            .iter()
            .map(|r| {
                (
                    r.path.clone(),
                    r.method.clone(),
                    r.size,
                    r.request_body,
                    r.status,
                    r.after.clone(),
                )
            })
            .collect();
        rows.sort();
        rows
    };
    assert_eq!(facts(&back), facts(&original));
    assert!(back.client.tls);
}
