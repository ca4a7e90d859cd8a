//! Certificate generation with rcgen: the lab CA and the `localhost` leaf it signs.
//!
//! rcgen (without its x509-parser feature) cannot read an existing CA certificate back, so the
//! CA's parameters are rebuilt from `ca_params()`: its subject and key usages are fixed here,
//! which lets a leaf be re-issued from `ca.key` alone. The store verifies every leaf against
//! `ca.pem` afterwards, so a CA made by other means is detected, not silently mis-signed.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{SystemTime, UNIX_EPOCH};

/// Subject common name of the lab CA.
pub(crate) const CA_COMMON_NAME: &str = "httplab local CA";
/// Leaf validity. Apple platforms reject TLS server certificates valid for more than 825 days
/// and browsers for more than 398; stay under both. An expired leaf is re-issued on open.
const LEAF_DAYS: i64 = 397;
/// CA validity (CAs are not subject to the leaf limits).
pub(crate) const CA_DAYS: i64 = 3650;

/// A certificate and its private key, both PEM.
pub(crate) struct Pems {
    pub cert: String,
    pub key: String,
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_COMMON_NAME);
    dn.push(DnType::OrganizationName, "httplab");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// A new CA key and self-signed CA certificate, valid from yesterday for [`CA_DAYS`].
pub(crate) fn generate_ca() -> Result<(Pems, KeyPair), rcgen::Error> {
    generate_ca_valid(-1, CA_DAYS)
}

/// A new CA valid from `from` to `to` days from today (tests make expired ones).
pub(crate) fn generate_ca_valid(from: i64, to: i64) -> Result<(Pems, KeyPair), rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut params = ca_params();
    set_validity(&mut params, from, to);
    let cert = params.self_signed(&key)?;
    Ok((
        Pems {
            cert: cert.pem(),
            key: key.serialize_pem(),
        },
        key,
    ))
}

/// A new leaf for `localhost`, 127.0.0.1 and ::1, signed by the CA key, valid from yesterday
/// for [`LEAF_DAYS`] or until `ca_days_left` days from today, whichever ends first (a leaf
/// never outlives its CA).
pub(crate) fn issue_leaf(ca_key: &KeyPair, ca_days_left: i64) -> Result<Pems, rcgen::Error> {
    issue_leaf_for(ca_key, ca_days_left, &[])
}

/// Like [`issue_leaf`], covering `names` too (a scenario's origins), each a DNS name.
pub(crate) fn issue_leaf_for(
    ca_key: &KeyPair,
    ca_days_left: i64,
    names: &[String],
) -> Result<Pems, rcgen::Error> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "localhost");
    params.distinguished_name = dn;
    params.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into()?),
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ];
    for name in names.iter().filter(|n| *n != "localhost") {
        params
            .subject_alt_names
            .push(SanType::DnsName(name.clone().try_into()?));
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, -1, LEAF_DAYS.min(ca_days_left));
    let issuer = Issuer::new(ca_params(), ca_key);
    let cert = params.signed_by(&key, &issuer)?;
    Ok(Pems {
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// Days since 1970-01-01, UTC, today.
pub(crate) fn today() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| (d.as_secs() / 86_400) as i64)
}

/// Valid from `from` days from today (-1: yesterday, which tolerates a little clock skew) to
/// `to` days from today, midnight UTC.
fn set_validity(params: &mut CertificateParams, from: i64, to: i64) {
    let today = today();
    let (y, m, d) = civil_from_days(today + from);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = civil_from_days(today + to);
    params.not_after = rcgen::date_time_ymd(y, m, d);
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day); H. Hinnant's algorithm.
pub(crate) fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as i32, month, day)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_453), (2025, 12, 31));
    }
}
