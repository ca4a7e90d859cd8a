//! The two `getsockopt` calls: `TCP_INFO` into the kernel's struct, and `TCP_CONGESTION`.
//! Nothing here interprets a field; `convert.rs` does, knowing how many bytes arrived.

use std::ffi::CStr;
use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsRawFd, BorrowedFd};

/// Room for the kernel's `struct tcp_info`, larger than the one this build knows so that a
/// newer kernel's longer struct is cut at our size, never past it.
#[repr(C, align(8))]
pub(crate) struct RawTcpInfo(pub(crate) [u8; RAW_LEN]);

pub(crate) const RAW_LEN: usize = 512;
const _: () = assert!(size_of::<libc::tcp_info>() <= RAW_LEN);

/// `fd`'s `TCP_INFO` as the kernel wrote it, and how many bytes it wrote (an older kernel
/// writes fewer: the fields past that length are not there).
pub(crate) fn tcp_info(fd: BorrowedFd<'_>) -> io::Result<(RawTcpInfo, usize)> {
    let mut raw = RawTcpInfo([0u8; RAW_LEN]);
    let mut len = RAW_LEN as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `raw`, which has that many, and
    // updates `len`; `fd` is open while borrowed.
    let ret = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            raw.0.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok((raw, (len as usize).min(RAW_LEN)))
}

impl RawTcpInfo {
    /// The bytes as the struct this build knows (bytes past what the kernel wrote are zero;
    /// `convert.rs` does not read those fields).
    pub(crate) fn as_struct(&self) -> libc::tcp_info {
        let mut out = MaybeUninit::<libc::tcp_info>::uninit();
        // SAFETY: `self.0` holds at least `size_of::<tcp_info>()` initialised bytes, the
        // destination is that large, and `tcp_info` is plain integers, valid for any bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(
                self.0.as_ptr(),
                out.as_mut_ptr().cast::<u8>(),
                size_of::<libc::tcp_info>(),
            );
            out.assume_init()
        }
    }
}

/// A TCP socket's congestion control (`TCP_CONGESTION`).
pub(crate) fn congestion(fd: BorrowedFd<'_>) -> io::Result<String> {
    let mut buf = [0u8; 32];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `buf`, which has that many, and
    // updates `len`; `fd` is open while borrowed.
    let ret = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            buf.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if ret == -1 {
        return Err(io::Error::last_os_error());
    }
    let bytes = &buf[..(len as usize).min(buf.len())];
    let name = CStr::from_bytes_until_nul(bytes)
        .map(|c| c.to_bytes())
        .unwrap_or(bytes);
    Ok(String::from_utf8_lossy(name).into_owned())
}
