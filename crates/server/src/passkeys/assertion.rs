//! The passkey assertion check (WebAuthn L3 §7.2) for ES256 credentials, with the
//! signature verified by aws-lc-rs. It performs the same checks as webauthn-rs-core's
//! `authenticate_single_credential`, in the same order, and refuses with the same
//! errors; it exists because that crate verifies P-256 with RustCrypto, which costs about
//! three times as much CPU per sign-in. Anything other than a plain ES256 assertion
//! (other algorithms, extension data) goes to webauthn-rs-core, and a differential test
//! (below) holds both to the same answers.

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
use keyfort_core::passkey::AuthenticatorDataSummary;
use sha2::{Digest, Sha256};
use url::Url;
use webauthn_rs_core::error::WebauthnError;
use webauthn_rs_core::proto::{
    COSEAlgorithm, COSEKeyType, CollectedClientData, Credential, ECDSACurve, PublicKeyCredential,
};
use webauthn_rs_proto::origin::origins_match;

/// What a good assertion tells about the authenticator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asserted {
    pub counter: u32,
    pub backup_eligible: bool,
    pub backup_state: bool,
}

/// The relying party an assertion must be for.
pub struct Expect<'a> {
    pub challenge: &'a [u8],
    pub origin: &'a Url,
    /// The related origins allowed to use the RP ID (WebAuthn L3 §5.11), consulted only
    /// when the origin is not `origin`.
    pub related: &'a [Url],
    pub rp_id_hash: &'a [u8; 32],
}

const FLAG_AT: u8 = 0x40;
const FLAG_ED: u8 = 0x80;

/// `None` when this path does not handle the assertion (not ES256 on P-256, or extension
/// data present): the caller then asks webauthn-rs-core.
pub fn verify_es256(
    expect: &Expect<'_>,
    cred: &Credential,
    rsp: &PublicKeyCredential,
) -> Option<Result<Asserted, WebauthnError>> {
    let key = match (&cred.cred.type_, &cred.cred.key) {
        (COSEAlgorithm::ES256, COSEKeyType::EC_EC2(k))
            if k.curve == ECDSACurve::SECP256R1 && k.x.len() == 32 && k.y.len() == 32 =>
        {
            k
        }
        _ => return None,
    };
    let auth_data: &[u8] = rsp.response.authenticator_data.as_ref();
    if auth_data.len() > 32 && auth_data[32] & FLAG_ED != 0 {
        return None;
    }
    Some(check(expect, cred, rsp, auth_data, &key.x, &key.y))
}

fn check(
    expect: &Expect<'_>,
    cred: &Credential,
    rsp: &PublicKeyCredential,
    auth_data: &[u8],
    x: &[u8],
    y: &[u8],
) -> Result<Asserted, WebauthnError> {
    if cred.cred_id.as_slice() != rsp.raw_id.as_slice() {
        return Err(WebauthnError::CredentialNotFound);
    }
    let client_data_bytes: &[u8] = rsp.response.client_data_json.as_ref();
    let client_data: CollectedClientData =
        serde_json::from_slice(client_data_bytes).map_err(WebauthnError::ParseJSONFailure)?;
    // An assertion's authenticator data is the 37-byte header: no attested credential data.
    let summary = AuthenticatorDataSummary::parse(auth_data)
        .map_err(|_| WebauthnError::ParseInsufficientBytesAvailable)?;
    if auth_data.len() != 37 || auth_data[32] & FLAG_AT != 0 {
        return Err(WebauthnError::ParseNOMFailure);
    }
    // §7.2 step 11: type.
    if client_data.type_ != "webauthn.get" {
        return Err(WebauthnError::InvalidClientDataType);
    }
    // Step 12: challenge.
    if client_data.challenge.as_slice() != expect.challenge {
        return Err(WebauthnError::MismatchedChallenge);
    }
    // Step 13: origin — exactly the public origin (no subdomains, no other port), or
    // exactly one of the configured related origins.
    if !origins_match(false, false, &client_data.origin, expect.origin)
        && !expect
            .related
            .iter()
            .any(|r| origins_match(false, false, &client_data.origin, r))
    {
        return Err(WebauthnError::InvalidRPOrigin);
    }
    if client_data.cross_origin.unwrap_or(false) {
        return Err(WebauthnError::CredentialCrossOrigin);
    }
    // Step 15: RP ID hash.
    if auth_data[..32] != expect.rp_id_hash[..] {
        return Err(WebauthnError::InvalidRPIDHash);
    }
    // Steps 16–17: user present; user verified (Keyfort registers with UV required).
    if !summary.user_present {
        return Err(WebauthnError::UserNotPresent);
    }
    if !summary.user_verified {
        return Err(WebauthnError::UserNotVerified);
    }
    // Step 18: backup eligibility cannot change; backed up implies eligible.
    if cred.backup_eligible != summary.backup_eligible {
        return Err(WebauthnError::CredentialBackupEligibilityInconsistent);
    }
    if summary.backup_state && !cred.backup_eligible {
        return Err(WebauthnError::CredentialMayNotBeHardwareBound);
    }
    // Steps 20–21: signature over authenticatorData ‖ SHA-256(clientDataJSON).
    let mut signed = Vec::with_capacity(auth_data.len() + 32);
    signed.extend_from_slice(auth_data);
    signed.extend_from_slice(&Sha256::digest(client_data_bytes));
    let mut point = Vec::with_capacity(65);
    point.push(0x04);
    point.extend_from_slice(x);
    point.extend_from_slice(y);
    let signature: &[u8] = rsp.response.signature.as_ref();
    if UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &point)
        .verify(&signed, signature)
        .is_err()
    {
        return Err(WebauthnError::AuthenticationFailure);
    }
    // Step 22: signature counter.
    if (summary.sign_count > 0 || cred.counter > 0) && summary.sign_count <= cred.counter {
        return Err(WebauthnError::CredentialPossibleCompromise);
    }
    Ok(Asserted {
        counter: summary.sign_count,
        backup_eligible: summary.backup_eligible,
        backup_state: summary.backup_state,
    })
}

