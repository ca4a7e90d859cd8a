//! `--server-cmd`'s process handling against real processes: a command that exits at once, one
//! that never listens, one that listens on TCP but holds no UDP port for h3, and a server that
//! ignores SIGTERM (with a child of its own) — each ends in a clear error or a stop, and
//! nothing it started is left running; a UDP-only server is ready once its socket is bound. On loopback, no
//! namespace: the process group handling is the same inside one.
// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use httplab_harness::{ExternalError, ExternalServer, Listening, Stopped, STOP_GRACE};
use httplab_testkit::{free_port, require_tool, temp_dir};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// One test at a time: each picks a free port and some listen on theirs, so run side by side one
/// could listen on the port another expects no listener on (a CI run at 8aeafed saw the
/// never-listening command "accept", on a port another test's server had taken).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

fn addr(port: u16) -> SocketAddr {
    ([127, 0, 0, 1], port).into()
}

/// Whether process `pid` still exists (a zombie counts as gone: it runs nothing).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|s| !s.trim_start().starts_with('Z'))
    })
}

/// The pid a shell wrote to `file`, waiting a little for it to appear.
fn pid_in(file: &Path) -> u32 {
    for _ in 0..200 {
        if let Some(pid) = std::fs::read_to_string(file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("no pid in {}", file.display());
}

#[test]
fn a_command_that_exits_at_once_is_an_error_with_its_stderr() {
    let _turn = one_at_a_time();
    let start = Instant::now();
    let e = ExternalServer::start(
        "echo 'nginx: [emerg] no such file' >&2; exit 3",
        addr(free_port()),
        None,
        Duration::from_secs(10),
    )
    .expect_err("it exited");
    assert!(matches!(e, ExternalError::Exited { .. }), "{e}");
    let e = e.to_string();
    assert!(e.contains("exited (exit status: 3)"), "{e}");
    assert!(e.contains("nginx: [emerg] no such file"), "{e}");
    // Seen as soon as it exits, not at the end of the 10 s allowed to start.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_command_that_never_listens_is_stopped_with_an_error() {
    let _turn = one_at_a_time();
    let dir = temp_dir("external-never");
    let pid_file = dir.join("pid");
    let cmd = format!(
        "echo $$ > {}; echo listening elsewhere >&2; exec sleep 300",
        pid_file.display()
    );
    let e = ExternalServer::start(&cmd, addr(free_port()), None, Duration::from_millis(500))
        .expect_err("never listens");
    let pid = pid_in(&pid_file);
    assert!(matches!(e, ExternalError::NeverListened { .. }), "{e}");
    let e = e.to_string();
    assert!(e.contains("did not accept connections"), "{e}");
    assert!(e.contains("listening elsewhere"), "{e}");
    assert!(!running(pid), "the command was stopped");
}

#[test]
fn a_server_that_ignores_sigterm_is_killed_with_everything_it_started() {
    let _turn = one_at_a_time();
    let test = "a_server_that_ignores_sigterm_is_killed_with_everything_it_started";
    let Some(node) = require_tool("node", test, "apt-get install nodejs") else {
        return;
    };
    let dir = temp_dir("external-stubborn");
    let child_pid = dir.join("child");
    let port = free_port();
    // The server ignores SIGTERM, and has started a child of its own (which ignores it too).
    let cmd = format!(
        "trap '' TERM; sleep 300 & echo $! > {}; exec {} -e \"process.on('SIGTERM', () => {{}}); \
         require('http').createServer((q, s) => s.end('ok')).listen({port}, '127.0.0.1')\"",
        child_pid.display(),
        node.display()
    );
    let mut server = ExternalServer::start(&cmd, addr(port), None, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}"));
    let (leader, child) = (server.id(), pid_in(&child_pid));
    assert!(running(leader) && running(child));
    let start = Instant::now();
    assert_eq!(server.stop(), Some(Stopped::Killed));
    // SIGKILL after the grace period, then a few polls.
    let took = start.elapsed();
    assert!(took >= STOP_GRACE, "{took:?}");
    assert!(took < STOP_GRACE + Duration::from_secs(2), "{took:?}");
    std::thread::sleep(Duration::from_millis(100));
    assert!(!running(leader), "the server was killed");
    assert!(!running(child), "and the child it started");
    assert_eq!(server.stop(), None, "a second stop does nothing");
}

/// A python3 command that binds `port` on UDP and, with `tcp`, listens on TCP too, then sleeps.
fn python_listener(port: u16, tcp: bool) -> String {
    let tcp = if tcp {
        format!(
            "t=socket.socket(); t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); \
             t.bind(('127.0.0.1', {port})); t.listen(); "
        )
    } else {
        String::new()
    };
    format!(
        "exec python3 -c \"import socket, time; {tcp}time.sleep(0.3); \
         u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(('127.0.0.1', {port})); \
         time.sleep(300)\""
    )
}

#[test]
fn h3_waits_for_the_udp_socket_and_a_server_without_one_is_an_error_naming_h3() {
    let _turn = one_at_a_time();
    let test = "h3_waits_for_the_udp_socket_and_a_server_without_one_is_an_error_naming_h3";
    if require_tool("python3", test, "apt-get install python3").is_none() {
        return;
    }
    let udp = Listening {
        tcp: false,
        udp: true,
    };
    // A QUIC server has only its UDP socket, bound here 0.3 s after start: ready once it is.
    let port = free_port();
    let start = Instant::now();
    let mut server = ExternalServer::start_listening(
        &python_listener(port, false),
        addr(port),
        None,
        Duration::from_secs(10),
        udp,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "ready before it bound: {took:?}"
    );
    server.stop();

    // TCP only, asked for both: an error that names h3, UDP and the way on, and a stop.
    let dir = temp_dir("external-no-udp");
    let pid_file = dir.join("pid");
    let port = free_port();
    let cmd = format!(
        "echo $$ > {}; exec python3 -m http.server --bind 127.0.0.1 {port}",
        pid_file.display()
    );
    let start = Instant::now();
    let e = ExternalServer::start_listening(
        &cmd,
        addr(port),
        None,
        Duration::from_secs(30),
        Listening {
            tcp: true,
            udp: true,
        },
    )
    .expect_err("no UDP socket");
    // Given up 3 s after TCP was ready (python starts within a few seconds), not at 30 s.
    let took = start.elapsed();
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(matches!(e, ExternalError::NoUdp { .. }), "{e}");
    let e = e.to_string();
    assert!(e.starts_with("h3 cannot run"), "{e}");
    assert!(e.contains(&format!("no UDP socket on port {port}")), "{e}");
    assert!(e.contains("--protocols"), "{e}");
    assert!(!running(pid_in(&pid_file)), "the command was stopped");

    // Both, with both: ready.
    let port = free_port();
    let mut server = ExternalServer::start_listening(
        &python_listener(port, true),
        addr(port),
        None,
        Duration::from_secs(10),
        Listening {
            tcp: true,
            udp: true,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    server.stop();
}
