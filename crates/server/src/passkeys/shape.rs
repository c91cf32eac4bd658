//! What a WebAuthn response must look like before any of it is parsed: the fields the
//! browser sends twice agree (`id` is the base64url of `rawId`, WebAuthn L3 §5.1), the
//! type is `public-key`, and every binary field is within what a real authenticator
//! sends. Oversized fields are refused unread, so no parser (nor its logging) ever sees
//! them.

use crate::error::ApiError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use keyfort_core::webauthn::WebAuthnRefusal;
use webauthn_rs_core::proto::{PublicKeyCredential, RegisterPublicKeyCredential};

/// WebAuthn L3 §4 "Credential ID": at most 1023 bytes.
pub const MAX_CREDENTIAL_ID: usize = 1023;
/// Authenticator data of an assertion: 37 bytes plus extension outputs.
pub const MAX_AUTHENTICATOR_DATA: usize = 1024;
pub const MAX_CLIENT_DATA_JSON: usize = 2048;
/// An RSA-4096 signature is 512 bytes; ECDSA and EdDSA are far shorter.
pub const MAX_SIGNATURE: usize = 1024;
/// WebAuthn L3 §5.4.3: a user handle is at most 64 bytes.
pub const MAX_USER_HANDLE: usize = 64;
/// An attestation object with a certificate chain (TPM, Android key) is a few KiB.
pub const MAX_ATTESTATION_OBJECT: usize = 16 * 1024;

fn too_large(field: &'static str, max: usize) -> ApiError {
    WebAuthnRefusal::FieldTooLarge { field, max }.into()
}

fn ids_and_type(id: &str, raw_id: &[u8], type_: &str) -> Result<(), ApiError> {
    if type_ != "public-key" {
        return Err(WebAuthnRefusal::CredentialTypeInvalid.into());
    }
    if raw_id.is_empty() || raw_id.len() > MAX_CREDENTIAL_ID {
        return Err(too_large("credential id", MAX_CREDENTIAL_ID));
    }
    if B64.decode(id).ok().as_deref() != Some(raw_id) {
        return Err(WebAuthnRefusal::CredentialIdMismatch.into());
    }
    Ok(())
}

fn within(field: &'static str, len: usize, max: usize) -> Result<(), ApiError> {
    if len > max {
        return Err(too_large(field, max));
    }
    Ok(())
}

/// A sign-in response (`navigator.credentials.get()`).
pub fn check_assertion(c: &PublicKeyCredential) -> Result<(), ApiError> {
    ids_and_type(&c.id, c.raw_id.as_slice(), &c.type_)?;
    let r = &c.response;
    within(
        "authenticator data",
        r.authenticator_data.len(),
        MAX_AUTHENTICATOR_DATA,
    )?;
    within(
        "client data",
        r.client_data_json.len(),
        MAX_CLIENT_DATA_JSON,
    )?;
    within("signature", r.signature.len(), MAX_SIGNATURE)?;
    within(
        "user handle",
        r.user_handle.as_ref().map_or(0, |h| h.len()),
        MAX_USER_HANDLE,
    )
}

/// A registration response (`navigator.credentials.create()`).
pub fn check_registration(c: &RegisterPublicKeyCredential) -> Result<(), ApiError> {
    ids_and_type(&c.id, c.raw_id.as_slice(), &c.type_)?;
    let r = &c.response;
    within(
        "attestation object",
        r.attestation_object.len(),
        MAX_ATTESTATION_OBJECT,
    )?;
    within(
        "client data",
        r.client_data_json.len(),
        MAX_CLIENT_DATA_JSON,
    )
}

/// After verification: the credential the authenticator attested is the one the
/// browser named (else the stored passkey could never be used to sign in).
pub fn check_attested_id(c: &RegisterPublicKeyCredential, attested: &[u8]) -> Result<(), ApiError> {
    if c.raw_id.as_slice() != attested {
        return Err(WebAuthnRefusal::CredentialIdMismatch.into());
    }
    Ok(())
}
