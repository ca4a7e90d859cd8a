//! Servers other than the lab's own: one the user starts inside the lab (`--server-cmd`), and
//! one on the real network (`--target URL`). Each has one port that speaks TLS or not, serves
//! one origin, and pipelines as it does, so the scenario is fitted to it before anything runs,
//! and a protocol it cannot carry is refused, naming the flag that would let it.
//!
//! This module owns those refusals, the target's URL, its address and the path's round trip,
//! and the sentence every output carries about whose server it was. The harness connects; the
//! report crate lays the sentences out.

use crate::{RunArgs, UsageError};
use anyhow::{Context, Result};
use httplab_core::units::format_duration;
use httplab_core::{Protocol, Scenario};
use httplab_harness::{probe_quic, probe_rtt, probe_tls, ExternalOptions, TargetOptions};
use httplab_report::{Environment, RealNetwork};
use httplab_tls::Trust;
use std::net::SocketAddr;
use std::path::PathBuf;

/// TCP connects whose least is the path's round trip.
const RTT_PROBES: u32 = 5;

/// `--target URL [--cacert FILE | --insecure]` as given.
#[derive(Debug, Clone)]
pub(crate) struct TargetArgs {
    pub(crate) url: String,
    pub(crate) cacert: Option<PathBuf>,
    pub(crate) insecure: bool,
}

/// A target ready to run against: the harness's options, the path as measured, and what the
/// reports say about the server.
pub(crate) struct Target {
    pub(crate) options: TargetOptions,
    pub(crate) network: RealNetwork,
    pub(crate) server: String,
}

/// Fits `scenario` to `--target`, resolves its host and measures the path's round trip.
pub(crate) async fn prepare_target(
    args: &TargetArgs,
    run: &RunArgs,
    scenario: &mut Scenario,
) -> Result<Target> {
    let (tls, host, port) = parse_url(&args.url)?;
    if scenario.network.is_some() && !run.no_link {
        return Err(UsageError(
            "--target runs cross the real network, but the scenario's [network] table asks for \
             an emulated link: remove the table, or pass --no-link to ignore it"
                .into(),
        )
        .into());
    }
    if scenario.origins.len() > 1 {
        return Err(UsageError(format!(
            "--target is one origin, and the scenario has {}: run it against the lab's own \
             server, which serves every origin",
            scenario.origins.len()
        ))
        .into());
    }
    if !tls && (args.cacert.is_some() || args.insecure) {
        return Err(UsageError(format!(
            "{} is cleartext: --cacert and --insecure are for an https:// target",
            args.url
        ))
        .into());
    }
    refuse_protocols(scenario, tls, "the --target URL")?;
    fit(scenario, tls);
    let addr = tokio::net::lookup_host((host.as_str(), port))
        .await
        .with_context(|| format!("cannot resolve {host} (the --target URL's host)"))?
        .min_by_key(|a| a.is_ipv6())
        .with_context(|| format!("{host} resolves to no address"))?;
    let rtt = probe_rtt(addr, RTT_PROBES)
        .await
        .with_context(|| format!("cannot connect to {addr} ({})", args.url))?;
    let trust = tls.then(|| match (&args.cacert, args.insecure) {
        (_, true) => Trust::Insecure,
        (Some(file), false) => Trust::CaFile(file.clone()),
        (None, false) => Trust::System,
    });
    if let Some(trust) = &trust {
        check_certificate(trust, &host, addr, &args.url).await?;
        if scenario.protocols.iter().any(|p| p.is_quic()) {
            check_quic(trust, &host, addr, &args.url).await?;
        }
    }
    let checked = trust
        .as_ref()
        .map_or_else(String::new, |t| format!("; {}", t.describe()));
    let origin = format!("{}://{host}:{port}", if tls { "https" } else { "http" });
    eprintln!(
        "target {origin} ({addr}): path RTT {}, the least of {RTT_PROBES} TCP connects",
        format_duration(rtt)
    );
    Ok(Target {
        options: TargetOptions {
            host: host.clone(),
            addr,
            trust,
        },
        network: RealNetwork {
            target: origin.clone(),
            addr: addr.to_string(),
            path_rtt_ms: rtt.as_secs_f64() * 1e3,
            probes: RTT_PROBES,
        },
        server: format!("remote, {origin} ({addr}) on the real network{checked}"),
    })
}

/// One handshake before the runs: a certificate the client does not trust is a usage error
/// that names the host and the two ways on, not a run of failed requests.
async fn check_certificate(trust: &Trust, host: &str, addr: SocketAddr, url: &str) -> Result<()> {
    let config = httplab_tls::remote_client_config(trust, &[httplab_tls::ALPN_HTTP11], false, None)
        .map_err(|e| UsageError(format!("--target {url}: {e}")))?;
    match probe_tls(addr, host, config).await {
        Ok(()) => Ok(()),
        // tokio-rustls reports the peer's TLS failures (a certificate rustls refuses) so.
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            let by = match trust {
                Trust::CaFile(file) => format!("the CAs in {}", file.display()),
                _ => "the system's CAs".to_string(),
            };
            Err(UsageError(format!(
                "{url} ({addr}): the TLS handshake failed, its certificate not trusted by {by} \
                 ({e}): pass --cacert FILE with the CA that signed it, or --insecure to skip \
                 the check (every output then says so)"
            ))
            .into())
        }
        Err(e) => Err(anyhow::anyhow!("{url} ({addr}): TLS handshake failed: {e}")),
    }
}

