//! `httplab load`: many browsers at once against one server, one protocol after another, and
//! what each protocol cost the server. It checks the machine can hold the load (file
//! descriptors, ports) before anything runs, prints a line a second, and writes `load.json`
//! (schema `httplab-load/1`), `load.md` and `load.html` (laid out from load.json alone). It
//! runs against the lab's own server, a `--server-cmd` server inside the lab, or a `--target`
//! on the real network (whose bill the lab cannot read: only latency and throughput). A server
//! that dies mid-load ends the run; the failure is in every output and the samples so far are
//! kept. With `--shard K/N` it runs part K of N of the load (`httplab merge` puts the parts
//! back together, through the same writers).
//!
//! The harness runs the users and takes the samples (`Lab::load`); this module wires the
//! command line to it and lays the results out.

use crate::out_dir::{self, Chosen};
use crate::scenario_args::{load_with_source, Choices};
use crate::servers::{external_sentence, prepare_target, suit_external, TargetArgs};
use crate::{RunArgs, UsageError};
use anyhow::{Context, Result};
use httplab_core::units::{format_duration, parse_duration};
use httplab_core::{Protocol, Scenario};
use httplab_harness::{
    connections_per_browser, Arrival, ExternalOptions, Lab, LabOptions, LinkMode, LoadOptions,
    LoadResult, LoadSecond, ServerKind, Shard,
};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The schema of `load.json`.
pub(crate) const LOAD_SCHEMA: &str = "httplab-load/1";
/// File descriptors the process needs beyond its connections (listeners, the link, files).
const FD_MARGIN: u64 = 256;

/// `httplab load`'s own options.
pub(crate) struct LoadArgs {
    pub(crate) users: Option<u32>,
    pub(crate) rate: Option<String>,
    pub(crate) poisson: bool,
    pub(crate) duration: String,
    pub(crate) warmup: String,
    pub(crate) think_between: String,
    /// `--shard K/N` or `auto/N`, as given.
    pub(crate) shard: Option<String>,
}

/// What load.json and load.md say about a load beside its results: the scenario, the network,
/// and whether it was one shard of a load, or shards merged.
pub(crate) struct About {
    pub(crate) scenario: String,
    pub(crate) requests_per_page: usize,
    /// The scenario's digest (`shard::digest`), so shards of different scenarios do not merge.
    pub(crate) digest: String,
    pub(crate) network: String,
    /// Whose server it was, unless the lab's own.
    pub(crate) server: Option<String>,
    /// Why the run ended early (the server died), if it did.
    pub(crate) failure: Option<String>,
    /// Closed model: each user's pause between page loads.
    pub(crate) think_between: Duration,
    pub(crate) shard: Option<Shard>,
    /// The shards' folders, for a merged load.
    pub(crate) merged_from: Vec<String>,
}

