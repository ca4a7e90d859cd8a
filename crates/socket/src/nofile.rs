//! The process's limit on open file descriptors (`RLIMIT_NOFILE`): a server holding thousands
//! of connections needs its soft limit raised to its hard limit (the default soft limit is
//! often 1024, below the lab server's own ceiling of connections plus what else it opens).
//!
//! It raises the soft limit, never the hard one (that needs privileges and is the
//! administrator's choice), and reports both, so the caller can say what it did. Its two libc
//! calls are the only `unsafe` here, each with its SAFETY line.

use std::io;

/// Highest soft limit asked for when the hard limit is unlimited (Linux's default
/// `fs.nr_open`, above which `setrlimit` fails).
const UNLIMITED_CAP: u64 = 1 << 20;

/// The soft limit before and after [`raise_nofile_limit`], and the hard limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NofileLimit {
    pub before: u64,
    pub soft: u64,
    pub hard: u64,
}

fn get() -> io::Result<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable `rlimit` that outlives the call.
    let ret = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    if ret == 0 {
        Ok(limit)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (at most 2^20 when the hard limit is
/// unlimited); returns the limits before and after.
pub fn raise_nofile_limit() -> io::Result<NofileLimit> {
    let limit = get()?;
    let before = limit.rlim_cur;
    let hard = limit.rlim_max;
    let target = if hard == libc::RLIM_INFINITY {
        UNLIMITED_CAP.max(before)
    } else {
        hard
    };
    if target > before {
        let raised = libc::rlimit {
            rlim_cur: target,
            rlim_max: hard,
        };
        // SAFETY: `raised` is a valid `rlimit` that outlives the call; the kernel only reads it.
        let ret = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) };
        if ret != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(NofileLimit {
        before,
        soft: get()?.rlim_cur,
        hard,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_reaches_the_hard_one() {
        let limit = raise_nofile_limit().unwrap();
        assert!(limit.soft >= limit.before);
        if limit.hard != libc::RLIM_INFINITY {
            assert_eq!(limit.soft, limit.hard);
        }
        // Raising again changes nothing.
        assert_eq!(raise_nofile_limit().unwrap().soft, limit.soft);
    }
}
