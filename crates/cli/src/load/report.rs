//! What `httplab load` writes and prints: `load.json` (schema `httplab-load/1`, documented in
//! `docs/load-schema.md`), `load.md` with its verdict in words, and the terminal's line a second
//! and summary line. Everything here is laid out from the harness's `LoadResult`s; `load.html`
//! is the report crate's, from load.json alone.

use super::{About, LOAD_SCHEMA};
use anyhow::Result;
use httplab_core::units::format_duration;
use httplab_harness::{Arrival, LoadResult, LoadSecond, ServerKind};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::time::Duration;

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

pub(super) fn progress_line(s: &LoadSecond, so_far: &LoadResult, arrival: Arrival) -> String {
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

fn server_kind(kind: ServerKind) -> &'static str {
    match kind {
        ServerKind::Lab => "lab",
        ServerKind::External => "external",
        ServerKind::Remote => "remote",
    }
}

pub(super) fn load_json(about: &About, results: &[LoadResult]) -> Result<Value> {
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

pub(super) fn load_markdown(about: &About, results: &[LoadResult], arrival: Arrival) -> String {
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