pub(crate) async fn load(
    path: &Path,
    load: &LoadArgs,
    args: &RunArgs,
    external: Option<ExternalOptions>,
    target: Option<TargetArgs>,
) -> Result<()> {
    if args.repeat.is_some() {
        return Err(UsageError(
            "--repeat is for `run`: a load runs for --duration (and --warmup) instead".into(),
        )
        .into());
    }
    let shard = crate::shard::from_arg(load.shard.as_deref())?;
    let (mut scenario, source) = load_with_source(path, &args.set)?;
    Choices::read(args.protocols.as_deref(), None)?.apply(&mut scenario);
    if let Some(ext) = &external {
        suit_external(&mut scenario, ext)?;
    }
    let target = match &target {
        Some(t) => Some(prepare_target(t, args, &mut scenario).await?),
        None => None,
    };
    // Whose server it is, for every output: nothing for the lab's own.
    let server = external
        .as_ref()
        .map(external_sentence)
        .or_else(|| target.as_ref().map(|t| t.server.clone()));
    // The lab's server shares this process, so each connection costs two descriptors here.
    let sides = if server.is_some() { 1 } else { 2 };
    let duration = seconds_arg("--duration", &load.duration, false)?;
    let warmup = seconds_arg("--warmup", &load.warmup, true)?;
    let think_between = seconds_arg("--think-between", &load.think_between, true)?;
    let arrival = match (load.users, &load.rate) {
        (Some(0), _) => return Err(UsageError("--users must be at least 1".into()).into()),
        (Some(users), None) => Arrival::Closed { users },
        (None, Some(rate)) => Arrival::Open {
            rate: parse_rate(rate)?,
            poisson: load.poisson,
        },
        _ => {
            return Err(UsageError(
                "give --users N (closed model: N browsers, each loading the page again) or \
                 --rate R/s (open model: R page loads a second, whether or not earlier ones \
                 finished)"
                    .into(),
            )
            .into())
        }
    };
    // The machine holds this shard's users only.
    let users_here = match (arrival, shard) {
        (Arrival::Closed { users }, Some(s)) => {
            let here = u32::try_from(s.share(u64::from(users))).unwrap_or(users);
            if here == 0 {
                return Err(UsageError(format!(
                    "--users {users} --shard {s}: this shard would have no users (user u runs \
                     in shard u mod {}); give at least as many users as shards",
                    s.count()
                ))
                .into());
            }
            Arrival::Closed { users: here }
        }
        _ => arrival,
    };
    let mut ceiling = 0;
    for &protocol in &scenario.protocols {
        ceiling = ceiling.max(check_machine(&scenario, protocol, users_here, sides)?);
    }
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports").join(format!(
            "{}-load{}",
            scenario.name,
            crate::shard::folder_suffix(shard)
        ))
    });
    let chosen = if args.out.is_some() {
        Chosen::Named
    } else {
        Chosen::Default
    };
    if let Some(note) = out_dir::prepare(&out, chosen, args.force)? {
        eprintln!("{note}");
    }
    // The outputs of a load show no header fields, so the records keep none.
    httplab_harness::keep_header_fields(false);
    let scenario = Arc::new(scenario);
    let lab = Lab::start(
        scenario.clone(),
        LabOptions {
            counting_log: true,
            external: external.clone(),
            target: target.as_ref().map(|t| t.options.clone()),
            link: if args.no_link || target.is_some() {
                LinkMode::Off
            } else {
                LinkMode::Auto
            },
            ..LabOptions::default()
        },
    )
    .await?;
    lab.raise_server_ceiling(usize::try_from(ceiling).unwrap_or(usize::MAX));
    let mut results = Vec::new();
    for &protocol in &scenario.protocols {
        let options = LoadOptions {
            protocol,
            arrival,
            duration,
            warmup,
            think_between,
            seed: scenario.seed,
            shard,
        };
        let result = lab
            .load(&options, |second, so_far| {
                if !args.quiet {
                    eprintln!("{}", progress_line(second, so_far, users_here));
                }
            })
            .await;
        match result {
            Ok(result) => {
                let died = result.failure.is_some();
                results.push(result);
                if died {
                    // The server is gone: the protocols after it cannot run.
                    break;
                }
            }
            Err(e) => {
                lab.shutdown().await;
                return Err(e.into());
            }
        }
    }
    let network = lab.network_note().map(str::to_string);
    lab.shutdown().await;
    let network = match &target {
        Some(t) => Some(format!(
            "real network to {} ({}), no emulated link: path RTT {}, the least of {} TCP connects",
            t.network.target,
            t.network.addr,
            format_duration(t.network.path_rtt()),
            t.network.probes
        )),
        None => network,
    };
    let failure = results.iter().find_map(|r| r.failure.clone()).map(|why| {
        let not_run: Vec<&str> = scenario
            .protocols
            .iter()
            .skip(results.len())
            .map(|p| p.id())
            .collect();
        match not_run.is_empty() {
            true => why,
            false => format!("{why}; not run: {}", not_run.join(", ")),
        }
    });
    let about = About {
        scenario: scenario.name.clone(),
        requests_per_page: scenario.resources.len(),
        digest: crate::shard::digest(&source, &args.set),
        network: network.unwrap_or_else(|| {
            match scenario.network {
                Some(_) => "the scenario's emulated link",
                None => "plain loopback",
            }
            .to_string()
        }),
        server,
        failure,
        think_between,
        shard,
        merged_from: Vec::new(),
    };
    let (json_path, md_path, html_path) = write_load(&out, &about, &results, arrival)?;
    if !args.quiet {
        for r in &results {
            println!("{}", summary_line(r));
        }
        println!(
            "wrote {}, {} and {}",
            json_path.display(),
            md_path.display(),
            html_path.display()
        );
    }
    if let Some(failure) = &about.failure {
        return Err(anyhow::anyhow!(
            "the run ended early: {failure} (the samples so far are in {})",
            out.display()
        ));
    }
    let failed: u64 = results.iter().map(|r| r.failed_pages).sum();
    if failed > 0 {
        return Err(anyhow::anyhow!(
            "{failed} page loads failed (the first: {})",
            results
                .iter()
                .find_map(|r| r.first_failure.as_deref())
                .unwrap_or("unknown")
        ));
    }
    Ok(())
}

