//! What the application layer answers: camelCase, booleans and enums, ISO 8601 times
//! (`createdDateTime`, as Microsoft Graph names them) — never database rows.

use keyfort_core::passkey::PasskeyType;
use keyfort_core::tap::Usability;
use keyfort_store::{GroupSummary, PassRecord, PasskeyRecord, User};
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

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UserDto {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub employee_id: Option<String>,
    pub user_type: String,
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
            user_type: u.user_type.clone(),
            enabled: u.enabled,
            is_admin: u.is_admin,
            attributes: u.attributes.clone(),
            created_date_time: iso(u.created_at),
            last_sign_in_date_time: u.last_signin_at.map(iso),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PasskeyDto {
    pub id: String,
    pub display_name: String,
    pub passkey_type: PasskeyType,
    pub aaguid: String,
    pub attestation_verified: bool,
    pub backup_eligible: bool,
    pub backed_up: bool,
    pub possibly_cloned: bool,
    pub created_date_time: String,
    pub last_used_date_time: Option<String>,
}

impl From<&PasskeyRecord> for PasskeyDto {
    fn from(p: &PasskeyRecord) -> Self {
        PasskeyDto {
            id: p.id.clone(),
            display_name: p.display_name.clone(),
            passkey_type: PasskeyType::parse(&p.passkey_type)
                .unwrap_or(PasskeyType::from_backup_eligible(p.backup_eligible != 0)),
            aaguid: p.aaguid.clone(),
            attestation_verified: p.attested != 0,
            backup_eligible: p.backup_eligible != 0,
            backed_up: p.backup_state != 0,
            possibly_cloned: p.possibly_cloned != 0,
            created_date_time: iso(p.created_at),
            last_used_date_time: p.last_used_at.map(iso),
        }
    }
}

/// A user's Temporary Access Pass as the methods listing shows it (never the code).
#[derive(Debug, Clone, Serialize, PartialEq)]
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
    pub fn of(p: &PassRecord, now: i64) -> Self {
        let usability = p.state().usability(now);
        PassDto {
            id: p.id.clone(),
            start_date_time: iso(p.start_at),
            lifetime_in_minutes: p.lifetime_minutes,
            is_usable_once: p.one_time != 0,
            is_usable: usability.is_usable(),
            method_usability_reason: usability,
            created_by: p.created_by.clone(),
            created_date_time: iso(p.created_at),
        }
    }
}

/// A freshly issued pass: the only time the code is shown.
#[derive(Debug, Clone, Serialize, PartialEq)]
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
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UserDetailDto {
    pub user: UserDto,
    pub groups: Vec<String>,
    pub passkeys: Vec<PasskeyDto>,
    pub temporary_access_pass: Option<PassDto>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
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

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MembershipDto {
    pub group: String,
    pub member: String,
}

/// One page of a listing; `nextCursor` asks for the next (absent on the last page).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub value: Vec<T>,
    pub next_cursor: Option<String>,
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
