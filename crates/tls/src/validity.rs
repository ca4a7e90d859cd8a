//! What the store checks of its files before it uses them: each certificate's validity period
//! against today (parsed with `x509-parser`, which rcgen reads certificates with) and each
//! private key's file mode (readable by its owner only).
//!
//! It owns [`Validity`] and its reasons to re-issue a certificate, and the key-mode check with
//! the `chmod` that fixes it. It deliberately decides nothing: the store re-issues or refuses.

use crate::error::TlsError;
use crate::generate::civil_from_days;
use rustls_pki_types::CertificateDer;
use std::path::Path;

/// A certificate's validity period, in seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Validity {
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
}

impl Validity {
    /// The validity of a DER certificate, or why it cannot be read.
    pub(crate) fn of(cert: &CertificateDer<'_>) -> Result<Validity, String> {
        let (_, parsed) = x509_parser::parse_x509_certificate(cert)
            .map_err(|e| format!("not a readable X.509 certificate ({e})"))?;
        let v = parsed.validity();
        Ok(Validity {
            not_before: v.not_before.timestamp(),
            not_after: v.not_after.timestamp(),
        })
    }

    /// Why the certificate cannot be used at `now` (seconds since the epoch): expired, or not
    /// valid yet. `None`: valid.
    pub(crate) fn problem(&self, now: i64) -> Option<String> {
        if now > self.not_after {
            Some(format!("expired on {}", date(self.not_after)))
        } else if now < self.not_before {
            Some(format!("is not valid until {}", date(self.not_before)))
        } else {
            None
        }
    }
}

/// Seconds since the epoch, now.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `2026-11-30`.
pub(crate) fn date(seconds: i64) -> String {
    let (y, m, d) = civil_from_days(seconds.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Refuses a private key that its group or others may read, naming the `chmod` that fixes it.
/// A missing file passes: the store generates it.
pub(crate) fn check_key_mode(path: &Path) -> Result<(), TlsError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(TlsError::KeyReadable {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_name_the_date() {
        let day = 86_400;
        let v = Validity {
            not_before: 20_000 * day,
            not_after: 20_010 * day,
        };
        assert_eq!(v.problem(20_005 * day), None);
        assert_eq!(
            v.problem(20_011 * day).as_deref(),
            Some("expired on 2024-10-14")
        );
        assert_eq!(
            v.problem(19_999 * day).as_deref(),
            Some("is not valid until 2024-10-04")
        );
    }
}