/// Writes `out/load.json` and `out/load.md`; returns their paths.
pub(crate) fn write_load(
    out: &Path,
    about: &About,
    results: &[LoadResult],
    arrival: Arrival,
) -> Result<(PathBuf, PathBuf, PathBuf)> {
    let doc = load_json(about, results)?;
    let json_path = out.join("load.json");
    std::fs::write(&json_path, serde_json::to_vec_pretty(&doc)?)
        .with_context(|| format!("writing {}", json_path.display()))?;
    let md_path = out.join("load.md");
    std::fs::write(&md_path, load_markdown(about, results, arrival))
        .with_context(|| format!("writing {}", md_path.display()))?;
    let html_path = out.join("load.html");
    std::fs::write(&html_path, httplab_report::load_html(&doc))
        .with_context(|| format!("writing {}", html_path.display()))?;
    Ok((json_path, md_path, html_path))
}

/// A duration argument in whole or fractional seconds ("30s", "500ms", "2m").
fn seconds_arg(flag: &str, value: &str, zero_ok: bool) -> Result<Duration> {
    let d = parse_duration(value).map_err(|e| UsageError(format!("{flag} {value}: {e}")))?;
    if (!zero_ok && d.is_zero()) || d > Duration::from_secs(24 * 3600) {
        return Err(UsageError(format!(
            "{flag} {value}: give {}up to 24h",
            if zero_ok { "" } else { "more than zero, " }
        ))
        .into());
    }
    Ok(d)
}

/// `--rate 200`, `200/s`: page loads a second, more than zero and at most a million.
fn parse_rate(value: &str) -> Result<f64> {
    let number = value.trim().trim_end_matches("/s");
    match number.parse::<f64>() {
        Ok(r) if r > 0.0 && r <= 1e6 && r.is_finite() => Ok(r),
        _ => Err(UsageError(format!(
            "--rate {value}: give page loads a second, e.g. 200 or 200/s (more than 0, at most \
             1000000)"
        ))
        .into()),
    }
}

