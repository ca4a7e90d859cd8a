//! The `httplab` binary: argument parsing and wiring. Loading a scenario, starting the lab,
//! running it and writing the reports all live in the library crates; this file connects them
//! and turns their errors into messages and exit codes (2 for a bad scenario or argument).
#![forbid(unsafe_code)]

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use httplab_core::{units, Protocol, Scenario};
use httplab_harness::{environment_facts, Lab, LabOptions, LinkMode};
use httplab_report::{summarize, Environment};
use httplab_server::LabServer;
use httplab_tls::{CertStore, ALPN_HTTP10, ALPN_HTTP11};
use indicatif::{ProgressBar, ProgressStyle};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

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
                "{}: ok — scenario `{}`, {} requests ({}), protocols {}, repeat {}{}",
                scenario.display(),
                s.name,
                s.resources.len(),
                units::format_size(s.page_bytes()),
                ids(&s.protocols),
                s.repeat,
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
    }
}

fn load(path: &Path) -> Result<Scenario> {
    load_with(path, &[])
}

/// Loads a scenario with `--set KEY=VALUE` overrides applied to its text.
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
    Scenario::parse_with_overrides(&source, &path.display().to_string(), &overrides)
        .map_err(|e| UsageError(e.to_string()).into())
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
        scenario.protocols = chosen;
    }
    if let Some(n) = repeat {
        if !(1..=httplab_core::scenario::MAX_REPEAT).contains(&n) {
            return Err(UsageError(format!(
                "--repeat must be between 1 and {}",
                httplab_core::scenario::MAX_REPEAT
            ))
            .into());
        }
        scenario.repeat = n;
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
        println!("wrote {} files to {}:", written.len(), out.display());
        for f in &written {
            println!("  {}", f.display());
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
                "tcp_slow_start_after_idle = {}",
                fact("tcp_slow_start_after_idle")
            ),
            format!("cpus = {}", fact("cpus")),
            "network: loopback (no link emulation)".to_string(),
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
