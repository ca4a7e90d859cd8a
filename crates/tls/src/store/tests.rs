//! The store's checks on real files in a temporary directory: certificates outside their
//! validity are re-issued with a note, a leaf never outlives its CA, and a private key others
//! may read is refused with the `chmod` that fixes it.

use super::*;
use httplab_testkit::TempDir;

/// Writes a CA valid from `from` to `to` days from today into `dir`, and a leaf it signs valid
/// for `leaf_days`; returns the CA's PEM.
fn plant(dir: &Path, from: i64, to: i64, leaf_days: i64) -> String {
    let (pems, key) = generate::generate_ca_valid(from, to).expect("CA");
    write_ca(dir, &pems).expect("CA written");
    let leaf = generate::issue_leaf(&key, leaf_days).expect("leaf");
    write_file(&dir.join(LEAF_KEY), leaf.key.as_bytes(), 0o600).expect("leaf key");
    write_file(&dir.join(LEAF_CERT), leaf.cert.as_bytes(), 0o644).expect("leaf");
    pems.cert
}

fn validity_of(path: &Path) -> Validity {
    let der = CertificateDer::from_pem_slice(&fs::read(path).expect("readable")).expect("PEM");
    Validity::of(&der).expect("X.509")
}

#[test]
fn a_ca_outside_its_validity_is_reissued_and_said_so() {
    for (from, to, words) in [(-800, -400, "expired on"), (10, 100, "is not valid until")] {
        let tmp = TempDir::new("stale-ca");
        let old = plant(&tmp.0, from, to, 30);
        let store = CertStore::open_or_create(&tmp.0).expect("reissued");
        let notes = store.notices().join("\n");
        assert!(
            notes.contains(&format!("ca.pem: the lab CA {words}")),
            "{notes}"
        );
        assert!(notes.contains("must trust the new one"), "{notes}");
        assert!(notes.contains("issued a new leaf"), "{notes}");
        assert_ne!(
            fs::read_to_string(tmp.0.join(CA_CERT)).expect("ca.pem"),
            old
        );
        let now = validity::now();
        for file in [CA_CERT, LEAF_CERT] {
            let v = validity_of(&tmp.0.join(file));
            assert_eq!(v.problem(now), None, "{file}: {v:?}");
        }
        // Once reissued, the files are reused without a word.
        let again = CertStore::open_or_create(&tmp.0).expect("reopened");
        assert_eq!(again.notices(), &[] as &[String]);
    }
}

#[test]
fn a_leaf_that_outlives_its_ca_is_reissued_within_the_ca_s_validity() {
    let tmp = TempDir::new("outliving-leaf");
    let ca = plant(&tmp.0, -1, 30, 397);
    let store = CertStore::open_or_create(&tmp.0).expect("opened");
    let notes = store.notices().join("\n");
    assert!(notes.contains("after its CA"), "{notes}");
    assert!(notes.contains("issued a new leaf"), "{notes}");
    // The CA, still valid, is kept (a user who trusted it keeps that trust).
    assert_eq!(fs::read_to_string(tmp.0.join(CA_CERT)).expect("ca.pem"), ca);
    let (ca, leaf) = (
        validity_of(&tmp.0.join(CA_CERT)),
        validity_of(&tmp.0.join(LEAF_CERT)),
    );
    assert!(leaf.not_after <= ca.not_after, "{leaf:?} outlives {ca:?}");
    assert!(leaf.not_after > validity::now() + 28 * 86_400, "{leaf:?}");
}

#[test]
#[cfg(unix)]
fn a_key_others_can_read_is_refused_with_the_chmod_that_fixes_it() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = TempDir::new("readable-key");
    CertStore::open_or_create(&tmp.0).expect("created");
    for key in [CA_KEY, LEAF_KEY] {
        let path = tmp.0.join(key);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = CertStore::open_or_create(&tmp.0).expect_err("refused");
        let message = e.to_string();
        assert!(
            message.contains(&format!("run `chmod 600 {}`", path.display())),
            "{message}"
        );
        assert!(message.contains("mode 0644"), "{message}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        CertStore::open_or_create(&tmp.0).expect("accepted at 0600");
    }
}

#[test]
fn stores_opened_at_once_on_an_empty_directory_agree_on_one_ca() {
    let tmp = TempDir::new("race");
    let dir = tmp.0.join("certs");
    let cas: Vec<Vec<u8>> = std::thread::scope(|s| {
        let opens: Vec<_> = (0..8)
            .map(|_| s.spawn(|| CertStore::open_or_create(&dir).map(|store| store.ca.to_vec())))
            .collect();
        opens
            .into_iter()
            .map(|open| open.join().expect("no panic").expect("the store opens"))
            .collect()
    });
    assert!(cas.windows(2).all(|w| w[0] == w[1]), "one CA for all");
    let again = CertStore::open_or_create(&dir).expect("the files on disk agree");
    assert_eq!(again.ca.to_vec(), cas[0]);
    assert!(again.notices().is_empty(), "{:?}", again.notices());
}