/// Refuses a load the machine cannot hold: every connection takes a file descriptor on each
/// side (client and server are one process here) and, at once, a local port. Returns the
/// connections the server must be let hold: twice the users' at once (a page's connections may
/// still be closing on the server as the user's next page opens its own), else, for the open
/// model, what the file descriptors allow.
fn check_machine(
    scenario: &Scenario,
    protocol: Protocol,
    arrival: Arrival,
    sides: u64,
) -> Result<u64> {
    let per_user = connections_per_browser(scenario, protocol);
    let limit = httplab_socket::raise_nofile_limit()
        .map(|l| l.soft)
        .unwrap_or(1024);
    let at_once = match arrival {
        Arrival::Closed { users } => u64::from(users) * per_user,
        // An open model's concurrency depends on the server; the in-flight cap bounds it.
        Arrival::Open { .. } => return Ok(limit.saturating_sub(FD_MARGIN) / 2),
    };
    let need = at_once * sides + FD_MARGIN;
    if need > limit {
        return Err(UsageError(format!(
            "{protocol}: {at_once} connections at once ({per_user} per user) need about {need} \
             file descriptors ({}), and the limit is {limit}: raise it with `ulimit -n {need}` \
             (as root, or up to the hard limit), or use fewer --users",
            if sides == 2 {
                "one each for the client and the lab's server, which share this process"
            } else {
                "one per connection for the clients"
            }
        ))
        .into());
    }
    if let Some(ports) = local_ports() {
        if at_once > ports {
            return Err(UsageError(format!(
                "{protocol}: {at_once} connections at once need as many local ports, and \
                 net.ipv4.ip_local_port_range offers {ports}: widen it (sysctl -w \
                 net.ipv4.ip_local_port_range=\"1024 65535\") or use fewer --users"
            ))
            .into());
        }
    }
    Ok((at_once * 2).min(limit.saturating_sub(FD_MARGIN) / 2))
}

/// How many local ports the kernel hands out (`net.ipv4.ip_local_port_range`).
fn local_ports() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut range = text.split_whitespace().map(str::parse::<u64>);
    let (low, high) = (range.next()?.ok()?, range.next()?.ok()?);
    Some(high.saturating_sub(low) + 1)
}

fn ms(us: u64) -> f64 {
    (us as f64 / 10.0).round() / 100.0
}

/// A count that may be unknown, for the terminal and load.md.
fn or_na<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "n/a".into(), |v| v.to_string())
}

/// Bytes in KiB or MiB, for people.
fn bytes(b: Option<f64>) -> String {
    match b {
        None => "n/a".into(),
        Some(b) if b >= 1024.0 * 1024.0 => format!("{:.1} MiB", b / 1024.0 / 1024.0),
        Some(b) => format!("{:.1} KiB", b / 1024.0),
    }
}

fn progress_line(s: &LoadSecond, so_far: &LoadResult, arrival: Arrival) -> String {
    let who = match arrival {
        Arrival::Closed { users } => format!("{}/{users} users", s.users),
        Arrival::Open { rate, .. } => format!("{rate}/s offered, {} in flight", s.users),
    };
    let phase = if s.at < 0 { " (warm-up)" } else { "" };
    format!(
        "{} {:>4}s{phase}: {who}, {} pages/s, p99 {} ms so far; server {} connections at peak, \
         {} new, heap {}",
        so_far.protocol,
        s.at + 1,
        s.pages,
        ms(so_far.page_latency.value_at_quantile(0.99)),
        or_na(s.peak_connections),
        or_na(s.accepted),
        bytes(s.server_memory_bytes.map(|b| b as f64)),
    )
}

pub(crate) fn summary_line(r: &LoadResult) -> String {
    let secs = r.duration.as_secs_f64().max(1e-9);
    format!(
        "{:<18} {:>8.1} pages/s, page p50 {} ms, p99 {} ms, {} failed; server peak {} \
         connections, {} ms CPU per page, {} per connection",
        r.protocol.id(),
        (r.pages - r.failed_pages) as f64 / secs,
        ms(r.page_latency.value_at_quantile(0.5)),
        ms(r.page_latency.value_at_quantile(0.99)),
        r.failed_pages,
        or_na(r.server_connections().map(|c| c.0)),
        r.server_cpu_per_page_ms()
            .map_or_else(|| "?".into(), |c| format!("{c:.2}")),
        bytes(r.memory_per_connection_bytes()),
    )
}

