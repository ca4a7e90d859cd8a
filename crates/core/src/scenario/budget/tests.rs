use super::*;

fn scenario(src: &str) -> Scenario {
    Scenario::parse(src, "b.toml").unwrap_or_else(|e| panic!("{e}"))
}

const LIBRARY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios");

#[test]
fn arithmetic_counts_every_planned_configuration() {
    // 2 protocols, http1.1-pipelined once per model (2), two client variants: (1 + 2) × 2 = 6
    // configurations, 4 repetitions.
    let s = scenario(
        "name = \"x\"\nprotocols = [\"h2\", \"http1.1-pipelined\"]\nrepeat = 4\n\
         [client]\nprofile = [\"ie7\", \"chrome\"]\n[server]\npipelining = [\"serial\", \"parallel\"]\n\
         [[resource]]\npath = \"/a/{i}\"\ncount = 10\nsize = \"1kb\"\n[[resource]]\npath = \"/b\"\n\
         method = \"POST\"\nbody = \"2kb\"\n",
    );
    let b = Budget::of(&s);
    assert_eq!(b.runs, 6 * 4);
    assert_eq!(b.requests, 6 * 4 * 11);
    let page = 10 * (1_000 + HEAD_BYTES) + (2_000 + HEAD_BYTES);
    assert_eq!(b.bytes_moved, page * 24);
    assert_eq!(
        b.peak_memory,
        MEMORY_BASE + 264 * MEMORY_PER_REQUEST + 11 * MEMORY_PER_RUN_REQUEST
    );
    assert_eq!(b.results_bytes, 264 * RESULTS_PER_REQUEST);
    // Loopback: no round trips, so the CPU per request and the bytes at loopback speed.
    let per_run = WALL_PER_REQUEST * 11;
    assert!(b.wall_time >= per_run * 24, "{b:?}");
    assert!(
        b.wall_time < per_run * 24 + Duration::from_millis(10),
        "{b:?}"
    );
    assert_eq!(refusal(&[&s], None), None);
}

#[test]
fn wall_time_follows_the_model_on_a_link() {
    // One 1 kB object over 100 ms: HTTP/1.0 with TLS 1.3 is H = 2 round trips, then a request
    // and its response, 3R = 300 ms.
    let s = scenario(
        "name = \"x\"\nprotocols = [\"http1.0\"]\nrepeat = 2\n[client]\ntls = true\n\
         [network]\nrtt = \"100ms\"\n[[resource]]\npath = \"/a\"\nsize = \"1kb\"\n",
    );
    let b = Budget::of(&s);
    let run = Duration::from_millis(300) + WALL_PER_REQUEST;
    assert!(b.wall_time >= run * 2, "{b:?}");
    assert!(b.wall_time < run * 2 + Duration::from_millis(1), "{b:?}");
}

#[test]
fn every_library_scenario_is_within_the_budget() {
    for entry in std::fs::read_dir(LIBRARY).expect("scenarios/") {
        let path = entry.expect("entry").path();
        // The library holds scenarios and the servers some of them name (node-never-respond.js).
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("readable");
        let s = scenario(&source);
        let b = Budget::of(&s);
        assert_eq!(b.crossed(), vec![], "{}: {}", path.display(), b.line());
        assert!(b.wall_warning().is_none(), "{}", path.display());
    }
}

#[test]
fn a_thousand_repetitions_of_ten_thousand_requests_are_refused_at_repeat() {
    let src = "name = \"x\"\nrepeat = 1000\n[[resource]]\npath = \"/o/{i}\"\ncount = 10000\n";
    let s = scenario(src);
    let b = Budget::of(&s);
    // Every protocol (6 configurations) × 1000 × 10000.
    assert_eq!(b.requests, 60_000_000);
    assert_eq!(b.crossed()[0], Limit::PeakMemory);
    let e = refusal(&[&s], None).expect("refused");
    assert_eq!((e.line, e.column), (2, 10), "{e}");
    assert!(e.message.contains("estimated peak memory 312.42 GB"), "{e}");
    assert!(e.message.contains("over the limit of 4.00 GB"), "{e}");
    // The largest run holds 10,000 requests (417 MB with the base); each repetition adds
    // 60,000 requests' records (312 MB): 11 fit, 12 do not.
    assert!(
        e.message
            .contains("`repeat = 1000` drives it: at most 11 repetitions fit"),
        "{e}"
    );
    assert!(e.message.contains("--force"), "{e}");
    // The same cost from `--repeat` names the flag instead of the line.
    let mut from_flag = s;
    from_flag.repeat = 1000;
    let e = refusal(&[&from_flag], Some(1000)).expect("refused");
    assert_eq!(e.line, 0, "{e}");
    assert!(
        e.to_string().starts_with("b.toml: the scenario is over"),
        "{e}"
    );
    assert!(e.message.contains("`--repeat 1000` drives it"), "{e}");
}

