//! The `httplab` binary: argument parsing and wiring. Loading a scenario, starting the lab,
//! running it and writing the reports all live in the library crates; this file connects them
//! and turns their errors into messages and exit codes (2 for a bad scenario or argument).
#![forbid(unsafe_code)]

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use httplab_core::{units, Protocol, Scenario};
use httplab_harness::{
    available_congestion_controls, environment_facts, run_point, Lab, LabOptions, LinkMode,
    SweepPlan,
};
use httplab_report::{summarize, Environment, RunFolder, SweepPoint};
use httplab_server::LabServer;
use httplab_tls::{CertStore, ALPN_HTTP10, ALPN_HTTP11};
use indicatif::{ProgressBar, ProgressStyle};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "httplab",
    version,
    about = "Compare HTTP/1.0, HTTP/1.1 and HTTP/2 on one workload, phase by phase"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario over each protocol and write the reports.
    Run {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Output folder [default: reports/<scenario name>/].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Protocols to run instead of the scenario's list, comma-separated (e.g. http1.0,http1.1).
        #[arg(long, value_delimiter = ',')]
        protocols: Option<Vec<String>>,
        /// Repetitions per protocol instead of the scenario's `repeat`.
        #[arg(long)]
        repeat: Option<u32>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Override a scenario key before it is read, e.g. --set network.rtt=100ms or
        /// --set client.profile=ie7 (repeatable; VALUE is TOML if it parses, else a string).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Write every packet the emulated link carries, with its real timestamp, to this pcap
        /// file (tshark and Wireshark open it; with SSLKEYLOGFILE set, TLS decrypts too).
        #[arg(long, value_name = "FILE")]
        pcap: Option<PathBuf>,
        /// Run on plain loopback even when the scenario has a [network] table.
        #[arg(long)]
        no_link: bool,
    },
    /// Serve a scenario's resources alone, for curl, h2load or a browser.
    Serve {
        scenario: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Serve over TLS with the lab's certificate (certs/).
        #[arg(long)]
        tls: bool,
    },
    /// Validate a scenario file without running it.
    Check {
        scenario: PathBuf,
        /// Override a scenario key before it is read, as for `run`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// List the scenario library: each file with the first line of its comment block.
    Scenarios {
        /// The folder to list [default: ./scenarios, else the repository's].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// List the client profiles (`[client] profile`) with their connection caps and sources.
    Profiles,
    /// Compare two run folders (the same scenario under two conditions): the change per
    /// protocol, its 95% interval and significance, in compare.md and compare.html.
    Compare {
        /// The baseline run folder (as `httplab run` wrote it).
        a: PathBuf,
        /// The run folder compared against it.
        b: PathBuf,
        /// Output folder [default: B/compare-vs-<name of A>/].
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Measure what the emulated link adds to each round trip on this machine: connect across
    /// it repeatedly and print the host's facts, the link's stamping and its excess per RTT.
    Calibrate {
        /// The link's round-trip time.
        #[arg(long, default_value = "40ms")]
        rtt: String,
        /// Connects to make (at most 1000).
        #[arg(long, default_value_t = 20)]
        connects: usize,
    },
    /// Run a scenario once per value of one key and chart page load time against the value.
    Sweep {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// The key and its values, e.g. --vary network.rtt=20ms,50ms,100ms,200ms (each value
        /// applied like --set KEY=VALUE, after any --set).
        #[arg(long, value_name = "KEY=V1,V2,...")]
        vary: String,
        /// Override a scenario key at every value, as for `run`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Output folder [default: reports/<scenario>-sweep-<key>/]; one report folder per
        /// value inside it, named KEY=VALUE.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Protocols to run instead of the scenario's list, comma-separated.
        #[arg(long, value_delimiter = ',')]
        protocols: Option<Vec<String>>,
        /// Repetitions per protocol at each value instead of the scenario's `repeat`.
        #[arg(long)]
        repeat: Option<u32>,
        /// No progress bar and no summary.
        #[arg(long)]
        quiet: bool,
        /// Run on plain loopback even when the scenario has a [network] table.
        #[arg(long)]
        no_link: bool,
    },
}

/// An error the user caused and can fix: printed as is, exit status 2.
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<UsageError>() => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command) -> Result<()> {
    match command {
        Command::Check { scenario, set } => {
            let s = load_with(&scenario, &set)?;
            let variants: Vec<&str> = s.variants.iter().map(|v| v.label.as_str()).collect();
            println!(
                "{}: ok — scenario `{}`, {} requests ({}), protocols {}, repeat {}, TCP congestion control {}{}",
                scenario.display(),
                s.name,
                s.resources.len(),
                units::format_size(s.page_bytes()),
                ids(&s.protocols),
                s.repeat,
                s.congestion_control.name,
                if variants.is_empty() {
                    String::new()
                } else {
                    format!(", client variants {}", variants.join(", "))
                }
            );
            Ok(())
        }
        Command::Scenarios { dir } => list_scenarios(dir),
        Command::Profiles => {
            println!("{:<10} {:>11}  source", "profile", "connections");
            for p in httplab_core::profile::PROFILES {
                println!(
                    "{:<10} {:>11}  {}",
                    p.name, p.max_connections_per_host, p.source
                );
            }
            Ok(())
        }
        Command::Run {
            scenario,
            out,
            protocols,
            repeat,
            quiet,
            set,
            pcap,
            no_link,
        } => {
            let link = LinkChoice { pcap, no_link };
            run(&scenario, &set, out, protocols, repeat, quiet, link).await
        }
        Command::Serve {
            scenario,
            listen,
            tls,
        } => serve(&scenario, listen, tls).await,
        Command::Compare { a, b, out } => compare_folders(&a, &b, out),
        Command::Calibrate { rtt, connects } => calibrate(&rtt, connects).await,
        Command::Sweep {
            scenario,
            vary,
            set,
            out,
            protocols,
            repeat,
            quiet,
            no_link,
        } => {
            let args = SweepArgs {
                vary,
                set,
                out,
                protocols,
                repeat,
                quiet,
                no_link,
            };
            sweep(&scenario, args).await
        }
    }
}

/// `httplab calibrate`: the host's facts, then the link's calibration; fails (status 1) when
/// the link cannot run or the calibration's self-check does not trust it.
async fn calibrate(rtt: &str, connects: usize) -> Result<()> {
    let rtt = units::parse_duration(rtt).map_err(|e| UsageError(format!("--rtt {rtt}: {e}")))?;
    if rtt.is_zero() || rtt > Duration::from_secs(10) || connects == 0 {
        return Err(UsageError(format!(
            "--rtt must be above zero and at most 10s, --connects from 1 to {}",
            httplab_harness::MAX_CALIBRATION_CONNECTS
        ))
        .into());
    }
    let facts = environment_facts();
    let fact = |name: &str| {
        facts
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("unknown", |(_, v)| v.as_str())
    };
    let available = httplab_harness::available_congestion_controls()
        .map_or_else(|| "unknown".into(), |names| names.join(" "));
    println!(
        "host: {} cores, kernel {}, host congestion control {} (available: {available})",
        fact("cpus"),
        fact("kernel"),
        fact("congestion_control"),
    );
    let c = httplab_harness::calibrate(rtt, connects)
        .await
        .context("the link could not be calibrated")?;
    let l = &c.link;
    let (least, median) = c.connect_excess();
    println!(
        "link: stamping {}{}, relay threads {}, CPUs {}",
        l.stamping.as_str(),
        l.stamping_note
            .as_ref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default(),
        if l.realtime {
            "SCHED_FIFO"
        } else {
            "normal policy"
        },
        if l.keep_awake {
            "kept awake"
        } else {
            "free to halt (no SCHED_IDLE)"
        },
    );
    println!(
        "calibration: {} connects across a {} link: each took the RTT plus {} (least) / {} \
         (median)",
        c.connects.len(),
        units::format_duration(rtt),
        units::format_duration(least),
        units::format_duration(median),
    );
    match l.excess_per_rtt {
        Some(e) => println!(
            "calibration excess per RTT (relay's view of {} handshakes): least {}, median {}, \
             most {} (trustworthy up to {})",
            e.handshakes,
            units::format_duration(e.min),
            units::format_duration(e.median),
            units::format_duration(e.max),
            units::format_duration(httplab_harness::MAX_TRUSTWORTHY_EXCESS_PER_RTT),
        ),
        None => println!("calibration excess per RTT: no handshake completed cleanly"),
    }
    println!(
        "lateness p99: uplink {}, downlink {}; the kernel's stamps spared a read delay of {} \
         (p50) / {} (p99) per crossing",
        units::format_duration(l.uplink.lateness_p99),
        units::format_duration(l.downlink.lateness_p99),
        units::format_duration(l.downlink.read_delay_p50.max(l.uplink.read_delay_p50)),
        units::format_duration(l.downlink.read_delay_p99.max(l.uplink.read_delay_p99)),
    );
    if l.trustworthy() {
        println!("the link's self-check trusts this machine");
        Ok(())
    } else {
        anyhow::bail!("the link's self-check does not trust this machine: {l:?}")
    }
}

fn load(path: &Path) -> Result<Scenario> {
    load_with(path, &[])
}

/// Loads a scenario with `--set KEY=VALUE` overrides applied to its text, and checks its TCP
/// congestion control against this host's kernel (where the kernel's list can be read).
fn load_with(path: &Path, set: &[String]) -> Result<Scenario> {
    let overrides = set
        .iter()
        .map(|arg| arg.parse::<httplab_core::Override>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| UsageError(e.to_string()))?;
    let source = std::fs::read_to_string(path).map_err(|e| {
        UsageError(format!(
            "{}: cannot read the scenario file: {e}",
            path.display()
        ))
    })?;
    let scenario = Scenario::parse_with_overrides(&source, &path.display().to_string(), &overrides)
        .map_err(|e| UsageError(e.to_string()))?;
    if let Some(available) = available_congestion_controls() {
        scenario
            .congestion_control
            .check(&available)
            .map_err(|e| UsageError(e.to_string()))?;
    }
    Ok(scenario)
}

/// `httplab scenarios`: every `*.toml` of the library with its one-line summary.
fn list_scenarios(dir: Option<PathBuf>) -> Result<()> {
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios");
    let dir = dir.unwrap_or_else(|| {
        let here = PathBuf::from("scenarios");
        if here.is_dir() {
            here
        } else {
            repository
        }
    });
    let entries = std::fs::read_dir(&dir).map_err(|e| {
        UsageError(format!(
            "{}: cannot list the scenario library: {e} (choose the folder with --dir)",
            dir.display()
        ))
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    for file in files {
        let name = file
            .file_stem()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let source = std::fs::read_to_string(&file).unwrap_or_default();
        let summary = httplab_core::scenario::comment_summary(&source)
            .unwrap_or_else(|| "(no comment block)".to_string());
        println!("{name:<20} {summary}");
    }
    println!("run one: httplab run {}/NAME.toml", dir.display());
    Ok(())
}

fn ids(protocols: &[Protocol]) -> String {
    protocols
        .iter()
        .map(|p| p.id())
        .collect::<Vec<_>>()
        .join(", ")
}

/// How `run` uses the link emulator.
struct LinkChoice {
    pcap: Option<PathBuf>,
    no_link: bool,
}

async fn run(
    path: &Path,
    set: &[String],
    out: Option<PathBuf>,
    protocols: Option<Vec<String>>,
    repeat: Option<u32>,
    quiet: bool,
    link: LinkChoice,
) -> Result<()> {
    let mut scenario = load_with(path, set)?;
    if let Some(list) = protocols {
        scenario.protocols = chosen_protocols(&list)?;
    }
    if let Some(n) = repeat {
        scenario.repeat = checked_repeat(n)?;
    }
    let out = out.unwrap_or_else(|| Path::new("reports").join(&scenario.name));
    let scenario = Arc::new(scenario);

    if link.pcap.is_some() && (scenario.network.is_none() || link.no_link) {
        return Err(UsageError(
            "--pcap records the emulated link's packets: the scenario needs a [network] table \
             (e.g. --set network.rtt=40ms), and --no-link switches the link off"
                .into(),
        )
        .into());
    }
    let options = LabOptions {
        link: if link.no_link {
            LinkMode::Off
        } else {
            LinkMode::Auto
        },
        pcap: link.pcap.clone(),
        ..LabOptions::default()
    };
    let lab = Lab::start(scenario.clone(), options).await?;
    let network_note = lab.network_note().map(str::to_string);
    if let Some(note) = &network_note {
        eprintln!("note: {note}");
    }
    let total = (lab.plan(&scenario.protocols).len() * scenario.repeat as usize) as u64;
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total)
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} runs {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(format!(
        "`{}` over {}",
        scenario.name,
        ids(&scenario.protocols)
    ));
    let result = lab
        .run_all(&scenario.protocols, scenario.repeat, |p| {
            bar.set_message(format!(
                "{} repetition {}/{}",
                lab.label(&p.config),
                p.repetition + 1,
                scenario.repeat
            ));
            bar.set_position(p.done as u64);
        })
        .await;
    bar.finish_and_clear();
    lab.shutdown().await;
    let runs = result?;

    let mut env = Environment {
        httplab_version: env!("CARGO_PKG_VERSION").to_string(),
        command_line: std::env::args().collect::<Vec<_>>().join(" "),
        ..environment(&environment_facts())
    };
    env.notes.extend(network_note);
    let written = httplab_report::write_all(&out, &scenario, &runs, &env)
        .with_context(|| format!("writing the reports into {}", out.display()))?;
    if !quiet {
        for s in summarize(&runs) {
            println!(
                "{:<26} page {:>9} median ({:>9} p95), {:>5.1} connections, mean blocked {:>8}, mean TTFB {:>8}{}",
                s.label,
                units::format_duration(s.page_time_median),
                units::format_duration(s.page_time_p95),
                s.connections_opened,
                units::format_duration(s.mean_blocked),
                units::format_duration(s.mean_ttfb),
                if s.failed_requests > 0 { format!(", {} FAILED requests", s.failed_requests) } else { String::new() },
            );
        }
        for line in httplab_report::network_lines(&scenario, &runs, &env) {
            println!("{line}");
        }
        println!("wrote {} files to {}:", written.len(), out.display());
        for f in &written {
            println!("  {}", f.display());
        }
        if let Some(pcap) = &link.pcap {
            println!("  {} (every packet the link carried)", pcap.display());
        }
    }
    Ok(())
}

fn environment(facts: &[(&'static str, String)]) -> Environment {
    let fact = |name: &str| {
        facts
            .iter()
            .find(|(k, _)| *k == name)
            .map_or_else(|| "unknown".to_string(), |(_, v)| v.clone())
    };
    Environment {
        hostname: fact("hostname"),
        kernel: fact("kernel"),
        congestion_control: fact("congestion_control"),
        notes: vec![
            format!(
                "host tcp_slow_start_after_idle = {}",
                fact("tcp_slow_start_after_idle")
            ),
            format!("cpus = {}", fact("cpus")),
        ],
        ..Environment::default()
    }
}

async fn serve(path: &Path, listen: SocketAddr, tls: bool) -> Result<()> {
    let scenario = Arc::new(load(path)?);
    let certs = if tls {
        Some(CertStore::open_or_create(CertStore::default_dir())?)
    } else {
        None
    };
    let config = match &certs {
        // ALPN picks the protocol per connection: h2 first, as browsers prefer it.
        Some(store) => {
            Some(store.server_config(&[httplab_tls::ALPN_H2, ALPN_HTTP11, ALPN_HTTP10])?)
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}: is another server using the port? choose one with --listen"))?;
    // Accepted connections inherit the listener's congestion control: the scenario's, as in
    // `run`, not the host's default. A host that refuses it (an unprivileged user may set only
    // the names in net.ipv4.tcp_allowed_congestion_control) serves with its own, and says so.
    let wanted = &scenario.congestion_control.name;
    if let Err(e) = httplab_harness::set_congestion(&listener, wanted) {
        eprintln!(
            "warning: cannot set TCP congestion control {wanted} on the listener ({e}); \
             serving with the host's default"
        );
    }
    let congestion_control =
        httplab_harness::get_congestion(&listener).unwrap_or_else(|e| format!("unknown ({e})"));
    let server = LabServer::start(
        listener,
        scenario.clone(),
        httplab_core::Clock::start(),
        config,
    )?;
    let addr = server.local_addr();
    let (scheme, host) = if tls {
        ("https", "localhost")
    } else {
        ("http", "127.0.0.1")
    };
    println!(
        "serving `{}` ({} resources) on {scheme}://{host}:{}",
        scenario.name,
        scenario.resources.len(),
        addr.port()
    );
    println!("TCP congestion control: {congestion_control}");
    if let Some(first) = scenario.resources.first() {
        let cacert = certs
            .as_ref()
            .map(|c| format!(" --cacert {}", c.ca_cert_path().display()))
            .unwrap_or_default();
        println!("try: curl --http1.1{cacert} {scheme}://{host}:{}{} -o /dev/null -w '%{{http_code}} %{{size_download}}\\n'", addr.port(), first.path);
        let h2 = if tls {
            "--http2"
        } else {
            "--http2-prior-knowledge"
        };
        println!("     curl {h2}{cacert} {scheme}://{host}:{}{} -o /dev/null -w '%{{http_version}} %{{size_download}}\\n'", addr.port(), first.path);
    }
    println!("Ctrl-C stops it.");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    server.shutdown().await;
    Ok(())
}

/// `httplab compare A B`: reads both folders' results.json, writes compare.md and compare.html.
fn compare_folders(a: &Path, b: &Path, out: Option<PathBuf>) -> Result<()> {
    let load = |dir: &Path| RunFolder::load(dir).map_err(|e| UsageError(e.to_string()));
    let (a, b_folder) = (load(a)?, load(b)?);
    let out = out.unwrap_or_else(|| b.join(format!("compare-vs-{}", a.name())));
    let written = httplab_report::write_compare(&out, &a, &b_folder, env!("CARGO_PKG_VERSION"))
        .with_context(|| format!("writing the comparison into {}", out.display()))?;
    let c = httplab_report::compare(&a.runs, &b_folder.runs);
    for m in &c.matched {
        println!("{}", httplab_report::change_sentence(m).replace("**", ""));
    }
    for (side, labels) in [("A", &c.only_a), ("B", &c.only_b)] {
        if !labels.is_empty() {
            println!("only in {side}: {}", labels.join(", "));
        }
    }
    println!("wrote {}", paths(&written));
    Ok(())
}

fn paths(written: &[PathBuf]) -> String {
    written
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `httplab sweep`'s options beside the scenario.
struct SweepArgs {
    vary: String,
    set: Vec<String>,
    out: Option<PathBuf>,
    protocols: Option<Vec<String>>,
    repeat: Option<u32>,
    quiet: bool,
    no_link: bool,
}

/// `--protocols` as protocol ids, each once, at least one.
fn chosen_protocols(list: &[String]) -> Result<Vec<Protocol>> {
    let mut chosen = Vec::new();
    for id in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let p: Protocol = id
            .parse()
            .map_err(|e| UsageError(format!("--protocols: {e}")))?;
        if !chosen.contains(&p) {
            chosen.push(p);
        }
    }
    if chosen.is_empty() {
        return Err(UsageError("--protocols: name at least one protocol".into()).into());
    }
    Ok(chosen)
}

/// `--repeat`, within the scenario's bounds.
fn checked_repeat(n: u32) -> Result<u32> {
    if !(1..=httplab_core::scenario::MAX_REPEAT).contains(&n) {
        return Err(UsageError(format!(
            "--repeat must be between 1 and {}",
            httplab_core::scenario::MAX_REPEAT
        ))
        .into());
    }
    Ok(n)
}

/// `httplab sweep SCENARIO --vary KEY=V1,V2,...`: plans every value (refusing a bad one before
/// anything runs), runs each on a lab of its own, writes each value's report folder as it
/// finishes, then sweep.json, sweep.md and sweep.html.
async fn sweep(path: &Path, args: SweepArgs) -> Result<()> {
    let overrides = args
        .set
        .iter()
        .map(|arg| arg.parse::<httplab_core::Override>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| UsageError(e.to_string()))?;
    let source = std::fs::read_to_string(path).map_err(|e| {
        UsageError(format!(
            "{}: cannot read the scenario file: {e}",
            path.display()
        ))
    })?;
    let mut plan = SweepPlan::new(&source, &path.display().to_string(), &overrides, &args.vary)
        .map_err(|e| UsageError(e.to_string()))?;
    if let Some(available) = available_congestion_controls() {
        plan.check_congestion_control(&available)
            .map_err(|e| UsageError(e.to_string()))?;
    }
    let protocols = args
        .protocols
        .as_deref()
        .map(chosen_protocols)
        .transpose()?;
    let repeat = args.repeat.map(checked_repeat).transpose()?;
    for point in &mut plan.points {
        if let Some(p) = &protocols {
            point.scenario.protocols = p.clone();
        }
        if let Some(n) = repeat {
            point.scenario.repeat = n;
        }
    }
    let key = plan.key.clone();
    let name = plan
        .points
        .first()
        .map_or_else(String::new, |p| p.scenario.name.clone());
    let out = args
        .out
        .unwrap_or_else(|| Path::new("reports").join(format!("{name}-sweep-{key}")));
    let options = LabOptions {
        link: if args.no_link {
            LinkMode::Off
        } else {
            LinkMode::Auto
        },
        ..LabOptions::default()
    };
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} runs {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let facts = environment(&environment_facts());
    let total = plan.points.len();
    let mut points: Vec<SweepPoint> = Vec::with_capacity(total);
    let mut last_note: Option<String> = None;
    for (i, planned) in plan.points.into_iter().enumerate() {
        let scenario = Arc::new(planned.scenario);
        bar.set_message(format!("{key}={} ({}/{total})", planned.value, i + 1));
        let result = run_point(scenario.clone(), options.clone(), |p| {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
        })
        .await?;
        if result.network_note.is_some() && result.network_note != last_note {
            if let Some(note) = &result.network_note {
                bar.suspend(|| eprintln!("note: {note}"));
            }
            last_note = result.network_note.clone();
        }
        let mut env = Environment {
            httplab_version: env!("CARGO_PKG_VERSION").to_string(),
            command_line: std::env::args().collect::<Vec<_>>().join(" "),
            ..facts.clone()
        };
        env.notes.extend(result.network_note);
        let dir = out.join(httplab_report::point_folder(&key, &planned.value));
        httplab_report::write_all(&dir, &scenario, &result.runs, &env)
            .with_context(|| format!("writing the reports into {}", dir.display()))?;
        points.push(SweepPoint {
            value: planned.value,
            scenario: Arc::unwrap_or_clone(scenario),
            runs: result.runs,
            env,
        });
    }
    bar.finish_and_clear();
    let written = httplab_report::write_sweep(&out, &key, &points)
        .with_context(|| format!("writing the sweep into {}", out.display()))?;
    if !args.quiet {
        for p in &points {
            let medians: Vec<String> = summarize(&p.runs)
                .iter()
                .map(|s| format!("{} {}", s.label, units::format_duration(s.page_time_median)))
                .collect();
            println!("{key}={:<12} median page {}", p.value, medians.join(", "));
        }
        println!(
            "wrote {} and one report folder per value in {}",
            paths(&written),
            out.display()
        );
    }
    Ok(())
}
