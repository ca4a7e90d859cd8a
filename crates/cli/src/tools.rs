//! The commands that run no workload: `check`, `scenarios`, `profiles`, `compare`, `serve`
//! and `calibrate`. Each reads its inputs, calls the library that does the work, and prints
//! what it found.

use crate::scenario_args::{ids, load};
use crate::UsageError;
use anyhow::{Context, Result};
use httplab_core::units;
use httplab_harness::HostFacts;
use httplab_report::RunFolder;
use httplab_server::{LabServer, ServerLog};
use httplab_tls::{CertStore, ALPN_HTTP10, ALPN_HTTP11};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// `httplab check`: the scenario as the lab reads it, in one line, and its run budget in
/// another; a scenario over the budget is refused unless `force`.
pub(crate) fn check(path: &Path, set: &[String], force: bool) -> Result<()> {
    let s = load(path, set)?;
    s.check_quic().map_err(|e| UsageError(e.to_string()))?;
    let budget = crate::budget::enforce(&[&s], None, force)?;
    let variants: Vec<&str> = s.variants.iter().map(|v| v.label.as_str()).collect();
    let origins = if s.origins.len() > 1 {
        format!(
            ", {} origins on {} address{}",
            s.origins.len(),
            s.address_count(),
            if s.address_count() == 1 { "" } else { "es" }
        )
    } else {
        String::new()
    };
    println!(
        "{}: ok — scenario `{}`, {} requests ({}){origins}, protocols {}, repeat {}, TCP congestion control {}{}",
        path.display(),
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
    println!("{}", budget.line());
    Ok(())
}

/// `httplab profiles`: every client profile with its connection cap and source.
pub(crate) fn profiles() {
    println!("{:<10} {:>11}  source", "profile", "connections");
    for p in httplab_core::profile::PROFILES {
        println!(
            "{:<10} {:>11}  {}",
            p.name, p.max_connections_per_host, p.source
        );
    }
}

/// `httplab scenarios`: every `*.toml` of the library with its one-line summary.
pub(crate) fn list_scenarios(dir: Option<PathBuf>) -> Result<()> {
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

/// `httplab calibrate`: the host's facts, then the link's calibration; fails (status 1) when
/// the link cannot run or the calibration's self-check does not trust it.
pub(crate) async fn calibrate(rtt: &str, connects: usize) -> Result<()> {
    let rtt = units::parse_duration(rtt).map_err(|e| UsageError(format!("--rtt {rtt}: {e}")))?;
    if rtt.is_zero() || rtt > Duration::from_secs(10) || connects == 0 {
        return Err(UsageError(format!(
            "--rtt must be above zero and at most 10s, --connects from 1 to {}",
            httplab_harness::MAX_CALIBRATION_CONNECTS
        ))
        .into());
    }
    let host = HostFacts::read();
    let available = httplab_harness::available_congestion_controls()
        .map_or_else(|| "unknown".into(), |names| names.join(" "));
    println!(
        "host: {} cores, kernel {}, host congestion control {} (available: {available})",
        host.cpus, host.kernel, host.congestion_control,
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

/// `httplab serve`: the lab server alone, on `listen`, until Ctrl-C. It keeps no per-request
/// records (a counting log: its memory stays flat however long it serves) and prints their
/// tally when it stops.
pub(crate) async fn serve(path: &Path, listen: SocketAddr, tls: bool) -> Result<()> {
    let scenario = Arc::new(load(path, &[])?);
    let certs = if tls {
        Some(CertStore::open_or_create(CertStore::default_dir())?)
    } else {
        None
    };
    let config = match &certs {
        // ALPN picks the protocol per connection: h2 first, as browsers prefer it. The leaf
        // covers every origin of the scenario, which one server answers by Host.
        Some(store) => Some(store.server_config_for(
            &scenario.origin_names(),
            &[httplab_tls::ALPN_H2, ALPN_HTTP11, ALPN_HTTP10],
        )?),
        None => None,
    };
    let listener = bind(listen).map_err(|e| {
        anyhow::anyhow!("cannot listen on {listen}: {e} ({})", bind_hint(listen, &e))
    })?;
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
    let mut server = LabServer::start_with_log(
        listener,
        scenario.clone(),
        httplab_core::Clock::start(),
        config,
        ServerLog::counting(),
    )?;
    let addr = server.local_addr();
    // Over TLS, HTTP/3 too: QUIC on UDP at the same port number, advertised by `Alt-Svc`.
    if tls {
        let udp = std::net::UdpSocket::bind(addr)
            .and_then(|socket| socket.set_nonblocking(true).map(|()| socket))
            .map_err(|e| anyhow::anyhow!("cannot serve HTTP/3 on UDP {addr}: {e}"))?;
        server.serve_quic(vec![udp])?;
    }
    let scheme = if tls { "https" } else { "http" };
    // The address bound, except that over TLS a loopback one is named `localhost`, the name
    // the lab's certificate carries.
    let shown = if tls && addr.ip().is_loopback() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    };
    // The warning first: whoever has read the banner (a script, a test) has the warning too.
    if let Some(warning) = exposure_warning(addr) {
        eprintln!("{warning}");
    }
    println!(
        "serving `{}` ({} resources) on {scheme}://{shown}",
        scenario.name,
        scenario.resources.len(),
    );
    println!("TCP congestion control: {congestion_control}");
    match httplab_socket::raise_nofile_limit() {
        Ok(l) if l.soft > l.before => println!(
            "open files: soft limit raised from {} to {} (the hard limit), for up to {} \
             connections",
            l.before,
            l.soft,
            httplab_server::MAX_CONNECTIONS
        ),
        Ok(_) => {}
        Err(e) => eprintln!("warning: cannot raise the open-files limit: {e}"),
    }
    if let Some(first) = scenario.resources.first() {
        let cacert = certs
            .as_ref()
            .map(|c| format!(" --cacert {}", c.ca_cert_path().display()))
            .unwrap_or_default();
        let target = try_target(addr, tls);
        println!("try: curl --http1.1{cacert} {scheme}://{target}{} -o /dev/null -w '%{{http_code}} %{{size_download}}\\n'", first.path);
        let h2 = if tls {
            "--http2"
        } else {
            "--http2-prior-knowledge"
        };
        println!("     curl {h2}{cacert} {scheme}://{target}{} -o /dev/null -w '%{{http_version}} %{{size_download}}\\n'", first.path);
    }
    println!("Ctrl-C stops it.");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    let log = server.log();
    server.shutdown().await;
    if let Some(tally) = log.tally() {
        println!("served: {}", tally.summary());
    }
    Ok(())
}

/// Connections the kernel completes before `serve` accepts them. The default (128) overflows
/// while the server's one thread is busy for a few milliseconds with a burst of connections,
/// and a client whose handshake is dropped then waits a second for its SYN's retransmission;
/// the kernel caps this at `net.core.somaxconn` (4096 by default).
const LISTEN_BACKLOG: u32 = httplab_server::MAX_CONNECTIONS as u32;

/// A listener on `listen` with a backlog of [`LISTEN_BACKLOG`].
fn bind(listen: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if listen.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As `TcpListener::bind` does: a restarted server may bind while old connections linger.
    socket.set_reuseaddr(true)?;
    socket.bind(listen)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Why binding `listen` failed, in the words of what to do, by the error's kind.
fn bind_hint(listen: SocketAddr, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => format!(
            "another server is using port {}: choose another with --listen",
            listen.port()
        ),
        std::io::ErrorKind::AddrNotAvailable => format!(
            "{} is not an address of this machine: use 127.0.0.1, or one that `ip addr` lists",
            listen.ip()
        ),
        std::io::ErrorKind::PermissionDenied => format!(
            "port {} is privileged: use a port from 1024 up, or grant CAP_NET_BIND_SERVICE",
            listen.port()
        ),
        _ => "choose another address with --listen".to_string(),
    }
}

/// A warning when `addr` is reachable from other machines: the lab server has no access
/// control and is meant for this one.
fn exposure_warning(addr: SocketAddr) -> Option<String> {
    if addr.ip().is_loopback() {
        return None;
    }
    let which = if addr.ip().is_unspecified() {
        "every interface of this machine".to_string()
    } else {
        format!("{}, an address other machines may reach", addr.ip())
    };
    Some(format!(
        "warning: listening on {addr}: {which}; the lab server has no access control. \
         Use --listen 127.0.0.1:{} to serve this machine only.",
        addr.port()
    ))
}

/// The `host:port` a client on this machine uses to reach `addr`: loopback for an unspecified
/// address, `localhost` over TLS (the name the lab's certificate carries).
fn try_target(addr: SocketAddr, tls: bool) -> String {
    let port = addr.port();
    if tls && (addr.ip().is_loopback() || addr.ip().is_unspecified()) {
        format!("localhost:{port}")
    } else if addr.ip().is_unspecified() {
        let loopback: std::net::IpAddr = if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        SocketAddr::new(loopback, port).to_string()
    } else {
        addr.to_string()
    }
}

/// `httplab compare A B`: reads both folders' results.json, writes compare.md and compare.html.
pub(crate) fn compare_folders(a: &Path, b: &Path, out: Option<PathBuf>) -> Result<()> {
    let load = |dir: &Path| RunFolder::load(dir).map_err(|e| UsageError(e.to_string()));
    let (a, b_folder) = (load(a)?, load(b)?);
    let out = out.unwrap_or_else(|| b.join(format!("compare-vs-{}", a.name())));
    let c = httplab_report::compare(&a.runs, &b_folder.runs);
    let written = httplab_report::write_compare(&out, &a, &b_folder, &c, env!("CARGO_PKG_VERSION"))
        .with_context(|| format!("writing the comparison into {}", out.display()))?;
    for m in &c.matched {
        println!("{}", httplab_report::change_sentence(m).replace("**", ""));
    }
    for (side, labels) in [("A", &c.only_a), ("B", &c.only_b)] {
        if !labels.is_empty() {
            println!("only in {side}: {}", labels.join(", "));
        }
    }
    println!("wrote {}", crate::paths(&written));
    Ok(())
}
