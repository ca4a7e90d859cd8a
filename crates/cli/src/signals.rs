//! SIGINT and SIGTERM during `run` and `sweep`: the first one stops the runs (the repetition in
//! flight is dropped), lets the reports of what finished be written, and makes the command exit
//! 130 or 143 once they are; a second one exits at once (every file is written to a temporary
//! name and renamed, so even that leaves no half-written file). It owns the handlers and the
//! exit status; what is written is `run`'s.

use std::future::Future;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

/// A signal that asks the command to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    /// The shell's exit status for a command ended by this signal: 128 + its number.
    pub(crate) fn exit_status(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The command was stopped by a signal after writing what had finished: exit with its status.
#[derive(Debug, thiserror::Error)]
#[error("stopped by {0}")]
pub(crate) struct Stopped(pub(crate) Signal);

/// Watches for SIGINT and SIGTERM from now on (the default action, ending the process at once,
/// is replaced while the command runs).
pub(crate) struct Signals {
    received: watch::Receiver<Option<Signal>>,
}

impl Signals {
    pub(crate) fn install() -> std::io::Result<Signals> {
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let (tx, received) = watch::channel(None);
        tokio::spawn(async move {
            let first = tokio::select! {
                _ = interrupt.recv() => Signal::Interrupt,
                _ = terminate.recv() => Signal::Terminate,
            };
            eprintln!(
                "\n{first}: stopping; the repetitions that finished are being written \
                 (send it again to quit at once)"
            );
            let _ = tx.send(Some(first));
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            eprintln!("second signal: quitting without waiting for the reports");
            // A --server-cmd server is in a process group of its own, which the terminal's
            // signal does not reach: end it, since nothing will unwind to stop it.
            httplab_harness::kill_external_servers();
            std::process::exit(i32::from(first.exit_status()));
        });
        Ok(Signals { received })
    }

    /// The first signal received so far, if any.
    pub(crate) fn received(&self) -> Option<Signal> {
        *self.received.borrow()
    }

    /// Completes when the first signal arrives (never, if none does).
    pub(crate) fn stopped(&self) -> impl Future<Output = ()> + 'static {
        let mut rx = self.received.clone();
        async move {
            if rx.wait_for(Option::is_some).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