/// Percentiles of a histogram in milliseconds.
fn percentiles(h: &hdrhistogram::Histogram<u64>) -> Value {
    let q = |q: f64| ms(h.value_at_quantile(q));
    json!({
        "count": h.len(),
        "p50_ms": q(0.5), "p90_ms": q(0.9), "p99_ms": q(0.99), "p99_9_ms": q(0.999),
        "max_ms": ms(h.max()),
    })
}

pub(crate) fn server_kind(kind: ServerKind) -> &'static str {
    match kind {
        ServerKind::Lab => "lab",
        ServerKind::External => "external",
        ServerKind::Remote => "remote",
    }
}

fn load_json(about: &About, results: &[LoadResult]) -> Result<Value> {
    let mut protocols = Vec::with_capacity(results.len());
    for r in results {
        let mut entry = protocol_json(r, about);
        entry["histograms"] = json!({
            "page_latency_us": crate::hdr::encode(&r.page_latency)?,
            "request_latency_us": crate::hdr::encode(&r.request_latency)?,
        });
        protocols.push(entry);
    }
    Ok(json!({
        "schema": LOAD_SCHEMA,
        "httplab_version": env!("CARGO_PKG_VERSION"),
        "scenario": {
            "name": about.scenario,
            "requests_per_page": about.requests_per_page,
            "digest": about.digest,
        },
        "network": about.network,
        "server": about.server,
        "failure": about.failure,
        "verdict": verdict(results).map(|v| v.replace("**", "")),
        "shard": crate::shard::shard_json(about.shard),
        "merged_from": (!about.merged_from.is_empty()).then_some(&about.merged_from),
        "protocols": protocols,
    }))
}

/// One protocol's entry in load.json.
fn protocol_json(r: &LoadResult, about: &About) -> Value {
    let connections = r.server_connections();
    let secs = r.duration.as_secs_f64().max(1e-9);
    let answered = r.pages - r.failed_pages;
    let accepted = r
        .measured_seconds()
        .map(|s| s.accepted)
        .sum::<Option<u64>>();
    json!({
        "protocol": r.protocol.id(),
        "arrival": match r.arrival {
            Arrival::Closed { users } => json!({
                "model": "closed", "users": users,
                "think_between_s": about.think_between.as_secs_f64(),
            }),
            Arrival::Open { rate, poisson } => json!({
                "model": "open", "rate_per_s": rate,
                "schedule": if poisson { "poisson" } else { "constant" },
            }),
        },
        "duration_s": r.duration.as_secs_f64(),
        "warmup_s": r.warmup.as_secs_f64(),
        "failure": r.failure,
        "pages": r.pages,
        "failed_pages": r.failed_pages,
        "first_failure": r.first_failure,
        "pages_per_s": answered as f64 / secs,
        "requests": r.requests,
        "failed_requests": r.failed_requests,
        "requests_per_s": (r.requests - r.failed_requests) as f64 / secs,
        "page_latency": percentiles(&r.page_latency),
        "request_latency": percentiles(&r.request_latency),
        "bytes": r.bytes,
        "bytes_per_page": r.bytes as f64 / r.pages.max(1) as f64,
        "client_connections": r.connections_opened,
        "client_connections_per_page": r.connections_opened as f64 / r.pages.max(1) as f64,
        "server": {
            "kind": server_kind(r.server),
            "peak_connections": connections.map(|c| c.0),
            "mean_connections": connections.map(|c| c.1),
            "new_connections_per_s": accepted.map(|a| a as f64 / secs),
            "tls_handshakes_per_s": r.tls_handshakes_per_s(),
            "cpu_ms_per_page": r.server_cpu_per_page_ms(),
            "baseline_memory_bytes": r.baseline_memory_bytes,
            "baseline_socket_memory_bytes": r.baseline_socket_memory_bytes,
            "peak_memory_bytes": r.peak_memory_bytes(),
            "memory_per_connection_bytes": r.memory_per_connection_bytes(),
            "socket_memory_bytes_peak": r.peak_socket_memory_bytes(),
            "socket_memory_per_connection_bytes": r.socket_memory_per_connection_bytes(),
            "peak_time_wait": r.measured_seconds().filter_map(|s| s.time_wait).max(),
            "peak_fds": r.measured_seconds().filter_map(|s| s.fds).max(),
        },
        "seconds": r.seconds.iter().map(second_json).collect::<Vec<_>>(),
    })
}

