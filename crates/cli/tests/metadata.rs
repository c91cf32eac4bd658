//! FIDO metadata on both stores: a BLOB signed by a test root (injected in place of
//! FIDO's) is verified, stored as the last good copy and used — its models' attestation
//! roots attest passkeys, a revoked model cannot be registered — and every bad BLOB is
//! refused with its reason while the last good copy stays.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a failing test stops loudly

mod support;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use keyfort_core::roles::Role;
use keyfort_server::app;
use keyfort_server::metadata::{MetadataRoot, blob};
use keyfort_softauthn::{Authenticator, Overrides, TestCa};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use support::api::{call, caller};
use support::inproc::{Db, client, start_with_root};

const KEY: [u8; 16] = [0x11; 16];
const KEY_ID: &str = "11111111-1111-1111-1111-111111111111";
const REVOKED: [u8; 16] = [0x22; 16];
const REVOKED_ID: &str = "22222222-2222-2222-2222-222222222222";

fn now() -> i64 {
    keyfort_server::state::now_ms()
}

/// The test's metadata PKI: a root, and a vendor whose root issues attestation.
struct Pki {
    root: TestCa,
    vendor: TestCa,
}

fn date(days_from_now: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::days(days_from_now);
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

/// A BLOB's payload; from serial 8 on, it reports the broken model revoked.
fn payload(pki: &Pki, no: i64, next_update: &str) -> Value {
    let broken_reports = if no >= 8 {
        json!([
            { "status": "FIDO_CERTIFIED", "effectiveDate": "2023-01-01" },
            { "status": "REVOKED", "effectiveDate": "2024-06-01" },
        ])
    } else {
        json!([{ "status": "FIDO_CERTIFIED", "effectiveDate": "2023-01-01" }])
    };
    json!({
        "legalHeader": "Test metadata, not FIDO's.",
        "no": no,
        "nextUpdate": next_update,
        "entries": [
            {
                "aaguid": KEY_ID,
                "metadataStatement": {
                    "description": "Keyfort Test Key 5",
                    "attestationRootCertificates": [STANDARD.encode(&pki.vendor.der)],
                },
                "statusReports": [{ "status": "FIDO_CERTIFIED_L1", "effectiveDate": "2024-01-01" }],
            },
            {
                "aaguid": REVOKED_ID,
                "metadataStatement": { "description": "Keyfort Broken Key", "attestationRootCertificates": [] },
                "statusReports": broken_reports,
            },
            // A U2F entry (no AAGUID) is not about passkeys.
            { "attestationCertificateKeyIdentifiers": ["abcd"], "statusReports": [] },
        ],
    })
}

/// A BLOB: `payload` signed by a certificate `ca` issued (`expired`: out of date).
fn sign(ca: &TestCa, payload: &Value, expired: bool) -> String {
    let (cert, key) = ca.signer("Keyfort test metadata signer", expired).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.x5c = Some(vec![STANDARD.encode(&cert)]);
    jsonwebtoken::encode(
        &header,
        payload,
        &jsonwebtoken::EncodingKey::from_ec_der(&key),
    )
    .unwrap()
}

async fn metadata_verified_stored_and_used(db: Db) {
    let pki = Pki {
        root: TestCa::new("Keyfort test metadata root").unwrap(),
        vendor: TestCa::new("Keyfort test key vendor").unwrap(),
    };
    let root = MetadataRoot(blob::root_from_pem(pki.root.pem().as_bytes()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("blob.jwt");
    std::fs::write(&file, sign(&pki.root, &payload(&pki, 7, &date(30)), false)).unwrap();
    let settings = [
        ("KEYFORT_THROTTLE_PASS_PER_IP_PER_MINUTE", "100000"),
        ("KEYFORT_THROTTLE_SIGNIN_PER_IP_PER_MINUTE", "100000"),
        ("KEYFORT_METADATA_BLOB", file.to_str().unwrap()),
        ("KEYFORT_MAINTENANCE_INTERVAL_SECONDS", "1"),
    ];
    let Some(h) = start_with_root(db, "metadata", &settings, Some(root.clone())).await else {
        return;
    };
    // The node fetches the configured BLOB when it starts.
    let start = Instant::now();
    while h.store.metadata_serial().await.unwrap() != Some(7) {
        assert!(start.elapsed() < Duration::from_secs(10), "never stored");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let shown = app::metadata::show(&h.store, &root, now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((shown.serial, shown.models, shown.outdated), (7, 2, false));
    // The admin API shows the same, with what a reported model means at sign-in.
    let (_, reader) = caller(&h, &[Role::GlobalReader], "keyfort.admin").await;
    let status = call(&h, "GET", "/metadata", Some(&reader), None)
        .await
        .answers(200);
    assert_eq!(status["loaded"], true);
    assert_eq!(status["refuseReportedModels"], true);
    assert_eq!(status["metadata"]["serial"], 7);
    assert_eq!(status["metadata"]["models"], 2);
    assert_eq!(
        status["metadata"]["nextUpdateDateTime"],
        shown.next_update_date_time
    );

    let gina = h.onboard_user("gina").await;
    // A passkey of a model the metadata does not report (yet); the default profile does
    // not enforce attestation yet either.
    let mut broken =
        Authenticator::new(REVOKED).attested_by(pki.vendor.attestation(REVOKED).unwrap());
    let r = h.register(&gina, &mut broken, &Overrides::default()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // Attestation enforced: the metadata's vendor root attests the vendor's key (no
    // anchor file configured); a revoked model is refused whatever it presents.
    let input = app::policy_edits::ProfileInput {
        attestation_enforcement: Some(
            keyfort_core::policy::AttestationEnforcement::RegistrationOnly,
        ),
        ..Default::default()
    };
    h.change_default_profile(input).await.unwrap();
    let mut key = Authenticator::new(KEY).attested_by(pki.vendor.attestation(KEY).unwrap());
    let start = Instant::now();
    let stored = loop {
        let r = h.register(&gina, &mut key, &Overrides::default()).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        let detail = app::directory::show_user(&h.store, app::providers::shipped(), "gina", now())
            .await
            .unwrap();
        let k = detail.passkeys.last().unwrap().clone();
        if k.attestation_verified {
            break k;
        }
        // Registered before the policy or the metadata reached the node: try again.
        assert!(start.elapsed() < Duration::from_secs(10), "{k:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
        key = Authenticator::new(KEY).attested_by(pki.vendor.attestation(KEY).unwrap());
    };
    let a = stored.attestation.unwrap();
    assert_eq!(a.level, "attested");
    assert_eq!(a.model_name.as_deref(), Some("Keyfort Test Key 5"));
    // Metadata names models the community list does not: shown, and usable in a key
    // restriction, by every interface.
    let names = app::providers::with_stored_metadata(&h.store, &root).await;
    assert_eq!(names.name(KEY_ID), Some("Keyfort Test Key 5"));
    assert_eq!(names.resolve("keyfort test key 5").unwrap(), [KEY_ID]);
    assert!(
        names.name("ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4").is_some(),
        "shipped too"
    );
    let detail = app::directory::show_user(&h.store, &names, "gina", now())
        .await
        .unwrap();
    assert!(
        detail
            .passkeys
            .iter()
            .any(|p| p.provider_name.as_deref() == Some("Keyfort Test Key 5"))
    );

    // Every bad BLOB is refused with its reason; the last good copy stays.
    let stranger = TestCa::new("Not the metadata root").unwrap();
    let good = sign(&pki.root, &payload(&pki, 8, &date(30)), false);
    let tampered = {
        let mut parts: Vec<String> = good.split('.').map(str::to_string).collect();
        let mut p = payload(&pki, 8, &date(30));
        p["entries"][1]["statusReports"] = json!([]);
        parts[1] = URL_SAFE_NO_PAD.encode(p.to_string());
        parts.join(".")
    };
    let oversized = "a".repeat(blob::MAX_BLOB_BYTES + 1);
    let cases: [(&str, String); 7] = [
        ("metadata_bad_signature", tampered),
        (
            "metadata_untrusted_chain",
            sign(&stranger, &payload(&pki, 8, &date(30)), false),
        ),
        (
            "metadata_untrusted_chain",
            sign(&pki.root, &payload(&pki, 8, &date(30)), true),
        ),
        (
            "metadata_outdated",
            sign(&pki.root, &payload(&pki, 8, &date(-1)), false),
        ),
        ("metadata_malformed", good[..good.len() / 2].to_string()),
        ("metadata_too_large", oversized),
        (
            "metadata_rollback",
            sign(&pki.root, &payload(&pki, 6, &date(30)), false),
        ),
    ];
    for (code, text) in &cases {
        let r = app::metadata::load(&h.store, &root, text, "test", now()).await;
        let e = r.err().unwrap_or_else(|| panic!("{code}: accepted"));
        assert_eq!(e.code(), *code, "{e}");
        assert_eq!(h.store.metadata_serial().await.unwrap(), Some(7), "{code}");
    }
    // A file that cannot be read is refused the same way.
    let missing = app::metadata::read_source("/no/such/blob.jwt").await;
    assert_eq!(missing.unwrap_err().code(), "metadata_unreachable");
    // The same edition again changes nothing; a newer one is stored, audited once each.
    let again = sign(&pki.root, &payload(&pki, 7, &date(30)), false);
    let (loaded, _) = app::metadata::load(&h.store, &root, &again, "test", now())
        .await
        .unwrap();
    assert!(!loaded.stored);
    let (loaded, _) = app::metadata::load(&h.store, &root, &good, "test", now())
        .await
        .unwrap();
    assert!(loaded.stored && loaded.metadata.serial == 8);

    // The node takes up the stored edition: the broken model, now revoked, cannot be
    // registered, and the passkey registered before is refused at its next sign-in,
    // flagged in the audit log, and explained on My security.
    let start = Instant::now();
    loop {
        let r = h
            .passkey_signin(&client(), &mut broken, Some("gina"), &Overrides::default())
            .await;
        if r.status == 403 {
            assert_eq!(r.code(), "authenticator_revoked", "{:?}", r.body);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{:?}", r.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut another =
        Authenticator::new(REVOKED).attested_by(pki.vendor.attestation(REVOKED).unwrap());
    let r = h.register(&gina, &mut another, &Overrides::default()).await;
    assert_eq!(
        (r.status, r.code()),
        (403, "authenticator_revoked"),
        "{:?}",
        r.body
    );
    let r = h
        .passkey_signin(&client(), &mut key, Some("gina"), &Overrides::default())
        .await;
    assert_eq!(
        r.status, 200,
        "the other model still signs in: {:?}",
        r.body
    );
    let flagged = h
        .store
        .audit_log(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.action == "passkey.flagged")
        .collect::<Vec<_>>();
    assert!(!flagged.is_empty());
    assert!(
        flagged[0]
            .after
            .as_deref()
            .unwrap()
            .contains("authenticator_revoked")
    );
    let (_, page) = h.get_html(&gina, "/my/security").await;
    assert!(
        page.contains("data-code=\"authenticator_revoked\""),
        "{page}"
    );
    let updates = h
        .store
        .audit_log(1000)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.action == "metadata.updated")
        .count();
    assert_eq!(updates, 2);
}

on_both_stores!(metadata_verified_stored_and_used);
