//! Registration responses: the attestation object (CBOR) and client data, through the
//! shape checks, Keyfort's own authenticator-data reader and the full verification.
#![no_main]
mod common;

use common::{BASE, relying_party, user};
use keyfort_server::passkeys::{registration, shape};
use keyfort_softauthn::Authenticator;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::proto::{RegisterPublicKeyCredential, RegistrationState};

struct Fixture {
    webauthn: WebauthnCore,
    state: RegistrationState,
    honest: RegisterPublicKeyCredential,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let webauthn = relying_party();
        let (options, state) = registration::options(&webauthn, &user(), vec![]).unwrap();
        let response = Authenticator::new([1; 16])
            .create(&serde_json::to_value(&options.public_key).unwrap(), BASE)
            .unwrap();
        Fixture {
            webauthn,
            state,
            honest: serde_json::from_value(response).unwrap(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let mut rsp = f.honest.clone();
    if which & 1 == 0 {
        rsp.response.attestation_object = rest.to_vec().into();
        let _ = registration::authenticator_data(rest);
    } else {
        rsp.response.client_data_json = rest.to_vec().into();
    }
    if shape::check_registration(&rsp).is_ok() {
        let _ = registration::verify(&f.webauthn, &rsp, &f.state, &user().id, "k".into(), 0);
    }
});
