//! Sign-in responses: authenticator data, client data JSON, signature and user handle,
//! through the shape checks, the ES256 fast path and webauthn-rs-core.
#![no_main]
mod common;

use common::{BASE, relying_party, user};
use base64::Engine;
use keyfort_server::passkeys::assertion::{Expect, verify_es256};
use keyfort_server::passkeys::{registration, shape};
use keyfort_softauthn::Authenticator;
use libfuzzer_sys::fuzz_target;
use sha2::Digest;
use std::sync::OnceLock;
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::proto::{
    AuthenticationState, Credential, PublicKeyCredential, RegisterPublicKeyCredential,
    UserVerificationPolicy,
};

struct Fixture {
    webauthn: WebauthnCore,
    cred: Credential,
    state: AuthenticationState,
    challenge: Vec<u8>,
    honest: PublicKeyCredential,
    origin: url::Url,
    rp_id_hash: [u8; 32],
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let origin = url::Url::parse(BASE).unwrap();
        let webauthn = relying_party();
        let user = user();
        let mut authn = Authenticator::new([2; 16]);
        let (options, reg) = registration::options(&webauthn, &user, vec![]).unwrap();
        let created = authn
            .create(&serde_json::to_value(&options.public_key).unwrap(), BASE)
            .unwrap();
        let created: RegisterPublicKeyCredential = serde_json::from_value(created).unwrap();
        let record =
            registration::verify(&webauthn, &created, &reg, &user.id, "k".into(), 0).unwrap();
        let cred: Credential = serde_json::from_str(&record.credential).unwrap();
        let builder = webauthn
            .new_challenge_authenticate_builder(vec![], Some(UserVerificationPolicy::Required))
            .unwrap();
        let (options, state) = webauthn.generate_challenge_authenticate(builder).unwrap();
        let options = serde_json::to_value(&options.public_key).unwrap();
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(options["challenge"].as_str().unwrap())
            .unwrap();
        let honest = authn.get(&options, BASE).unwrap();
        Fixture {
            webauthn,
            cred,
            state,
            challenge,
            honest: serde_json::from_value(honest).unwrap(),
            origin,
            rp_id_hash: sha2::Sha256::digest(b"localhost").into(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let mut rsp = f.honest.clone();
    match which % 4 {
        0 => rsp.response.authenticator_data = rest.to_vec().into(),
        1 => rsp.response.client_data_json = rest.to_vec().into(),
        2 => rsp.response.signature = rest.to_vec().into(),
        _ => rsp.response.user_handle = Some(rest.to_vec().into()),
    }
    if shape::check_assertion(&rsp).is_err() {
        return;
    }
    let expect = Expect {
        challenge: &f.challenge,
        origin: &f.origin,
        rp_id_hash: &f.rp_id_hash,
    };
    let fast = verify_es256(&expect, &f.cred, &rsp);
    let reference = f.webauthn.authenticate_single_credential(&rsp, &f.state, &f.cred);
    // Whatever the input, the two verifiers agree on whether it is accepted.
    if let Some(fast) = fast {
        assert_eq!(fast.is_ok(), reference.is_ok(), "the verifiers disagree");
    }
});
