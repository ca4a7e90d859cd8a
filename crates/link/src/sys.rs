//! The crate's only `unsafe`: thin, typed wrappers around the Linux calls the I/O shell needs —
//! namespaces (`unshare`, `setns`), the TUN device (`TUNSETIFF`), interface configuration
//! ioctls (`SIOCSIF*`), `poll`, TCP's `TCP_CONGESTION` option, the relay threads' timer
//! slack and scheduling policy, and the packet tap (an `AF_PACKET` socket with a BPF filter and
//! `SO_TIMESTAMPNS`, read with `recvmsg` and its control messages), and signalling a process group
//! the lab started (`kill`). Each function turns `-1` into `io::Error::last_os_error()`.
//!
//! It owns no policy (which addresses, which names, when to call what): that is `netns.rs`,
//! `relay.rs` and `emulator.rs`. Every `unsafe` block carries a `// SAFETY:` line.

use std::fs::{File, OpenOptions};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

/// `-1` → the thread's last OS error.
fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Moves the calling thread into a new, empty network namespace.
pub(crate) fn unshare_net() -> io::Result<()> {
    // SAFETY: unshare takes a flag word and touches no memory of ours; CLONE_NEWNET changes only
    // the calling thread's network namespace.
    check(unsafe { libc::unshare(libc::CLONE_NEWNET) }).map(drop)
}

/// Moves the whole (single-threaded) process into a new user namespace; the kernel refuses it
/// (`EINVAL`) once the process has a second thread.
pub(crate) fn unshare_user() -> io::Result<()> {
    // SAFETY: as above, a flag word only.
    check(unsafe { libc::unshare(libc::CLONE_NEWUSER) }).map(drop)
}

/// Moves the calling thread into the network namespace `ns` (an fd of `/proc/.../ns/net`).
pub(crate) fn setns_net(ns: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: `ns` is a valid open fd for the duration of the call (it is borrowed).
    check(unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) }).map(drop)
}

/// The effective user and group ids of the process.
pub(crate) fn effective_ids() -> (u32, u32) {
    // SAFETY: geteuid and getegid cannot fail and touch no memory.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

/// An `ifreq` naming `name`, the rest zeroed.
fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name {name:?}"),
        ));
    }
    // SAFETY: ifreq is plain old data (arrays, integers, a union of those and a raw pointer);
    // all-zero bytes are a valid value of it.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, &src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

/// Issues an interface ioctl on `fd` with `req`.
fn ioctl_ifreq(fd: BorrowedFd<'_>, op: libc::c_ulong, req: &mut libc::ifreq) -> io::Result<()> {
    // SAFETY: every op passed here (TUNSETIFF, SIOCGIFFLAGS, SIOCSIF*) reads or writes exactly
    // one `struct ifreq`, and `req` is a valid, exclusively borrowed one; `fd` is open.
    check(unsafe { libc::ioctl(fd.as_raw_fd(), op as _, req as *mut libc::ifreq) }).map(drop)
}

/// Opens `/dev/net/tun` (non-blocking) and attaches it to a new TUN device `name` in the
/// calling thread's network namespace: layer 3 (`IFF_TUN`), no packet-info header
/// (`IFF_NO_PI`), and no `IFF_VNET_HDR`, so the kernel segments before the device and every
/// read is one whole IP packet of at most the MTU. The device disappears when the file closes.
pub(crate) fn tun_open(name: &str) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open("/dev/net/tun")?;
    let mut req = ifreq(name)?;
    req.ifr_ifru.ifru_flags = (libc::IFF_TUN | libc::IFF_NO_PI) as libc::c_short;
    ioctl_ifreq(
        std::os::fd::AsFd::as_fd(&file),
        libc::TUNSETIFF as libc::c_ulong,
        &mut req,
    )?;
    Ok(file)
}

