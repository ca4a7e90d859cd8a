//! `sock_diag` against real loopback sockets: the server's ends are counted by state (the
//! clients' ends, on the same host, are not), and data the server has not read shows as
//! memory charged to its socket.

// Each test binary uses some of the crate's dependencies, never all.
#![allow(unused_crate_dependencies)]

use httplab_socket::diag::tally_local_ports;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Dumps until `done` holds or 2 s pass, returning the last tally.
fn tally_until(
    port: u16,
    done: impl Fn(&httplab_socket::diag::SocketTally) -> bool,
) -> httplab_socket::diag::SocketTally {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let tally = tally_local_ports(&[port]).expect("a sock_diag dump");
        if done(&tally) || Instant::now() >= deadline {
            return tally;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn counts_the_servers_ends_by_state_and_their_memory() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
    let port = listener.local_addr().expect("its address").port();
    let clients: Vec<TcpStream> = (0..10)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).expect("a connection"))
        .collect();
    let mut accepted: Vec<TcpStream> = (0..10)
        .map(|_| listener.accept().expect("an accept").0)
        .collect();
    let idle = tally_local_ports(&[port]).expect("a sock_diag dump");
    assert_eq!(idle.established, 10, "the server's ends only: {idle:?}");
    assert_eq!(idle.time_wait, 0, "{idle:?}");

    // 100 KB the server does not read: charged to its receive queue.
    let mut writer = clients[0].try_clone().expect("a second handle");
    writer
        .write_all(&vec![b'x'; 100_000])
        .expect("100 KB written");
    let loaded = tally_until(port, |t| t.memory_bytes >= 100_000);
    assert!(
        loaded.memory_bytes >= 100_000,
        "100 KB unread, {} bytes charged ({loaded:?}); idle {} bytes",
        loaded.memory_bytes,
        idle.memory_bytes
    );

    // The server closes three connections first: their ends wait in TIME-WAIT once the
    // clients close theirs.
    drop(accepted.drain(1..4).collect::<Vec<_>>());
    for mut client in &clients[1..4] {
        let mut sink = [0u8; 16];
        let _ = client.set_read_timeout(Some(Duration::from_secs(2)));
        assert_eq!(client.read(&mut sink).ok(), Some(0), "the server's FIN");
    }
    drop(clients);
    let after = tally_until(port, |t| t.time_wait >= 3);
    assert_eq!(after.time_wait, 3, "{after:?}");
    drop(accepted);
}
