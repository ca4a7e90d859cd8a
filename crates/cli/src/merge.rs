//! `httplab merge DIR...`: the folders of `load --shard K/N` or `sweep --shard K/N` runs, one
//! per shard, back into the one report the unsharded run would have written. There is no
//! coordinator: the shards ran wherever a scheduler put them, and merge only reads what each
//! left behind.
//!
//! - Load shards (`load.json`): latency histograms are added bucket by bucket from their HDR
//!   serialization, so merged percentiles are those of every sample; counts are summed; each
//!   second's bill is summed by its `at_s` (each shard ran its own lab server, so the server's
//!   columns are the sum of the shards' servers). The writers are `load.rs`'s own.
//! - Sweep shards (`shard.json` beside the sweep's files): each point's report folder is copied
//!   in, in the order of the sweep's values, and the sweep's summary is written again as
//!   `sweep` writes it, from the points' results.json (`merge/sweep.rs`).
//!
//! Before anything is written it checks the folders are the shards of one run: one schema,
//! one httplab version, one scenario (name and digest), one network, one load or one sweep,
//! one shard count, every shard exactly once; otherwise exit 2, naming the mismatch.

use crate::load::{write_load, About, LOAD_SCHEMA};
use crate::out_dir::{self, Chosen};
use crate::shard::{ShardPart, SHARD_FILE};
use crate::UsageError;
use anyhow::Result;
use hdrhistogram::Histogram;
use httplab_core::Protocol;
use httplab_harness::{Arrival, LoadResult, LoadSecond, ServerKind};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod sweep;

pub(crate) fn merge(
    dirs: &[PathBuf],
    out: Option<PathBuf>,
    force: bool,
    quiet: bool,
) -> Result<()> {
    let is_load = |d: &PathBuf| d.join("load.json").is_file();
    let is_sweep = |d: &PathBuf| d.join(SHARD_FILE).is_file();
    for d in dirs {
        if !is_load(d) && !is_sweep(d) {
            return Err(UsageError(format!(
                "{}: holds neither load.json (from `httplab load --shard K/N`) nor {SHARD_FILE} \
                 (from `httplab sweep --shard K/N`); name the shards' output folders",
                d.display()
            ))
            .into());
        }
    }
    if dirs.iter().all(is_load) {
        merge_loads(dirs, out, force, quiet)
    } else if dirs.iter().all(is_sweep) {
        sweep::merge_sweeps(dirs, out, force, quiet)
    } else {
        let load = dirs.iter().find(|d| is_load(d));
        let sweep = dirs.iter().find(|d| is_sweep(d));
        Err(UsageError(format!(
            "{} holds a load and {} a sweep: merge combines the shards of one run",
            load.map_or_else(String::new, |d| d.display().to_string()),
            sweep.map_or_else(String::new, |d| d.display().to_string())
        ))
        .into())
    }
}

/// Refuses unless every shard's `describe` is the first's, naming the first that differs.
fn agree<S>(
    shards: &[S],
    file: impl Fn(&S) -> &Path,
    describe: impl Fn(&S) -> String,
) -> Result<(), UsageError> {
    let Some(first) = shards.first() else {
        return Ok(());
    };
    let said = describe(first);
    for s in &shards[1..] {
        let other = describe(s);
        if other != said {
            return Err(UsageError(format!(
                "{}: {other}, but {}: {said}; merge combines the shards of one run (one \
                 scenario and --set, one httplab version, the same load or sweep)",
                file(s).display(),
                file(first).display()
            )));
        }
    }
    Ok(())
}

/// Refuses unless the shards (each `(file, its shard)`, all of one count) are shards
/// `0..N`, each exactly once.
fn every_shard_once(shards: &[(&Path, ShardPart)]) -> Result<(), UsageError> {
    let Some(&(_, ShardPart { count, .. })) = shards.first() else {
        return Ok(());
    };
    let mut seen: Vec<Option<&Path>> = vec![None; count as usize];
    for &(file, part) in shards {
        let slot = seen.get_mut(part.index as usize).ok_or_else(|| {
            UsageError(format!(
                "{}: shard {} of {count} is not one of 0..{count}",
                file.display(),
                part.index
            ))
        })?;
        if let Some(other) = slot {
            return Err(UsageError(format!(
                "{} and {} are both shard {} of {count}; give each shard's folder once",
                other.display(),
                file.display(),
                part.index
            )));
        }
        *slot = Some(file);
    }
    let missing: Vec<String> = (0..count)
        .filter(|&i| seen[i as usize].is_none())
        .map(|i| i.to_string())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(UsageError(format!(
        "shard{} {} of {count} {} missing: give the folders of all {count} shards (0 to {})",
        if missing.len() == 1 { "" } else { "s" },
        missing.join(", "),
        if missing.len() == 1 { "is" } else { "are" },
        count - 1
    )))
}