/// One QUIC handshake before an h3 run: a target that serves no HTTP/3 on its port's UDP side
/// (or a path that drops UDP) is a usage error naming both, not h3 requests that each wait out
/// a handshake.
async fn check_quic(trust: &Trust, host: &str, addr: SocketAddr, url: &str) -> Result<()> {
    let config = httplab_tls::remote_client_config(trust, &[httplab_tls::ALPN_H3], false, None)
        .map_err(|e| UsageError(format!("--target {url}: {e}")))?;
    probe_quic(addr, host, config).await.map_err(|e| {
        UsageError(format!(
            "h3 cannot run against {url} ({addr}), whose HTTP/3 would be at the URL's port on \
             UDP (leave h3 out with --protocols): {e}"
        ))
        .into()
    })
}

/// `http://HOST[:PORT][/]` or `https://…`: (TLS, host, port). A path, query or user is refused:
/// the scenario's paths are the requests.
fn parse_url(url: &str) -> Result<(bool, String, u16)> {
    let bad = |why: &str| UsageError(format!("--target {url:?}: {why}"));
    let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(bad("give http://HOST[:PORT] or https://HOST[:PORT]").into());
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return Err(bad(
            "give the origin alone, scheme://host[:port]: the scenario's paths are what is requested",
        )
        .into());
    }
    let default = if tls { 443 } else { 80 };
    let (host, port) = match authority.rsplit_once(':') {
        // An IPv6 literal without a port ends in ']'.
        Some((host, port)) if !port.ends_with(']') => {
            let port: u16 = port
                .parse()
                .ok()
                .filter(|&p| p > 0)
                .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?;
            (host, port)
        }
        _ => (authority, default),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("the URL has no host").into());
    }
    Ok((tls, host.to_ascii_lowercase(), port))
}

/// Refuses the scenario's protocols that cannot run on a port that speaks TLS (`tls`) or not:
/// h2 needs TLS, h2c is cleartext. `what` names the server for the message.
fn refuse_protocols(scenario: &Scenario, tls: bool, what: &str) -> Result<()> {
    let (refused, reasons): (Vec<&str>, Vec<&str>) = scenario
        .protocols
        .iter()
        .filter_map(|p| match p {
            Protocol::H2 if !tls => Some((p.id(), "h2 is HTTP/2 over TLS")),
            Protocol::H3 if !tls => Some((p.id(), "h3 is HTTP/3 over QUIC, always encrypted")),
            Protocol::H2c if tls => Some((p.id(), "h2c is HTTP/2 in cleartext")),
            _ => None,
        })
        .unzip();
    if refused.is_empty() {
        return Ok(());
    }
    let speaks = if tls {
        "speaks TLS on its one port"
    } else {
        "speaks cleartext"
    };
    Err(UsageError(format!(
        "{} cannot run: {what} {speaks}, and {}; leave {} out with --protocols",
        refused.join(", "),
        reasons.join(", and "),
        if refused.len() == 1 { "it" } else { "them" }
    ))
    .into())
}

/// Every run over TLS or none, as the server speaks; no lab pipelining model (the server
/// pipelines as it does).
fn fit(scenario: &mut Scenario, tls: bool) {
    scenario.client.tls = tls;
    for variant in &mut scenario.variants {
        variant.client.tls = tls;
    }
    scenario.server.pipelining.clear();
}

/// Fits `scenario` to an external server (`--server-cmd`): one port speaks TLS or not, so every
/// run does as it does (a protocol that cannot is refused, naming the flag that would let it);
/// pipelining is the server's own, so no lab model is chosen.
pub(crate) fn suit_external(scenario: &mut Scenario, ext: &ExternalOptions) -> Result<()> {
    let what = if ext.tls {
        "the --server-tls server"
    } else {
        "the --server-cmd server (no --server-tls)"
    };
    refuse_protocols(scenario, ext.tls, what)?;
    let named: Vec<&str> = scenario
        .origins
        .iter()
        .map(|o| o.name.as_str())
        .filter(|n| *n != httplab_core::scenario::DEFAULT_ORIGIN)
        .collect();
    if ext.tls && !named.is_empty() {
        return Err(UsageError(format!(
            "a --server-tls server presents the lab's certs/localhost.pem, which covers \
             localhost only, so the lab's clients would refuse it for {}: run the scenario's \
             origins in cleartext (without --server-tls), or with the lab's own server",
            named.join(", ")
        ))
        .into());
    }
    fit(scenario, ext.tls);
    Ok(())
}

/// Whose server the runs went to, for every output and the journal's header: nothing for the
/// lab's own.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServerFacts {
    pub(crate) server: Option<String>,
    pub(crate) real_network: Option<RealNetwork>,
}

impl ServerFacts {
    pub(crate) fn apply(&self, env: Environment) -> Environment {
        Environment {
            server: self.server.clone(),
            real_network: self.real_network.clone(),
            ..env
        }
    }
}

/// What the reports say about an external server.
pub(crate) fn external_sentence(ext: &ExternalOptions) -> String {
    format!(
        "external, `{}` on port {}{}, started in the lab's server namespace",
        ext.cmd,
        ext.port,
        if ext.tls { " over TLS" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::parse_url;

    #[test]
    fn target_urls() {
        let ok = |url: &str| parse_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(
            ok("http://127.0.0.1:8080"),
            (false, "127.0.0.1".into(), 8080)
        );
        assert_eq!(
            ok("https://Example.com/"),
            (true, "example.com".into(), 443)
        );
        assert_eq!(ok("http://[::1]:81"), (false, "::1".into(), 81));
        assert_eq!(ok("https://[::1]"), (true, "::1".into(), 443));
        for bad in [
            "ftp://x",
            "example.com",
            "http://",
            "http://x/index.html",
            "http://x:0",
            "http://x:99999",
            "http://u@x",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
