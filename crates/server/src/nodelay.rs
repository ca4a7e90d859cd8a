//! TCP_NODELAY once per listener rather than once per connection: the server writes each
//! response as soon as it is ready (a small one must not wait for the peer's ACK under
//! Nagle), and on Linux an accepted socket is a copy of its listener, options included, so
//! setting it on the listener spares every connection a `setsockopt`: one system call in the
//! nine or so of a `Connection: close` request.

use tokio::net::TcpListener;

/// Sets TCP_NODELAY on every listener; true if each took it and the kernel hands it on to the
/// sockets they accept (Linux), so a connection needs no `setsockopt` of its own.
pub(crate) fn on_accept(listeners: &[TcpListener]) -> bool {
    cfg!(target_os = "linux")
        && listeners
            .iter()
            .all(|l| socket2::SockRef::from(l).set_tcp_nodelay(true).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel fact the server relies on, on this machine's kernel: a socket accepted from
    /// a listener with TCP_NODELAY has it too.
    #[tokio::test]
    async fn a_socket_accepted_from_a_nodelay_listener_has_nodelay() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inherited = on_accept(std::slice::from_ref(&listener));
        assert_eq!(inherited, cfg!(target_os = "linux"));
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        assert!(
            !client.nodelay().unwrap(),
            "the client's own socket is untouched"
        );
        assert_eq!(accepted.nodelay().unwrap(), inherited);
    }
}