/// The output folder, made ready; never one of the shards' folders or around one.
fn prepare_out(
    dirs: &[PathBuf],
    out: Option<PathBuf>,
    default: PathBuf,
    force: bool,
) -> Result<PathBuf> {
    let (out, chosen) = match out {
        Some(out) => (out, Chosen::Named),
        None => (default, Chosen::Default),
    };
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let target = absolute(&out);
    if let Some(d) = dirs
        .iter()
        .find(|d| absolute(d).starts_with(&target) || target.starts_with(absolute(d)))
    {
        return Err(UsageError(format!(
            "--out {}: is or holds the shard folder {}; name a folder of its own",
            out.display(),
            d.display()
        ))
        .into());
    }
    if let Some(note) = out_dir::prepare(&out, chosen, force)? {
        eprintln!("{note}");
    }
    Ok(out)
}

/// A file's JSON, and its `schema` checked; a mistake is the user's (exit 2), naming the file.
fn read_json(path: &Path, schema: &str) -> Result<Value> {
    let bad = |why: String| UsageError(format!("{}: {why}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    match value.get("schema").and_then(Value::as_str) {
        Some(s) if s == schema => Ok(value),
        found => Err(bad(format!(
            "schema {}; this httplab merges `{schema}`",
            found.map_or_else(|| "missing".into(), |s| format!("`{s}`"))
        ))
        .into()),
    }
}

/// The parts of a load.json every shard must share, read before the rest.
#[derive(Deserialize)]
struct LoadHeader {
    httplab_version: String,
    shard: Option<ShardPart>,
    merged_from: Option<Vec<String>>,
    scenario: ScenarioHeader,
    network: String,
    /// Whose server it was (null: the lab's own), and why the run ended early.
    #[serde(default)]
    server: Option<String>,
    #[serde(default)]
    failure: Option<String>,
}

#[derive(Deserialize)]
struct ScenarioHeader {
    name: String,
    requests_per_page: usize,
    digest: Option<String>,
}

/// One protocol's results in a load.json, as merge needs them.
#[derive(Deserialize)]
struct ProtocolDoc {
    protocol: String,
    arrival: ArrivalDoc,
    duration_s: f64,
    warmup_s: f64,
    pages: u64,
    failed_pages: u64,
    first_failure: Option<String>,
    requests: u64,
    failed_requests: u64,
    bytes: u64,
    client_connections: u64,
    #[serde(default)]
    failure: Option<String>,
    server: ServerDoc,
    seconds: Vec<SecondDoc>,
    histograms: HistogramsDoc,
}

/// The parts of a protocol's `server` merge needs besides the seconds.
#[derive(Deserialize)]
struct ServerDoc {
    kind: String,
    #[serde(default)]
    baseline_memory_bytes: Option<u64>,
    #[serde(default)]
    baseline_socket_memory_bytes: Option<u64>,
}

#[derive(Deserialize, Clone, PartialEq)]
#[serde(tag = "model", rename_all = "lowercase")]
enum ArrivalDoc {
    Closed {
        users: u32,
        #[serde(default)]
        think_between_s: f64,
    },
    Open {
        rate_per_s: f64,
        schedule: String,
    },
}

#[derive(Deserialize)]
struct SecondDoc {
    at_s: i64,
    #[serde(default)]
    users: u64,
    pages: u64,
    failed: u64,
    p50_ms: f64,
    p99_ms: f64,
    peak_connections: Option<u64>,
    open_connections: Option<u64>,
    accepted: Option<u64>,
    #[serde(default)]
    tls_handshakes: Option<u64>,
    server_cpu_ms: Option<f64>,
    #[serde(default)]
    server_memory_bytes: Option<u64>,
    #[serde(default)]
    socket_memory_bytes: Option<u64>,
    #[serde(default)]
    time_wait: Option<u64>,
    fds: Option<u64>,
}

/// A sum over shards, known only where every shard's reading is.
fn sum(into: &mut Option<u64>, add: Option<u64>) {
    *into = into.zip(add).map(|(a, b)| a + b);
}

#[derive(Deserialize)]
struct HistogramsDoc {
    page_latency_us: String,
    request_latency_us: String,
}

/// One load shard: its load.json, header and protocols.
struct LoadShard {
    file: PathBuf,
    header: LoadHeader,
    protocols: Vec<ProtocolDoc>,
    /// Why its protocols could not be read, told once the versions are known to agree (a
    /// version mismatch is the clearer message).
    unreadable: Option<String>,
}

impl LoadShard {
    fn read(dir: &Path) -> Result<LoadShard> {
        let file = dir.join("load.json");
        let value = read_json(&file, LOAD_SCHEMA)?;
        let bad = |e: serde_json::Error| {
            UsageError(format!(
                "{}: not a load.json this httplab can merge ({e}); rerun the shard with this \
                 httplab",
                file.display()
            ))
        };
        let header: LoadHeader = serde_json::from_value(value.clone()).map_err(bad)?;
        let protocols = value.get("protocols").cloned().unwrap_or(Value::Null);
        let (protocols, unreadable) = match serde_json::from_value::<Vec<ProtocolDoc>>(protocols) {
            Ok(p) => (p, None),
            Err(e) => (Vec::new(), Some(bad(e).0)),
        };
        Ok(LoadShard {
            file,
            header,
            protocols,
            unreadable,
        })
    }

    fn path(&self) -> &Path {
        &self.file
    }

    fn scenario(&self) -> String {
        format!(
            "scenario `{}` (digest {})",
            self.header.scenario.name,
            self.header.scenario.digest.as_deref().unwrap_or("none")
        )
    }

    fn load(&self) -> String {
        self.protocols
            .iter()
            .map(|p| {
                let arrival = match &p.arrival {
                    ArrivalDoc::Closed {
                        users,
                        think_between_s,
                    } => format!("{users} users thinking {think_between_s} s"),
                    ArrivalDoc::Open {
                        rate_per_s,
                        schedule,
                    } => format!("{rate_per_s}/s {schedule}"),
                };
                format!(
                    "{} at {arrival} for {} s after {} s of warm-up",
                    p.protocol, p.duration_s, p.warmup_s
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn merge_loads(dirs: &[PathBuf], out: Option<PathBuf>, force: bool, quiet: bool) -> Result<()> {
    let shards: Vec<LoadShard> = dirs
        .iter()
        .map(|d| LoadShard::read(d))
        .collect::<Result<_>>()?;
    let file = LoadShard::path;
    agree(&shards, file, |s| {
        format!("httplab {}", s.header.httplab_version)
    })?;
    for s in &shards {
        if let Some(why) = &s.unreadable {
            return Err(UsageError(why.clone()).into());
        }
        if s.header.merged_from.is_some() {
            return Err(UsageError(format!(
                "{}: is a merge already; merge the shards' own folders",
                s.file.display()
            ))
            .into());
        }
        if s.header.shard.is_none() || s.protocols.is_empty() {
            return Err(UsageError(format!(
                "{}: not a shard (its load ran without --shard K/N, or it holds no results); \
                 merge combines the folders of `httplab load --shard K/N` runs",
                s.file.display()
            ))
            .into());
        }
    }
    agree(&shards, file, LoadShard::scenario)?;
    agree(&shards, file, |s| format!("network `{}`", s.header.network))?;
    agree(&shards, file, |s| format!("the load {}", s.load()))?;
    let parts: Vec<(&Path, ShardPart)> = shards
        .iter()
        .filter_map(|s| Some((s.file.as_path(), s.header.shard?)))
        .collect();
    agree(&parts, |p| p.0, |p| format!("one of {} shards", p.1.count))?;
    every_shard_once(&parts)?;

    let mut results = Vec::new();
    for i in 0..shards[0].protocols.len() {
        let of: Vec<(&Path, &ProtocolDoc)> = shards
            .iter()
            .map(|s| (s.file.as_path(), &s.protocols[i]))
            .collect();
        results.push(merge_protocol(&of)?);
    }
    let first = &shards[0].header;
    let think_between = match &shards[0].protocols[0].arrival {
        ArrivalDoc::Closed {
            think_between_s, ..
        } => seconds(*think_between_s, &shards[0].file)?,
        ArrivalDoc::Open { .. } => Duration::ZERO,
    };
    let about = About {
        scenario: first.scenario.name.clone(),
        requests_per_page: first.scenario.requests_per_page,
        digest: first.scenario.digest.clone().unwrap_or_default(),
        network: first.network.clone(),
        server: first.server.clone(),
        failure: shards
            .iter()
            .find_map(|s| s.header.failure.as_ref())
            .map(|f| format!("a shard's server: {f}")),
        think_between,
        shard: None,
        merged_from: dirs.iter().map(|d| d.display().to_string()).collect(),
    };
    let default = PathBuf::from("reports").join(format!("{}-load", about.scenario));
    let out = prepare_out(dirs, out, default, force)?;
    let (json, md, html) = write_load(&out, &about, &results, results[0].arrival)?;
    if !quiet {
        for r in &results {
            println!("{}", crate::load::summary_line(r));
        }
        println!(
            "merged {} shards: wrote {}, {} and {}",
            shards.len(),
            json.display(),
            md.display(),
            html.display()
        );
    }
    Ok(())
}

/// Seconds from a file as a duration, refusing what is not one.
fn seconds(value: f64, file: &Path) -> Result<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| {
        UsageError(format!(
            "{}: {value} is not a duration in seconds",
            file.display()
        ))
        .into()
    })
}

/// One protocol's results over every shard: histograms added, counts summed, each second's
/// bill summed by its `at_s`.
fn merge_protocol(of: &[(&Path, &ProtocolDoc)]) -> Result<LoadResult> {
    let (file, first) = of[0];
    let protocol: Protocol = first
        .protocol
        .parse()
        .map_err(|e| UsageError(format!("{}: {e}", file.display())))?;
    let arrival = match &first.arrival {
        ArrivalDoc::Closed { users, .. } => Arrival::Closed { users: *users },
        ArrivalDoc::Open {
            rate_per_s,
            schedule,
        } => Arrival::Open {
            rate: *rate_per_s,
            poisson: schedule == "poisson",
        },
    };
    let decode = |file: &Path, what: &str, text: &str| -> Result<Histogram<u64>> {
        crate::hdr::decode(text).map_err(|e| {
            UsageError(format!(
                "{}: {} histograms.{what}: {e}",
                file.display(),
                first.protocol
            ))
            .into()
        })
    };
    let mut page_latency = decode(file, "page_latency_us", &first.histograms.page_latency_us)?;
    let mut request_latency = decode(
        file,
        "request_latency_us",
        &first.histograms.request_latency_us,
    )?;
    let mut by_second: BTreeMap<i64, LoadSecond> = BTreeMap::new();
    let mut result_first_failure = None;
    let (mut pages, mut failed_pages, mut requests, mut failed_requests) = (0, 0, 0, 0);
    let (mut bytes, mut connections_opened) = (0, 0);
    let (mut baseline_memory, mut baseline_sockets) = (Some(0), Some(0));
    let mut failure = None;
    for (i, &(file, p)) in of.iter().enumerate() {
        if i > 0 {
            let add = |into: &mut Histogram<u64>, what: &str, text: &str| -> Result<()> {
                into.add(decode(file, what, text)?).map_err(|e| {
                    UsageError(format!(
                        "{}: {} histograms.{what} cannot be added to the other shards': {e:?}",
                        file.display(),
                        p.protocol
                    ))
                    .into()
                })
            };
            add(
                &mut page_latency,
                "page_latency_us",
                &p.histograms.page_latency_us,
            )?;
            add(
                &mut request_latency,
                "request_latency_us",
                &p.histograms.request_latency_us,
            )?;
        }
        pages += p.pages;
        failed_pages += p.failed_pages;
        requests += p.requests;
        failed_requests += p.failed_requests;
        bytes += p.bytes;
        connections_opened += p.client_connections;
        if result_first_failure.is_none() {
            result_first_failure.clone_from(&p.first_failure);
        }
        if failure.is_none() {
            failure.clone_from(&p.failure);
        }
        sum(&mut baseline_memory, p.server.baseline_memory_bytes);
        sum(&mut baseline_sockets, p.server.baseline_socket_memory_bytes);
        for s in &p.seconds {
            let us = |ms: f64| (ms * 1e3).round() as u64;
            let merged = by_second.entry(s.at_s).or_insert(LoadSecond {
                at: s.at_s,
                users: 0,
                pages: 0,
                failed: 0,
                p50_us: 0,
                p99_us: 0,
                peak_connections: Some(0),
                open_connections: Some(0),
                accepted: Some(0),
                tls_handshakes: Some(0),
                server_cpu_ns: Some(0),
                server_memory_bytes: Some(0),
                socket_memory_bytes: Some(0),
                time_wait: Some(0),
                fds: Some(0),
            });
            merged.users += s.users;
            merged.pages += s.pages;
            merged.failed += s.failed;
            // Exact percentiles of a second need its histogram, which shards do not keep:
            // the highest shard's bounds them from above.
            merged.p50_us = merged.p50_us.max(us(s.p50_ms));
            merged.p99_us = merged.p99_us.max(us(s.p99_ms));
            sum(&mut merged.peak_connections, s.peak_connections);
            sum(&mut merged.open_connections, s.open_connections);
            sum(&mut merged.accepted, s.accepted);
            sum(&mut merged.tls_handshakes, s.tls_handshakes);
            sum(
                &mut merged.server_cpu_ns,
                s.server_cpu_ms.map(|ms| (ms * 1e6).round() as u64),
            );
            sum(&mut merged.server_memory_bytes, s.server_memory_bytes);
            sum(&mut merged.socket_memory_bytes, s.socket_memory_bytes);
            sum(&mut merged.time_wait, s.time_wait);
            sum(&mut merged.fds, s.fds);
        }
    }
    Ok(LoadResult {
        protocol,
        arrival,
        duration: seconds(first.duration_s, file)?,
        warmup: seconds(first.warmup_s, file)?,
        pages,
        failed_pages,
        requests,
        failed_requests,
        page_latency,
        request_latency,
        bytes,
        connections_opened,
        seconds: by_second.into_values().collect(),
        first_failure: result_first_failure,
        server: match first.server.kind.as_str() {
            "external" => ServerKind::External,
            "remote" => ServerKind::Remote,
            _ => ServerKind::Lab,
        },
        baseline_memory_bytes: baseline_memory,
        baseline_socket_memory_bytes: baseline_sockets,
        failure,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(index: u32, count: u32) -> ShardPart {
        ShardPart { index, count }
    }

    #[test]
    fn every_shard_must_come_once() {
        let (a, b, c) = (Path::new("a"), Path::new("b"), Path::new("c"));
        assert!(every_shard_once(&[(a, part(0, 2)), (b, part(1, 2))]).is_ok());
        assert!(every_shard_once(&[(b, part(0, 1))]).is_ok());
        let e = every_shard_once(&[(a, part(0, 3)), (b, part(2, 3))]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "shard 1 of 3 is missing: give the folders of all 3 shards (0 to 2)"
        );
        let e = every_shard_once(&[(a, part(1, 2)), (b, part(0, 2)), (c, part(1, 2))]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a and c are both shard 1 of 2; give each shard's folder once"
        );
        let e = every_shard_once(&[(a, part(0, 4))]).unwrap_err();
        assert!(
            e.to_string().starts_with("shards 1, 2, 3 of 4 are missing"),
            "{e}"
        );
    }

    #[test]
    fn a_mismatch_names_both_files_and_what_differs() {
        let shards = [
            ("a/load.json", "1.0"),
            ("b/load.json", "1.0"),
            ("c/load.json", "1.1"),
        ];
        let e = agree(&shards, |s| Path::new(s.0), |s| format!("httplab {}", s.1)).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "c/load.json: httplab 1.1, but a/load.json: httplab 1.0; merge combines"
            ),
            "{e}"
        );
        assert!(agree(&shards[..2], |s| Path::new(s.0), |s| s.1.to_string()).is_ok());
    }
}