/// An `AF_INET` datagram socket in the calling thread's namespace, the handle the `SIOCSIF*`
/// ioctls work through (they act on the socket's namespace).
fn control_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket takes integers only.
    let fd =
        check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` was just returned by socket, is open, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn sockaddr_in(addr: Ipv4Addr) -> libc::sockaddr {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(addr).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in and sockaddr are both 16-byte plain-old-data C structs; the kernel
    // reads an AF_INET sockaddr as a sockaddr_in, which is what this reinterpretation produces.
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

/// How `configure_interface` sets up an interface.
pub(crate) struct InterfaceConfig {
    pub addr: Option<(Ipv4Addr, Ipv4Addr)>,
    pub mtu: Option<u32>,
    pub txqueuelen: Option<u32>,
}

/// Sets the address and netmask, MTU and transmit queue length of `name` (each if given) and
/// brings it up (`IFF_UP | IFF_RUNNING`), all in the calling thread's namespace.
pub(crate) fn configure_interface(name: &str, config: &InterfaceConfig) -> io::Result<()> {
    let sock = control_socket()?;
    let fd = std::os::fd::AsFd::as_fd(&sock);
    if let Some((addr, netmask)) = config.addr {
        let mut req = ifreq(name)?;
        req.ifr_ifru.ifru_addr = sockaddr_in(addr);
        ioctl_ifreq(fd, libc::SIOCSIFADDR, &mut req)?;
        let mut req = ifreq(name)?;
        req.ifr_ifru.ifru_netmask = sockaddr_in(netmask);
        ioctl_ifreq(fd, libc::SIOCSIFNETMASK, &mut req)?;
    }
    if let Some(mtu) = config.mtu {
        let mut req = ifreq(name)?;
        req.ifr_ifru.ifru_mtu = libc::c_int::try_from(mtu).unwrap_or(libc::c_int::MAX);
        ioctl_ifreq(fd, libc::SIOCSIFMTU, &mut req)?;
    }
    if let Some(qlen) = config.txqueuelen {
        let mut req = ifreq(name)?;
        // `ifr_qlen` is the union's int member, the same storage as `ifru_ifindex`.
        req.ifr_ifru.ifru_ifindex = libc::c_int::try_from(qlen).unwrap_or(libc::c_int::MAX);
        ioctl_ifreq(fd, libc::SIOCSIFTXQLEN, &mut req)?;
    }
    let mut req = ifreq(name)?;
    ioctl_ifreq(fd, libc::SIOCGIFFLAGS, &mut req)?;
    // SAFETY: SIOCGIFFLAGS just filled the union's `ifru_flags` member.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    req.ifr_ifru.ifru_flags = flags | (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    ioctl_ifreq(fd, libc::SIOCSIFFLAGS, &mut req)
}

/// Waits up to `timeout` for `fd` to become readable; `Ok(false)` on timeout or `EINTR`.
pub(crate) fn poll_readable(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
    // SAFETY: `pfd` is one valid pollfd and the count says 1; `fd` is open while borrowed.
    match check(unsafe { libc::poll(&mut pfd, 1, ms) }) {
        Ok(n) => Ok(n > 0 && pfd.revents & libc::POLLIN != 0),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(false),
        Err(e) => Err(e),
    }
}

/// Sets the calling thread's timer slack (how late the kernel may fire its timers) to `ns`.
pub(crate) fn set_timer_slack(ns: u64) -> io::Result<()> {
    let ns = libc::c_ulong::try_from(ns).unwrap_or(libc::c_ulong::MAX);
    // SAFETY: PR_SET_TIMERSLACK takes its value by value and touches no memory of ours.
    check(unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, ns, 0 as libc::c_ulong, 0, 0) }).map(drop)
}

/// Puts the calling thread under `SCHED_FIFO` at `priority` (needs `CAP_SYS_NICE`).
pub(crate) fn set_fifo(priority: i32) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: `param` is a valid sched_param for the call; pid 0 means the calling thread.
    check(unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) }).map(drop)
}

/// Sets a TCP socket's congestion control (`TCP_CONGESTION`), e.g. `"cubic"`.
pub(crate) fn set_tcp_congestion(fd: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    let len = libc::socklen_t::try_from(name.len())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: the kernel reads `len` bytes from `name`, which has exactly that many; `fd` is
    // open while borrowed.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            name.as_ptr().cast(),
            len,
        )
    })
    .map(drop)
}

/// How many bytes of each packet the tap copies: the IPv4 and TCP headers with their options
/// and the start of the payload, enough to tell one packet from the next in the same queue.
pub(crate) const TAP_SNAPLEN: u32 = 128;

/// A packet socket that sees every packet the kernel transmits on the interface `name` (of the
/// calling thread's namespace), and only those (a classic BPF filter keeps
/// `PACKET_OUTGOING` and cuts each copy to [`TAP_SNAPLEN`] bytes), each with the kernel's receive
/// timestamp (`SO_TIMESTAMPNS`, `CLOCK_REALTIME`), which for an outgoing packet is the moment
/// the kernel handed it to the device (`dev_queue_xmit_nit`). Non-blocking.
pub(crate) fn packet_tap_open(name: &str, rcvbuf: usize) -> io::Result<OwnedFd> {
    let cname = std::ffi::CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name with a NUL"))?;
    // SAFETY: `cname` is a valid NUL-terminated string for the duration of the call.
    let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if ifindex == 0 {
        return Err(io::Error::last_os_error());
    }
    // Protocol 0: the socket receives nothing until it is bound below, after the filter is in
    // place, so no packet of the wrong kind is ever queued.
    // SAFETY: socket takes integers only.
    let fd = check(unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    })?;
    // SAFETY: `fd` was just returned by socket, is open, and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };

    // ld pkttype; jeq PACKET_OUTGOING ? ret SNAPLEN : ret 0
    let mut program = [
        libc::sock_filter {
            code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
            jt: 0,
            jf: 0,
            k: (libc::SKF_AD_OFF + libc::SKF_AD_PKTTYPE) as u32,
        },
        libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k: u32::from(libc::PACKET_OUTGOING),
        },
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: TAP_SNAPLEN,
        },
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: 0,
        },
    ];
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    setsockopt_raw(&fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)?;
    setsockopt_raw(
        &fd,
        libc::SOL_SOCKET,
        libc::SO_TIMESTAMPNS,
        &(1 as libc::c_int),
    )?;
    let size = libc::c_int::try_from(rcvbuf).unwrap_or(libc::c_int::MAX);
    // Beyond net.core.rmem_max needs CAP_NET_ADMIN; without it, the most the host allows.
    if setsockopt_raw(&fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &size).is_err() {
        setsockopt_raw(&fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &size)?;
    }

    // SAFETY: sockaddr_ll is plain old data; all-zero bytes are a valid value of it.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    addr.sll_ifindex = libc::c_int::try_from(ifindex).unwrap_or(libc::c_int::MAX);
    // SAFETY: `addr` is a valid sockaddr_ll and the length passed is its size; `fd` is open.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    })?;
    Ok(fd)
}

/// `setsockopt` with a value of any plain-old-data type.
fn setsockopt_raw<T>(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: the kernel reads `size_of::<T>()` bytes from `value`, which has exactly that
    // many and outlives the call; `fd` is open.
    check(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// One copy read from a packet tap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamped {
    /// The copy's length: the packet's, or [`TAP_SNAPLEN`] for a longer packet the filter cut
    /// (whose own length is in its IPv4 header, within the copy).
    pub len: usize,
    /// Bytes of the copy in the buffer.
    pub copied: usize,
    /// The kernel's timestamp, since the Unix epoch (`CLOCK_REALTIME`); `None` if the kernel
    /// attached none.
    pub at_unix: Option<Duration>,
}

/// Reads the next copy from a packet tap into `buf`, with its timestamp; `Ok(None)` when none
/// is waiting.
pub(crate) fn recv_stamped(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<Option<Stamped>> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for one cmsg carrying a timespec, 8-byte aligned.
    let mut control = [0u64; 8];
    // SAFETY: msghdr is plain old data; all-zero bytes are a valid value of it.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: `msg` points at `iov` (into `buf`) and `control`, all valid and exclusively
    // borrowed for the call; MSG_TRUNC makes the return value the copy's length.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_TRUNC) };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::WouldBlock => Ok(None),
            _ => Err(e),
        };
    }
    let len = n as usize;
    let copied = len.min(buf.len());
    let mut at_unix = None;
    // SAFETY: the CMSG_* macros walk the control buffer the kernel just filled, within
    // `msg_controllen`; a timestamp cmsg's data is one `timespec`, read unaligned.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                let ts = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::timespec>());
                if ts.tv_sec > 0 {
                    at_unix = Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(Some(Stamped {
        len,
        copied,
        at_unix,
    }))
}

/// Puts the calling thread under `SCHED_IDLE`: it runs only when nothing else wants the CPU, and
/// any other task that wakes preempts it at once.
pub(crate) fn set_idle_policy() -> io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid sched_param for the call; pid 0 means the calling thread.
    check(unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) }).map(drop)
}

/// Pins the calling thread to CPU `cpu`.
pub(crate) fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain old data; all-zero bytes are the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    if cpu >= 8 * std::mem::size_of::<libc::cpu_set_t>() {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // SAFETY: `cpu` is within the set's capacity (checked above); `set` is a valid cpu_set_t.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 means the calling thread.
    check(unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) })
        .map(drop)
}

/// Sends `signal` to every process of the process group `pgid`; a group with no process left
/// is not an error (`Ok(false)`).
pub(crate) fn kill_group(pgid: u32, signal: libc::c_int) -> io::Result<bool> {
    let pgid = libc::pid_t::try_from(pgid)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "process group out of range"))?;
    // SAFETY: kill takes two integers and touches no memory of ours; a negative pid names the
    // process group, which the caller made (its leader is a child it spawned with a group of
    // its own), so no process outside it is signalled.
    match check(unsafe { libc::kill(-pgid, signal) }) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(false),
        Err(e) => Err(e),
    }
}
