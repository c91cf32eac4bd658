//! Directory use cases: users and groups.

use super::dto::{
    GroupDto, MembershipDto, Page, PassDto, PasskeyDto, PasswordMethodDto, UserDetailDto, UserDto,
};
use super::{AppError, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use keyfort_core::directory::{
    DirectoryRefusal, UserDraft, page_size, validate_group_name, validate_user,
};
use keyfort_core::username::{self, MAX_USERNAME_LEN};
use keyfort_store::{NewUser, Store, User, UserQuery};

/// Adds a user; audited as `user.created`.
pub async fn add_user(store: &Store, draft: &UserDraft, actor: &str, now: i64) -> Result<UserDto> {
    let v = validate_user(draft)?;
    let attributes = v
        .attributes
        .into_iter()
        .map(|(k, value)| (k, serde_json::Value::String(value)))
        .collect::<serde_json::Map<_, _>>();
    let new = NewUser {
        id: uuid::Uuid::new_v4().to_string(),
        username: v.username,
        display_name: v.display_name,
        email: v.email,
        given_name: v.given_name,
        family_name: v.family_name,
        employee_id: v.employee_id,
        attributes: serde_json::Value::Object(attributes),
        user_type: v.user_type,
        is_admin: false,
    };
    let u = store.create_user(&new, actor, now).await?;
    Ok(UserDto::from(&u))
}

/// Which users to list.
#[derive(Debug, Clone, Default)]
pub struct UserListing {
    /// From a previous page's `nextCursor`.
    pub cursor: Option<String>,
    pub limit: Option<u32>,
    pub enabled: Option<bool>,
    /// Usernames starting with this (normalised as a username is).
    pub username_prefix: Option<String>,
}

/// One page of users in username order.
pub async fn list_users(store: &Store, q: &UserListing) -> Result<Page<UserDto>> {
    let limit = page_size(q.limit)?;
    let after = q
        .cursor
        .as_deref()
        .map(|c| decode_cursor(c, MAX_USERNAME_LEN))
        .transpose()?;
    let username_prefix = match q.username_prefix.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(p) => Some(username::normalize(p).map_err(DirectoryRefusal::Username)?),
    };
    // One more than the page: whether there is a next page, without counting.
    let query = UserQuery {
        after,
        limit: limit.saturating_add(1),
        enabled: q.enabled,
        username_prefix,
    };
    let mut users = store.users_page(&query).await?;
    let more = users.len() > limit as usize;
    users.truncate(limit as usize);
    let next_cursor = match users.last() {
        Some(last) if more => Some(B64.encode(last.username.as_bytes())),
        _ => None,
    };
    Ok(Page {
        value: users.iter().map(UserDto::from).collect(),
        next_cursor,
    })
}

/// A cursor is the last username (or group name) of the page before, base64url-encoded.
fn decode_cursor(c: &str, max_chars: usize) -> Result<String> {
    let bytes = B64
        .decode(c.as_bytes())
        .map_err(|_| DirectoryRefusal::Cursor)?;
    let s = String::from_utf8(bytes).map_err(|_| DirectoryRefusal::Cursor)?;
    if s.is_empty() || s.chars().count() > max_chars {
        return Err(DirectoryRefusal::Cursor.into());
    }
    Ok(s)
}

/// The user named `raw` (normalised as a username).
pub async fn find_user(store: &Store, raw: &str) -> Result<User> {
    let u = username::normalize(raw).map_err(DirectoryRefusal::Username)?;
    store
        .user_by_username(&u)
        .await?
        .ok_or(AppError::NotFound("user"))
}