#[cfg(test)]
mod differential {
    //! Both verifiers, same inputs, same answers — for honest and hostile assertions.
    use super::*;
    use crate::passkeys::testing::{BASE, alice, rp};
    use crate::passkeys::webauthn_refusal;
    use keyfort_softauthn::{Authenticator, Overrides};
    use webauthn_rs_core::WebauthnCore;
    use webauthn_rs_core::proto::{RegisterPublicKeyCredential, UserVerificationPolicy};

    fn registered(webauthn: &WebauthnCore, authn: &mut Authenticator) -> Credential {
        let user = alice();
        let (options, state) =
            crate::passkeys::registration::options(webauthn, &user, vec![], false, &[]).unwrap();
        let response = authn
            .create(&serde_json::to_value(&options.public_key).unwrap(), BASE)
            .unwrap();
        let response: RegisterPublicKeyCredential = serde_json::from_value(response).unwrap();
        let record = crate::passkeys::registration::verify(
            webauthn,
            &crate::passkeys::anchors::TrustAnchors::none(),
            &response,
            &state,
            &user.id,
            "k".into(),
            0,
        )
        .unwrap()
        .record;
        serde_json::from_str(&record.credential).unwrap()
    }

    /// Runs one assertion through both verifiers and returns the (agreed) outcome as a code.
    fn both(
        webauthn: &WebauthnCore,
        cred: &Credential,
        authn: &mut Authenticator,
        o: &Overrides,
        tamper: impl Fn(&mut serde_json::Value),
    ) -> String {
        let builder = webauthn
            .new_challenge_authenticate_builder(vec![], Some(UserVerificationPolicy::Required))
            .unwrap();
        let (options, state) = webauthn.generate_challenge_authenticate(builder).unwrap();
        let options = serde_json::to_value(&options.public_key).unwrap();
        let mut response = authn.get_with(&options, BASE, o).unwrap();
        tamper(&mut response);
        let rsp: PublicKeyCredential = serde_json::from_value(response).unwrap();
        let challenge: Vec<u8> = options["challenge"]
            .as_str()
            .map(|c| {
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, c)
                    .unwrap()
            })
            .unwrap();
        let origin = Url::parse(BASE).unwrap();
        let hash: [u8; 32] = Sha256::digest(b"localhost").into();
        let fast = verify_es256(
            &Expect {
                challenge: &challenge,
                origin: &origin,
                related: &[],
                rp_id_hash: &hash,
            },
            cred,
            &rsp,
        )
        .expect("ES256 takes the fast path");
        let reference = webauthn.authenticate_single_credential(&rsp, &state, cred);
        let code = |r: &Result<(u32, bool, bool), WebauthnError>| match r {
            Ok(v) => format!("ok {v:?}"),
            Err(e) => webauthn_refusal(e).code().to_string(),
        };
        let fast = fast.map(|a| (a.counter, a.backup_eligible, a.backup_state));
        let reference = reference.map(|a| (a.counter(), a.backup_eligible(), a.backup_state()));
        assert_eq!(code(&fast), code(&reference), "the two verifiers disagree");
        code(&fast)
    }

    #[test]
    fn the_fast_path_agrees_with_webauthn_rs() {
        let webauthn = rp();
        let mut authn = Authenticator::new([3; 16]);
        let mut cred = registered(&webauthn, &mut authn);
        let none = |_: &mut serde_json::Value| {};
        let cases: Vec<(Overrides, &str)> = vec![
            (Overrides::default(), "ok"),
            (
                Overrides {
                    origin: Some("https://evil.example".into()),
                    ..Default::default()
                },
                "origin_mismatch",
            ),
            (
                Overrides {
                    origin: Some("http://localhost:8081".into()),
                    ..Default::default()
                },
                "origin_mismatch",
            ),
            (
                Overrides {
                    origin: Some("http://sub.localhost:8080".into()),
                    ..Default::default()
                },
                "origin_mismatch",
            ),
            (
                Overrides {
                    rp_id: Some("evil.example".into()),
                    ..Default::default()
                },
                "rp_id_mismatch",
            ),
            (
                Overrides {
                    clear_uv: true,
                    ..Default::default()
                },
                "user_verification_required",
            ),
            (
                Overrides {
                    challenge: Some("AAAA".into()),
                    ..Default::default()
                },
                "challenge_mismatch",
            ),
            (
                Overrides {
                    counter: Some(0),
                    ..Default::default()
                },
                "sign_count_regression",
            ),
        ];
        for (o, want) in cases {
            let got = both(&webauthn, &cred, &mut authn, &o, none);
            assert!(got.starts_with(want), "{o:?}: {got}");
            if got.starts_with("ok") {
                cred.counter = authn.credentials[0].counter;
            }
        }
        // Tampered signature, client data and authenticator data.
        let flip = |field: &'static str| {
            move |v: &mut serde_json::Value| {
                let s = v["response"][field].as_str().unwrap().to_string();
                let mut bytes =
                    base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &s)
                        .unwrap();
                let i = bytes.len() - 3;
                bytes[i] ^= 0x01;
                v["response"][field] = serde_json::json!(base64::Engine::encode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    bytes
                ));
            }
        };
        for field in ["signature", "clientDataJSON", "authenticatorData"] {
            let got = both(
                &webauthn,
                &cred,
                &mut authn,
                &Overrides::default(),
                flip(field),
            );
            assert!(!got.starts_with("ok"), "{field} tampered: {got}");
        }
        // Authenticator data cut short, or a response for another credential id.
        both(&webauthn, &cred, &mut authn, &Overrides::default(), |v| {
            v["response"]["authenticatorData"] = serde_json::json!("AAAA");
        });
        let got = both(&webauthn, &cred, &mut authn, &Overrides::default(), |v| {
            v["rawId"] = serde_json::json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        });
        assert!(!got.starts_with("ok"));
        // Backup flags that contradict registration.
        authn.backup_eligible = true;
        let got = both(&webauthn, &cred, &mut authn, &Overrides::default(), none);
        assert_eq!(got, "inconsistent_backup_flags");
        authn.backup_eligible = false;
        authn.backup_state = true;
        let got = both(&webauthn, &cred, &mut authn, &Overrides::default(), none);
        assert_eq!(got, "inconsistent_backup_flags");
        authn.backup_state = false;
        // And honest again.
        cred.counter = authn.credentials[0].counter;
        assert!(both(&webauthn, &cred, &mut authn, &Overrides::default(), none).starts_with("ok"));
    }

    #[test]
    fn synced_passkeys_without_counters_agree() {
        let webauthn = rp();
        let mut authn = Authenticator::synced([4; 16]);
        let cred = registered(&webauthn, &mut authn);
        for _ in 0..3 {
            assert!(
                both(&webauthn, &cred, &mut authn, &Overrides::default(), |_| {})
                    .starts_with("ok (0, true, true)")
            );
        }
    }
}