/// One second's entry in load.json.
fn second_json(s: &LoadSecond) -> Value {
    json!({
        "at_s": s.at, "users": s.users, "pages": s.pages, "failed": s.failed,
        "p50_ms": ms(s.p50_us), "p99_ms": ms(s.p99_us),
        "peak_connections": s.peak_connections,
        "open_connections": s.open_connections,
        "accepted": s.accepted,
        "tls_handshakes": s.tls_handshakes,
        "server_cpu_ms": s.server_cpu_ns.map(|n| n as f64 / 1e6),
        "server_memory_bytes": s.server_memory_bytes,
        "socket_memory_bytes": s.socket_memory_bytes,
        "time_wait": s.time_wait,
        "fds": s.fds,
    })
}

fn load_markdown(about: &About, results: &[LoadResult], arrival: Arrival) -> String {
    let mut md = String::new();
    let who = match arrival {
        Arrival::Closed { users } => format!("{users} browsers in a closed loop"),
        Arrival::Open { rate, poisson } => format!(
            "{rate} page loads a second ({})",
            if poisson {
                "Poisson arrivals"
            } else {
                "evenly spaced"
            }
        ),
    };
    let _ = writeln!(md, "# httplab load: {}\n", about.scenario);
    if let Some(failure) = &about.failure {
        let _ = writeln!(
            md,
            "> **The run ended early:** {failure}. The figures below cover the seconds before \
             it.\n"
        );
    }
    let _ = writeln!(
        md,
        "{who}, each loading the scenario's page of {} requests. Latency runs from each page's \
         intended start (no coordinated omission).\n",
        about.requests_per_page
    );
    if let Some(part) = part_sentence(about, arrival) {
        let _ = writeln!(md, "{part}\n");
    }
    let _ = writeln!(
        md,
        "Server: {}. Network: {}.\n",
        about.server.as_deref().unwrap_or("the lab's own"),
        about.network
    );
    md.push_str("| protocol | pages/s | page p50 | p90 | p99 | p99.9 | max | failed |\n");
    md.push_str("|---|---|---|---|---|---|---|---|\n");
    for r in results {
        let secs = r.duration.as_secs_f64().max(1e-9);
        let q =
            |q: f64| format_duration(Duration::from_micros(r.page_latency.value_at_quantile(q)));
        let _ = writeln!(
            md,
            "| {} | {:.1} | {} | {} | {} | {} | {} | {} |",
            r.protocol.id(),
            (r.pages - r.failed_pages) as f64 / secs,
            q(0.5),
            q(0.9),
            q(0.99),
            q(0.999),
            format_duration(Duration::from_micros(r.page_latency.max())),
            r.failed_pages,
        );
    }
    md.push_str("\n## The server's bill\n\n");
    md.push_str(
        "| protocol | peak connections | mean | new connections/s | TLS handshakes/s | CPU per \
         page | server memory at peak | per connection | socket memory at peak | per \
         connection | TIME-WAIT at peak |\n",
    );
    md.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in results {
        let secs = r.duration.as_secs_f64().max(1e-9);
        let connections = r.server_connections();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.protocol.id(),
            or_na(connections.map(|c| c.0)),
            or_na(connections.map(|c| format!("{:.0}", c.1))),
            or_na(
                r.measured_seconds()
                    .map(|s| s.accepted)
                    .sum::<Option<u64>>()
                    .map(|a| format!("{:.1}", a as f64 / secs))
            ),
            or_na(r.tls_handshakes_per_s().map(|t| format!("{t:.1}"))),
            or_na(r.server_cpu_per_page_ms().map(|c| format!("{c:.2} ms"))),
            bytes(r.peak_memory_bytes().map(|b| b as f64)),
            bytes(r.memory_per_connection_bytes()),
            bytes(r.peak_socket_memory_bytes().map(|b| b as f64)),
            bytes(r.socket_memory_per_connection_bytes()),
            or_na(r.measured_seconds().filter_map(|s| s.time_wait).max()),
        );
    }
    md.push_str(match results.first().map(|r| r.server) {
        Some(ServerKind::Lab) => {
            "\nThe lab's server runs on a thread of its own: its CPU is that thread's clock and \
             its memory the heap that thread holds (the clients share the process, so its RSS \
             would be theirs too). Socket memory is what the kernel has charged to the \
             server's sockets (sock_diag: receive and send queues, reserve). Per connection: \
             the growth over the idle server, over the peak connections.\n"
        }
        Some(ServerKind::External) => {
            "\nThe --server-cmd server's CPU, memory (resident set) and descriptors are its \
             process group's, from /proc; its connections are the kernel's count of its \
             sockets, read once a second.\n"
        }
        _ => {
            "\nA remote target's bill cannot be read from here: only latency and throughput \
             are measured.\n"
        }
    });
    if let Some(verdict) = verdict(results) {
        let _ = writeln!(md, "\n{verdict}");
    }
    md
}