/// A user with their groups, passkeys and pass.
/// `providers` names the passkeys.
pub async fn show_user(
    store: &Store,
    providers: &keyfort_core::providers::Providers,
    raw: &str,
    now: i64,
) -> Result<UserDetailDto> {
    let u = find_user(store, raw).await?;
    let groups = store.groups_of_user(&u.id).await?;
    let passkeys = store.passkeys_of_user(&u.id).await?;
    let attestations = store.attestations_of_user(&u.id).await?;
    let pass = store.pass_of_user(&u.id).await?;
    let pass_allowed = match &pass {
        None => false,
        Some(_) => super::passes::allowed(store, &u.id).await?,
    };
    let password = match store.password_of_user(&u.id).await? {
        None => None,
        Some(p) => Some(PasswordMethodDto {
            scheme: p.scheme,
            source: p.source,
            created_date_time: super::dto::iso(p.created_at),
            enabled_by_policy: super::passwords::enabled_for(store, &u.id).await?,
        }),
    };
    Ok(UserDetailDto {
        user: UserDto::from(&u),
        groups,
        passkeys: passkeys
            .iter()
            .map(|p| PasskeyDto {
                attestation: attestations
                    .get(&p.id)
                    .map(super::dto::AttestationDto::from),
                ..PasskeyDto::of(p, providers)
            })
            .collect(),
        temporary_access_pass: pass.as_ref().map(|p| PassDto::of(p, pass_allowed, now)),
        password,
        authenticator_app: store.totp_of_user(&u.id).await?.map(|t| {
            super::dto::AuthenticatorAppDto {
                created_date_time: super::dto::iso(t.created_at),
                last_used_date_time: t.last_used_at.map(super::dto::iso),
            }
        }),
    })
}

/// Enables or disables a user; disabling ends their sessions. Audited.
pub async fn set_enabled(
    store: &Store,
    raw: &str,
    enabled: bool,
    actor: &str,
    now: i64,
) -> Result<UserDto> {
    let u = username::normalize(raw).map_err(DirectoryRefusal::Username)?;
    let user = store.set_user_enabled(&u, enabled, actor, now).await?;
    Ok(UserDto::from(&user))
}

/// Adds a group; audited.
pub async fn add_group(store: &Store, raw: &str, actor: &str, now: i64) -> Result<GroupDto> {
    let name = validate_group_name(raw)?;
    let g = store
        .create_group(&uuid::Uuid::new_v4().to_string(), &name, actor, now)
        .await?;
    Ok(GroupDto {
        id: g.id,
        name: g.name,
        member_count: 0,
        created_date_time: super::dto::iso(g.created_at),
    })
}

/// Adds a user to a group; already a member is a conflict. Audited.
pub async fn add_member(
    store: &Store,
    group: &str,
    user: &str,
    actor: &str,
    now: i64,
) -> Result<MembershipDto> {
    let name = validate_group_name(group)?;
    let g = store
        .group_by_name(&name)
        .await?
        .ok_or(AppError::NotFound("group"))?;
    let u = find_user(store, user).await?;
    store
        .add_group_member(&g, &u.id, &u.username, actor, now)
        .await?;
    Ok(MembershipDto {
        group: g.name,
        member: u.username,
    })
}

/// What a group listing asks for.
#[derive(Debug, Clone, Default)]
pub struct GroupListing {
    /// From a previous page's `nextCursor`.
    pub cursor: Option<String>,
    pub limit: Option<u32>,
    /// Names starting with this (normalised as a group name is).
    pub name_prefix: Option<String>,
}

/// One page of groups in name order.
pub async fn list_groups(store: &Store, q: &GroupListing) -> Result<Page<GroupDto>> {
    let limit = page_size(q.limit)?;
    let after = q
        .cursor
        .as_deref()
        .map(|c| decode_cursor(c, keyfort_core::directory::MAX_GROUP_NAME_CHARS))
        .transpose()?;
    let prefix = match q.name_prefix.as_deref().map(str::trim) {
        None | Some("") => String::new(),
        Some(p) => validate_group_name(p)?,
    };
    let mut groups = store
        .groups_page(after.as_deref(), &prefix, limit.saturating_add(1))
        .await?;
    let more = groups.len() > limit as usize;
    groups.truncate(limit as usize);
    let next_cursor = match groups.last() {
        Some(last) if more => Some(B64.encode(last.name.as_bytes())),
        _ => None,
    };
    Ok(Page {
        value: groups.iter().map(GroupDto::from).collect(),
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_a_username_and_nothing_else() {
        let c = B64.encode("bob".as_bytes());
        assert_eq!(decode_cursor(&c, MAX_USERNAME_LEN).unwrap(), "bob");
        for bad in [
            "",
            "!!",
            &B64.encode([0xff, 0xfe]),
            &B64.encode("x".repeat(129)),
        ] {
            assert!(
                matches!(
                    decode_cursor(bad, MAX_USERNAME_LEN),
                    Err(AppError::Refused(DirectoryRefusal::Cursor))
                ),
                "{bad}"
            );
        }
    }
}
