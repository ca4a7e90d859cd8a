//! The `httplab` binary: the command line, the progress bar, and exit codes. Each command's
//! work lives in the library crates; `run.rs` wires `run` and `sweep` to them,
//! `tools.rs` the commands that run no workload, `import.rs` reads a HAR into a scenario, `scenario_args.rs` reads a scenario with
//! its overrides, and `budget.rs` holds a scenario to the run budget. `load.rs` runs many
//! browsers at once; `shard.rs` reads `--shard` and `merge.rs` puts shards back together. Errors become messages and exit codes (2 for a bad scenario or argument,
//! which is a [`UsageError`]).
#![forbid(unsafe_code)]
// Dev-dependencies serve the integration tests, not every unit-test build.
#![cfg_attr(test, allow(unused_crate_dependencies))]

mod budget;
mod hdr;
mod import;
mod load;
mod merge;
mod out_dir;
mod run;
mod scenario_args;
mod servers;
mod shard;
mod signals;
mod tools;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use httplab_harness::ExternalOptions;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

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
        #[command(flatten)]
        args: RunArgs,
        /// Write every packet the emulated link carries, with its real timestamp, to this pcap
        /// file (tshark and Wireshark open it; with SSLKEYLOGFILE set, TLS decrypts too).
        #[arg(long, value_name = "FILE", conflicts_with = "target")]
        pcap: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
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
    /// Write the reports of a run that was killed before it wrote them, from the run journal
    /// (runs.jsonl) it left in its folder; they are marked incomplete.
    Report {
        /// The run folder.
        dir: PathBuf,
    },
    /// Validate a scenario file without running it.
    Check {
        scenario: PathBuf,
        /// Override a scenario key before it is read, as for `run`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Accept a scenario over the run budget (the limit crossed is named), as `run --force`
        /// would run it.
        #[arg(long)]
        force: bool,
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
    /// Many browsers at once: each virtual user loads the scenario's page as its browser
    /// would, over each protocol in turn; writes load.json and load.md with latency
    /// percentiles (from each page's intended start) and what each protocol cost the server.
    Load {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// Closed model: N browsers, each loading the page again when it has finished.
        #[arg(long, conflicts_with = "rate")]
        users: Option<u32>,
        /// Open model: page loads a second (e.g. 200 or 200/s), whether or not earlier ones
        /// have finished.
        #[arg(long, value_name = "R/s")]
        rate: Option<String>,
        /// Open model: exponential gaps between arrivals (default: evenly spaced).
        #[arg(long, requires = "rate")]
        poisson: bool,
        /// How long to measure, after the warm-up.
        #[arg(long, default_value = "10s")]
        duration: String,
        /// Run but do not measure this long first; closed-model users start spread over it.
        #[arg(long, default_value = "0s")]
        warmup: String,
        /// Closed model: each user's pause between page loads.
        #[arg(long, default_value = "0s")]
        think_between: String,
        /// Run part K of N of the load (K from 0): every Nth arrival of the same schedule, or
        /// the users whose number mod N is K. `auto/N` takes K from JOB_COMPLETION_INDEX
        /// (Kubernetes) or SLURM_ARRAY_TASK_ID (Slurm). `httplab merge` combines the parts.
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
        #[command(flatten)]
        args: RunArgs,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Combine the folders of `load --shard` or `sweep --shard` runs, one per shard, into one
    /// report: histograms added exactly, counts summed, a sweep's points assembled in order.
    Merge {
        /// The shards' folders (every shard of one run, each once).
        #[arg(required = true, value_name = "DIR")]
        dirs: Vec<PathBuf>,
        /// Output folder [default: reports/<scenario>-load/, or for a sweep
        /// reports/<scenario>-sweep-<key>/].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace an output folder that holds another run.
        #[arg(long)]
        force: bool,
        /// No summary.
        #[arg(long)]
        quiet: bool,
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
    /// Make a scenario of a HAR file (DevTools, WebPageTest, sitespeed.io): one resource per
    /// entry a replay can use, with sizes, think times and discovery order, every number's
    /// source in its comments.
    Import {
        /// The HAR file (HAR 1.2).
        har: PathBuf,
        /// The scenario file to write [default: the HAR's name with .toml, beside it].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Replace the scenario file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Run a scenario once per value of one key and chart page load time against the value.
    Sweep {
        /// The scenario file (TOML).
        scenario: PathBuf,
        /// The key and its values, e.g. --vary network.rtt=20ms,50ms,100ms,200ms (each value
        /// applied like --set KEY=VALUE, after any --set).
        #[arg(long, value_name = "KEY=V1,V2,...")]
        vary: String,
        /// Run part K of N of the sweep (K from 0): value i where i mod N is K. `auto/N` takes
        /// K from JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID. `httplab merge` combines them.
        #[arg(long, value_name = "K/N")]
        shard: Option<String>,
        #[command(flatten)]
        args: RunArgs,
    },
}

/// Whose server runs go to (`run`, `load`): the lab's own unless one of these is given.
#[derive(Args)]
struct ServerArgs {
    /// Run against this server instead of the lab's own: CMD runs under `sh -c` in the
    /// lab's server namespace (behind the emulated link), and is stopped, with everything
    /// it started, when the runs end.
    #[arg(long, value_name = "CMD", requires = "server_port")]
    pub(crate) server_cmd: Option<String>,
    /// The port the --server-cmd server listens on (on every address).
    #[arg(long, value_name = "PORT", requires = "server_cmd")]
    pub(crate) server_port: Option<u16>,
    /// The --server-cmd server speaks TLS with the lab's certificate (certs/localhost.pem
    /// and certs/localhost.key): every run uses TLS (h2, HTTP/1.x over TLS).
    #[arg(long, requires = "server_cmd")]
    pub(crate) server_tls: bool,
    /// Run against a server on the real network instead of the lab's own, with no emulated
    /// link: http://HOST[:PORT] or https://HOST[:PORT]. The reports give the path's round
    /// trip (the least of 5 TCP connects) and the analytical model at it.
    #[arg(long, value_name = "URL", conflicts_with = "server_cmd")]
    pub(crate) target: Option<String>,
    /// With an https --target: trust the CAs in this PEM file, not the system's.
    #[arg(
        long,
        value_name = "FILE",
        requires = "target",
        conflicts_with = "insecure"
    )]
    pub(crate) cacert: Option<PathBuf>,
    /// With an https --target: do not verify its certificate (every output says so).
    #[arg(long, requires = "target")]
    pub(crate) insecure: bool,
}

impl ServerArgs {
    /// The user's server (`--server-cmd`) and the remote target (`--target`), as given.
    fn split(self) -> (Option<ExternalOptions>, Option<servers::TargetArgs>) {
        let external = self
            .server_cmd
            .zip(self.server_port)
            .map(|(cmd, port)| ExternalOptions {
                cmd,
                port,
                tls: self.server_tls,
            });
        let target = self.target.map(|url| servers::TargetArgs {
            url,
            cacert: self.cacert,
            insecure: self.insecure,
        });
        (external, target)
    }
}

/// The options `run` and `sweep` share.
#[derive(Args)]
struct RunArgs {
    /// Output folder [default: reports/<scenario name>/, for a sweep
    /// reports/<scenario>-sweep-<key>/ with one report folder per value inside it, named
    /// KEY=VALUE].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Protocols to run instead of the scenario's list, comma-separated (e.g. http1.0,http1.1).
    #[arg(long, value_delimiter = ',')]
    protocols: Option<Vec<String>>,
    /// Repetitions per protocol (at each value of a sweep) instead of the scenario's `repeat`.
    #[arg(long)]
    repeat: Option<u32>,
    /// No progress bar and no summary.
    #[arg(long)]
    quiet: bool,
    /// Override a scenario key before it is read, e.g. --set network.rtt=100ms or
    /// --set client.profile=ie7 (repeatable; VALUE is TOML if it parses, else a string).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Run on plain loopback even when the scenario has a [network] table.
    #[arg(long)]
    no_link: bool,
    /// Go ahead where the lab would refuse: a scenario beyond the run budget (the limit
    /// crossed is named), or an output folder that holds another run (it is replaced).
    #[arg(long)]
    force: bool,
}

/// Each thread's heap counted (one thread-local add per allocation), so `load` can say what
/// the lab's server holds apart from the clients in the same process.
#[global_allocator]
static ALLOCATOR: httplab_socket::heap::CountingAllocator = httplab_socket::heap::CountingAllocator;

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
    // One thread, as a browser's network stack is: requests issued together are all queued
    // before the connection task writes, so they can leave in one packed write. The lab
    // server runs on a thread of its own (`httplab_server::ServerThread`).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<signals::Stopped>() => {
            let status = e
                .downcast_ref::<signals::Stopped>()
                .map_or(1, |s| s.0.exit_status());
            eprintln!("{e}");
            ExitCode::from(status)
        }
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
        Command::Check {
            scenario,
            set,
            force,
        } => tools::check(&scenario, &set, force),
        Command::Scenarios { dir } => tools::list_scenarios(dir),
        Command::Profiles => {
            tools::profiles();
            Ok(())
        }
        Command::Run {
            scenario,
            args,
            pcap,
            server,
        } => {
            let (external, target) = server.split();
            run::run(&scenario, &args, pcap, external, target).await
        }
        Command::Serve {
            scenario,
            listen,
            tls,
        } => tools::serve(&scenario, listen, tls).await,
        Command::Report { dir } => run::report(&dir),
        Command::Compare { a, b, out } => tools::compare_folders(&a, &b, out),
        Command::Import { har, out, force } => import::import(&har, out, force),
        Command::Calibrate { rtt, connects } => tools::calibrate(&rtt, connects).await,
        Command::Load {
            scenario,
            users,
            rate,
            poisson,
            duration,
            warmup,
            think_between,
            shard,
            args,
            server,
        } => {
            let (external, target) = server.split();
            let options = load::LoadArgs {
                users,
                rate,
                poisson,
                duration,
                warmup,
                think_between,
                shard,
            };
            load::load(&scenario, &options, &args, external, target).await
        }
        Command::Merge {
            dirs,
            out,
            force,
            quiet,
        } => merge::merge(&dirs, out, force, quiet),
        Command::Sweep {
            scenario,
            vary,
            shard,
            args,
        } => run::sweep(&scenario, &vary, shard.as_deref(), &args).await,
    }
}

/// The progress bar of `run` and `sweep` (hidden under `--quiet`), and the notes printed above
/// it.
struct ProgressBar {
    bar: indicatif::ProgressBar,
    /// The last note printed, so a note repeated by every run is printed once.
    noted: RefCell<Option<String>>,
}

impl ProgressBar {
    fn new(quiet: bool, total: usize) -> Self {
        let bar = if quiet {
            indicatif::ProgressBar::hidden()
        } else {
            indicatif::ProgressBar::new(total as u64)
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} runs {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        Self {
            bar,
            noted: RefCell::new(None),
        }
    }

    fn message(&self, message: String) {
        self.bar.set_message(message);
    }

    fn position(&self, done: usize, total: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(done as u64);
    }

    /// Prints `note` above the bar, unless it is the one printed last.
    fn note_once(&self, note: Option<&str>) {
        let Some(note) = note else {
            return;
        };
        let mut noted = self.noted.borrow_mut();
        if noted.as_deref() != Some(note) {
            self.bar.suspend(|| eprintln!("note: {note}"));
            *noted = Some(note.to_string());
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Paths as a comma-separated list.
fn paths(written: &[PathBuf]) -> String {
    written
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
