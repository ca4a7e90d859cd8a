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

mod report;

pub(crate) use report::summary_line;
use report::{load_json, load_markdown, progress_line};

use crate::out_dir::{self, Chosen};
use crate::scenario_args::{load_with_source, Choices};
use crate::servers::{external_sentence, prepare_target, suit_external, TargetArgs};
use crate::{RunArgs, UsageError};
use anyhow::{Context, Result};
use httplab_core::units::{format_duration, parse_duration};
use httplab_core::{Protocol, Scenario};
use httplab_harness::{
    connections_per_browser, Arrival, ExternalOptions, Lab, LabOptions, LinkMode, LoadOptions,
    LoadResult, Shard,
};
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
    Choices::read(args.protocols.as_deref(), None)?.apply(&mut scenario)?;
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