#[test]
fn a_page_over_the_budget_at_one_repetition_is_refused_at_its_largest_table() {
    // 9999 × 1 GB = 10 TB per page: `size` drives the bytes.
    let src = "name = \"x\"\nrepeat = 1\nprotocols = [\"h2\"]\n[[resource]]\npath = \"/small\"\n\
               [[resource]]\npath = \"/o/{i}\"\ncount = 9999\nsize = \"1gb\"\n";
    let e = refusal(&[&scenario(src)], None).expect("refused");
    assert_eq!((e.line, e.column), (9, 8), "{e}");
    assert!(
        e.message
            .contains("bytes moved 10.00 TB, over the limit of 10.00 GB"),
        "{e}"
    );
    assert!(e.message.contains("`size`"), "{e}");
    // 10000 requests over 80 configurations (10 profiles × 2 TLS versions × resumption or
    // not, 2 protocols): 4.58 GB at one repetition, so memory, at `count`.
    let src = "name = \"x\"\nrepeat = 1\nprotocols = [\"http1.1\", \"h2\"]\n[client]\n\
               profile = [\"ie7\", \"ie8\", \"ie10\", \"ie11\", \"chrome\", \"firefox\", \
               \"safari\", \"opera\", \"rfc2616\", \"unlimited\"]\n\
               tls_version = [\"1.2\", \"1.3\"]\nresumption = [false, true]\n\
               [[resource]]\npath = \"/o/{i}\"\ncount = 10000\n";
    let e = refusal(&[&scenario(src)], None).expect("refused");
    assert_eq!((e.line, e.column), (10, 9), "{e}");
    assert!(e.message.contains("estimated peak memory"), "{e}");
    assert!(e.message.contains("`count`"), "{e}");
}

#[test]
fn a_sweep_holds_every_point_at_once() {
    // Each point alone fits (200,000 requests: 1.46 GB); four together do not (4.58 GB).
    let src = "name = \"x\"\nrepeat = 20\nprotocols = [\"h2\"]\n[[resource]]\npath = \"/o/{i}\"\ncount = 10000\n";
    let one = scenario(src);
    assert_eq!(refusal(&[&one], None), None);
    let points = vec![&one, &one, &one, &one];
    let b = Budget::of_all(points.iter().copied());
    assert_eq!(b.requests, 800_000);
    let e = refusal(&points, None).expect("refused");
    assert_eq!(e.line, 2, "{e}");
    // 417 MB for the largest run and the base, 208 MB a repetition of all four points.
    assert!(e.message.contains("at most 17 repetitions fit"), "{e}");
}

#[test]
fn long_runs_are_warned_of_not_refused() {
    // 60 requests of 5 s think over 6 connections, 100 times: 50 s a run.
    let src = "name = \"x\"\nrepeat = 100\nprotocols = [\"http1.1\"]\n[server]\nthink = \"5s\"\n\
               [[resource]]\npath = \"/o/{i}\"\ncount = 60\n";
    let b = Budget::of(&scenario(src));
    assert_eq!(b.crossed(), vec![]);
    let warning = b.wall_warning().expect("warned");
    assert!(warning.contains("about 83 min"), "{warning}");
}

#[test]
fn people_read_the_sizes() {
    assert_eq!(bytes(512), "512 B");
    assert_eq!(bytes(2_600_000_000_000), "2.60 TB");
    assert_eq!(duration(Duration::from_secs(50_000)), "13.9 h");
    assert_eq!(duration(Duration::from_secs(42)), "42 s");
}
