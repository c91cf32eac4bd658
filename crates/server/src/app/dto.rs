//! What the application layer answers: camelCase, booleans and enums, ISO 8601 times
//! (`createdDateTime`, as Microsoft Graph names them) — never database rows.

use keyfort_core::directory::UserType;
use keyfort_core::passkey::PasskeyType;
use keyfort_core::tap::Usability;
use keyfort_store::{
    AuditRow, ClientRecord, GroupSummary, PassRecord, PasskeyRecord, SignInRow, User,
};
use serde::Serialize;
use serde_json::Value;

/// Unix milliseconds as an RFC 3339 (ISO 8601) UTC time with millisecond precision.
pub fn iso(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&fmt).unwrap_or_else(|_| ms.to_string())
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDto {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub employee_id: Option<String>,
    pub user_type: UserType,
    pub enabled: bool,
    pub is_admin: bool,
    pub attributes: Value,
    pub created_date_time: String,
    pub last_sign_in_date_time: Option<String>,
}

impl From<&User> for UserDto {
    fn from(u: &User) -> Self {
        UserDto {
            id: u.id.clone(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            given_name: u.given_name.clone(),
            family_name: u.family_name.clone(),
            employee_id: u.employee_id.clone(),
            user_type: u.user_type,
            enabled: u.enabled,
            is_admin: u.is_admin,
            attributes: u.attributes.clone(),
            created_date_time: iso(u.created_at),
            last_sign_in_date_time: u.last_signin_at.map(iso),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyDto {
    pub id: String,
    pub display_name: String,
    pub passkey_type: PasskeyType,
    pub aaguid: String,
    /// The product the AAGUID is ("iCloud Keychain", "YubiKey 5 Series"), when known.
    pub provider_name: Option<String>,
    pub attestation_verified: bool,
    pub backup_eligible: bool,
    pub backed_up: bool,
    pub possibly_cloned: bool,
    pub created_date_time: String,
    pub last_used_date_time: Option<String>,
    /// What its attestation showed at registration (absent for passkeys registered before
    /// Keyfort recorded it).
    pub attestation: Option<AttestationDto>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttestationDto {
    /// `attested` or `notAttested`.
    pub level: String,
    /// Why not: `no_attestation`, `no_trust_anchors`, `untrusted_attestation_chain`,
    /// `aaguid_outside_anchor`.
    pub not_attested_reason: Option<String>,
    pub model_name: Option<String>,
    /// The certificates it presented, base64 DER, the attestation certificate first.
    pub certificates: Vec<String>,
}

impl From<&keyfort_store::AttestationRecord> for AttestationDto {
    fn from(a: &keyfort_store::AttestationRecord) -> Self {
        AttestationDto {
            level: a.level.clone(),
            not_attested_reason: a.not_attested_reason.clone(),
            model_name: a.model_name.clone(),
            certificates: a.chain.clone(),
        }
    }
}

impl PasskeyDto {
    /// A passkey, named by `providers`.
    pub fn of(p: &PasskeyRecord, providers: &keyfort_core::providers::Providers) -> Self {
        PasskeyDto {
            id: p.id.clone(),
            display_name: p.display_name.clone(),
            passkey_type: p.passkey_type,
            aaguid: p.aaguid.clone(),
            provider_name: providers.name(&p.aaguid).map(str::to_string),
            attestation_verified: p.attested,
            backup_eligible: p.backup_eligible,
            backed_up: p.backup_state,
            possibly_cloned: p.possibly_cloned,
            created_date_time: iso(p.created_at),
            last_used_date_time: p.last_used_at.map(iso),
            attestation: None,
        }
    }
}

/// A user's Temporary Access Pass as the methods listing shows it (never the code).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PassDto {
    pub id: String,
    pub start_date_time: String,
    pub lifetime_in_minutes: i64,
    pub is_usable_once: bool,
    pub is_usable: bool,
    pub method_usability_reason: Usability,
    pub created_by: String,
    pub created_date_time: String,
}

impl PassDto {
    /// `allowed`: whether the policy allows the user a pass now.
    pub fn of(p: &PassRecord, allowed: bool, now: i64) -> Self {
        let usability = p.state().usability_in(allowed, now);
        PassDto {
            id: p.id.clone(),
            start_date_time: iso(p.start_at),
            lifetime_in_minutes: p.lifetime_minutes,
            is_usable_once: p.one_time,
            is_usable: usability.is_usable(),
            method_usability_reason: usability,
            created_by: p.created_by.clone(),
            created_date_time: iso(p.created_at),
        }
    }
}

/// A freshly issued pass: the only time the code is shown.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedPassDto {
    pub username: String,
    pub temporary_access_pass: String,
    pub start_date_time: String,
    pub expiration_date_time: String,
    pub lifetime_in_minutes: i64,
    pub is_usable_once: bool,
    pub replaced_previous: bool,
}

/// A user with their groups and registered methods.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDetailDto {
    pub user: UserDto,
    pub groups: Vec<String>,
    pub passkeys: Vec<PasskeyDto>,
    pub temporary_access_pass: Option<PassDto>,
    pub password: Option<PasswordMethodDto>,
    pub authenticator_app: Option<AuthenticatorAppDto>,
}

/// A user's authenticator app (TOTP), as metadata (never the secret).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticatorAppDto {
    pub created_date_time: String,
    pub last_used_date_time: Option<String>,
}

/// A user's password, as metadata (never the hash).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordMethodDto {
    /// `argon2id`, `argon2i`, `argon2d` or `bcrypt`.
    pub scheme: String,
    /// `set` (chosen in Keyfort) or `imported`.
    pub source: String,
    pub created_date_time: String,
    /// Whether the authentication-methods policy enables passwords for the user.
    pub enabled_by_policy: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupDto {
    pub id: String,
    pub name: String,
    pub member_count: i64,
    pub created_date_time: String,
}

impl From<&GroupSummary> for GroupDto {
    fn from(g: &GroupSummary) -> Self {
        GroupDto {
            id: g.id.clone(),
            name: g.name.clone(),
            member_count: g.member_count,
            created_date_time: iso(g.created_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MembershipDto {
    pub group: String,
    pub member: String,
}

/// One page of a listing; `nextCursor` asks for the next (absent on the last page).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub value: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A registered application (never its secret).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientDto {
    pub client_id: String,
    pub name: String,
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub id_token_signed_response_alg: String,
    pub groups_claim: bool,
    pub created_date_time: String,
    pub secret_rotated_date_time: Option<String>,
}

impl From<&ClientRecord> for ClientDto {
    fn from(c: &ClientRecord) -> Self {
        ClientDto {
            client_id: c.id.clone(),
            name: c.name.clone(),
            public: c.public_client,
            redirect_uris: c.redirect_uri_list(),
            post_logout_redirect_uris: c.post_logout_uri_list(),
            grant_types: c.grant_type_list(),
            token_endpoint_auth_method: c.auth_method.clone(),
            id_token_signed_response_alg: c.id_token_alg.clone(),
            groups_claim: c.groups_claim,
            created_date_time: iso(c.created_at),
            secret_rotated_date_time: c.secret_rotated_at.map(iso),
        }
    }
}

/// A new registration: the secret (for a confidential client) is shown only here.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredClientDto {
    #[serde(flatten)]
    pub client: ClientDto,
    pub client_secret: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotatedSecretDto {
    pub client_id: String,
    pub client_secret: String,
}

/// A sign-in attempt (identical refusals from one address within a minute are one row).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignInDto {
    pub id: i64,
    pub created_date_time: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub method: String,
    pub outcome: String,
    /// The refusal's stable code, or `ok`.
    pub reason: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub attempts: i64,
    pub last_attempt_date_time: Option<String>,
}

impl From<&SignInRow> for SignInDto {
    fn from(r: &SignInRow) -> Self {
        SignInDto {
            id: r.id,
            created_date_time: iso(r.at),
            user_id: r.user_id.clone(),
            username: r.username.clone(),
            method: r.method.clone(),
            outcome: r.outcome.clone(),
            reason: r.reason.clone(),
            ip_address: r.ip.clone(),
            user_agent: r.user_agent.clone(),
            attempts: r.attempts,
            last_attempt_date_time: r.last_at.map(iso),
        }
    }
}

/// A change to the directory, credentials, clients or keys.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditDto {
    pub id: i64,
    pub activity_date_time: String,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    /// What changed, as recorded (JSON), before and after.
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl From<&AuditRow> for AuditDto {
    fn from(r: &AuditRow) -> Self {
        let parse = |s: &Option<String>| {
            s.as_deref()
                .map(|t| serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_string())))
        };
        AuditDto {
            id: r.id,
            activity_date_time: iso(r.at),
            actor: r.actor.clone(),
            action: r.action.clone(),
            target: r.target.clone(),
            before: parse(&r.before),
            after: parse(&r.after),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_iso_8601_utc() {
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(1_796_220_347_485), "2026-12-02T14:05:47.485Z");
    }
}