/// What part of a load this is, for a shard or a merge of shards.
fn part_sentence(about: &About, arrival: Arrival) -> Option<String> {
    if let Some(s) = about.shard {
        let (k, n) = (s.index(), s.count());
        let ran = match arrival {
            Arrival::Closed { users } => format!(
                "the {} of the {users} users whose number mod {n} is {k}, each starting when it \
                 would in the whole load",
                s.share(u64::from(users))
            ),
            Arrival::Open { rate, .. } => format!(
                "one arrival in {n} of the whole load's schedule (arrival i where i mod {n} is \
                 {k}), about {:.1} page loads a second",
                rate / f64::from(n)
            ),
        };
        return Some(format!(
            "**Shard {k} of {n}** (`--shard {s}`, counted from 0): it ran {ran}. `httplab merge` \
             combines the {n} shards' folders into the whole load's report."
        ));
    }
    if about.merged_from.is_empty() {
        return None;
    }
    Some(format!(
        "**Merged** by `httplab merge` from {} shards ({}). Latency percentiles come from the \
         shards' HDR histograms added together, as if one histogram had held every sample. Each \
         shard ran its own lab server: the server columns (peak connections, new connections, \
         CPU) are those servers' sums, and each second's p50 and p99 in load.json the highest \
         shard's.",
        about.merged_from.len(),
        about
            .merged_from
            .iter()
            .map(|d| format!("`{d}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// The seed lesson in words, from the numbers: the protocol with the fewest server
/// connections at peak against the one with the most, and their CPU per page.
fn verdict(results: &[LoadResult]) -> Option<String> {
    let peak = |r: &LoadResult| r.server_connections().map_or(0, |c| c.0);
    let fewest = results
        .iter()
        .filter(|r| peak(r) > 0)
        .min_by_key(|r| peak(r))?;
    let most = results.iter().max_by_key(|r| peak(r))?;
    if std::ptr::eq(fewest, most) {
        return None;
    }
    let cpu = match (
        fewest.server_cpu_per_page_ms(),
        most.server_cpu_per_page_ms(),
    ) {
        (Some(a), Some(b)) if b > 0.0 => {
            let change = (a / b - 1.0) * 100.0;
            format!(
                " and {:.0}% {} server CPU per page",
                change.abs(),
                if change <= 0.0 { "less" } else { "more" }
            )
        }
        _ => String::new(),
    };
    Some(format!(
        "**{}** held {} server connections at peak against {}'s {} (1/{:.1}){cpu}.",
        fewest.protocol.id(),
        peak(fewest),
        most.protocol.id(),
        peak(most),
        peak(most) as f64 / peak(fewest) as f64
    ))
}
