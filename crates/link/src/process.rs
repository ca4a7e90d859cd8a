//! Processes the lab starts for the user (`httplab run --server-cmd`): spawned as the leader of
//! a process group of their own, inside a namespace the lab made when there is one, and stopped
//! as a whole group — SIGTERM, then SIGKILL once a grace period has passed — so nothing they
//! started is left running; `kill_all_now` ends every group still live, for an exit that does
//! not unwind. It owns spawning and stopping; what runs, and when to stop it, is
//! the caller's.

use crate::netns::Namespace;
use crate::sys;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a stop looks whether the group's leader has exited.
const POLL: Duration = Duration::from_millis(10);

/// The process groups spawned and not yet stopped, for `kill_all_now`.
static LIVE: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// SIGKILLs every process group spawned here and not yet stopped: for a process about to exit
/// without unwinding (a second Ctrl-C), which would otherwise leave them running.
pub fn kill_all_now() {
    let live = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|p| p.into_inner()));
    for pgid in live {
        let _ = sys::kill_group(pgid, libc::SIGKILL);
    }
}

/// A child process leading a process group of its own.
#[derive(Debug)]
pub struct GroupChild {
    child: Child,
    /// Set once the child has been waited for.
    status: Option<ExitStatus>,
}

/// How a group was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// The leader had exited before the stop began, with this status.
    AlreadyExited(ExitStatus),
    /// The leader exited within the grace period after SIGTERM.
    Terminated,
    /// The leader ignored SIGTERM for the whole grace period and was killed.
    Killed,
}

impl GroupChild {
    /// Spawns `cmd` as the leader of a new process group, inside `namespace` when given (a child
    /// forked by a thread that joined a network namespace lives in it), else in the lab's own.
    pub fn spawn(mut cmd: Command, namespace: Option<&Namespace>) -> io::Result<GroupChild> {
        cmd.process_group(0);
        let child = match namespace {
            Some(ns) => ns.run(move || cmd.spawn())??,
            None => cmd.spawn()?,
        };
        LIVE.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(child.id());
        Ok(GroupChild {
            child,
            status: None,
        })
    }

    /// The leader's process id (also the group's id).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The child, for its pipes.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The leader's exit status if it has exited, without waiting.
    pub fn try_status(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        Ok(self.status)
    }

    /// Stops the whole group: SIGTERM, up to `grace` for the leader to exit, then SIGKILL. The
    /// group gets SIGKILL in the end either way, so a process that outlived its leader is not
    /// left behind. Bounded: returns within `grace` and a few polls.
    pub fn stop(&mut self, grace: Duration) -> io::Result<Stopped> {
        let pgid = self.id();
        LIVE.lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|&g| g != pgid);
        if let Some(status) = self.try_status()? {
            sys::kill_group(pgid, libc::SIGKILL)?;
            return Ok(Stopped::AlreadyExited(status));
        }
        sys::kill_group(pgid, libc::SIGTERM)?;
        let deadline = Instant::now() + grace;
        let mut how = Stopped::Terminated;
        while self.try_status()?.is_none() {
            if Instant::now() >= deadline {
                how = Stopped::Killed;
                sys::kill_group(pgid, libc::SIGKILL)?;
                self.status = Some(self.child.wait()?);
                break;
            }
            std::thread::sleep(POLL);
        }
        sys::kill_group(pgid, libc::SIGKILL)?;
        Ok(how)
    }
}
