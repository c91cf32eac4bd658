//! The directory's rules: what a new user or group must look like, and how a listing is
//! paged. Every interface (CLI, admin API, SCIM, console) goes through these.

use crate::username::{self, UsernameError};
use serde::Serialize;

/// The longest free-text directory field (names, e-mail, employee id), in characters.
pub const MAX_FIELD_CHARS: usize = 256;
/// The longest group name, in characters.
pub const MAX_GROUP_NAME_CHARS: usize = 128;
/// RFC 5321 §4.5.3.1.3: a forward path is at most 256 octets, so an address 254.
pub const MAX_EMAIL_BYTES: usize = 254;
/// Page sizes of a listing: the default, and the most one page may hold.
pub const DEFAULT_PAGE: u32 = 100;
pub const MAX_PAGE: u32 = 1000;
/// Rows of a log listing when none is asked for, and the most one listing returns.
pub const DEFAULT_LOG_ROWS: i64 = 50;
pub const MAX_LOG_ROWS: i64 = 1000;
/// Free-form attributes a user may carry, and the longest key.
pub const MAX_ATTRIBUTES: usize = 64;
pub const MAX_ATTRIBUTE_KEY_CHARS: usize = 64;

/// Who a user is to the organisation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum UserType {
    #[default]
    Member,
    External,
}

impl UserType {
    pub fn parse(s: &str) -> Option<UserType> {
        match s {
            "member" => Some(UserType::Member),
            "external" => Some(UserType::External),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Member => "member",
            UserType::External => "external",
        }
    }
}

/// Why a directory change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryRefusal {
    #[error("invalid username: {0}")]
    Username(UsernameError),
    #[error("the user type is member or external")]
    UserType,
    #[error("`{0}` is not an e-mail address")]
    Email(String),
    #[error("{0} must be at most {MAX_FIELD_CHARS} characters without control characters")]
    Field(&'static str),
    #[error(
        "attribute `{0}` is not KEY=VALUE with a key of 1 to {MAX_ATTRIBUTE_KEY_CHARS} characters"
    )]
    Attribute(String),
    #[error("a user has at most {MAX_ATTRIBUTES} attributes")]
    TooManyAttributes,
    #[error("a group name is 1 to {MAX_GROUP_NAME_CHARS} characters without control characters")]
    GroupName,
    #[error("a page holds 1 to {MAX_PAGE} entries")]
    PageSize,
    #[error("the cursor is not one a listing returned")]
    Cursor,
    #[error("a log listing holds 1 to {MAX_LOG_ROWS} rows")]
    LogLimit,
}

impl DirectoryRefusal {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            DirectoryRefusal::Username(_) => "invalid_username",
            DirectoryRefusal::UserType => "invalid_user_type",
            DirectoryRefusal::Email(_) => "invalid_email",
            DirectoryRefusal::Field(_) => "invalid_field",
            DirectoryRefusal::Attribute(_) => "invalid_attribute",
            DirectoryRefusal::TooManyAttributes => "too_many_attributes",
            DirectoryRefusal::GroupName => "invalid_group_name",
            DirectoryRefusal::PageSize => "invalid_page_size",
            DirectoryRefusal::Cursor => "invalid_cursor",
            DirectoryRefusal::LogLimit => "invalid_limit",
        }
    }
}

/// A new user as an administrator (or a provisioning system) describes it.
#[derive(Debug, Clone, Default)]
pub struct UserDraft {
    pub username: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub employee_id: Option<String>,
    /// `member` when absent.
    pub user_type: Option<String>,
    /// `KEY=VALUE` pairs.
    pub attributes: Vec<String>,
}

/// A valid new user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidUser {
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub employee_id: Option<String>,
    pub user_type: UserType,
    /// In the order given; a later value for a key replaces an earlier one.
    pub attributes: Vec<(String, String)>,
}

/// A free-text field: trimmed, empty as absent, bounded, no control characters.
fn field(name: &'static str, v: Option<&str>) -> Result<Option<String>, DirectoryRefusal> {
    match v {
        Some(s) if s.chars().count() > MAX_FIELD_CHARS || s.chars().any(char::is_control) => {
            Err(DirectoryRefusal::Field(name))
        }
        Some(s) if s.trim().is_empty() => Ok(None),
        other => Ok(other.map(|s| s.trim().to_string())),
    }
}

/// Validates a new user. The display name defaults to "given family" when both are
/// given, else to the username.
pub fn validate_user(d: &UserDraft) -> Result<ValidUser, DirectoryRefusal> {
    let username = username::normalize(&d.username).map_err(DirectoryRefusal::Username)?;
    let user_type = match d.user_type.as_deref() {
        None => UserType::Member,
        Some(t) => UserType::parse(t).ok_or(DirectoryRefusal::UserType)?,
    };
    let email = field("email", d.email.as_deref())?;
    if let Some(e) = &email
        && (!is_email(e) || e.len() > MAX_EMAIL_BYTES)
    {
        return Err(DirectoryRefusal::Email(e.clone()));
    }
    if d.attributes.len() > MAX_ATTRIBUTES {
        return Err(DirectoryRefusal::TooManyAttributes);
    }
    let mut attributes: Vec<(String, String)> = Vec::new();
    for a in &d.attributes {
        let bad = || DirectoryRefusal::Attribute(a.chars().take(64).collect());
        let (k, v) = a.split_once('=').ok_or_else(bad)?;
        let k = k.trim();
        if k.is_empty()
            || k.chars().count() > MAX_ATTRIBUTE_KEY_CHARS
            || k.chars().any(char::is_control)
            || v.chars().count() > MAX_FIELD_CHARS
        {
            return Err(bad());
        }
        attributes.retain(|(key, _)| key != k);
        attributes.push((k.to_string(), v.to_string()));
    }
    let given_name = field("given name", d.given_name.as_deref())?;
    let family_name = field("family name", d.family_name.as_deref())?;
    let display_name =
        field("display name", d.display_name.as_deref())?.unwrap_or_else(|| {
            match (&given_name, &family_name) {
                (Some(g), Some(f)) => format!("{g} {f}"),
                _ => username.clone(),
            }
        });
    Ok(ValidUser {
        username,
        display_name,
        email,
        given_name,
        family_name,
        employee_id: field("employee id", d.employee_id.as_deref())?,
        user_type,
        attributes,
    })
}

/// One `@` with something on both sides, and no spaces: the address is checked by mail,
/// not here.
fn is_email(e: &str) -> bool {
    match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@') && !e.contains(' ')
        }
        None => false,
    }
}

/// A group name: trimmed, 1 to 128 characters, no control characters.
pub fn validate_group_name(raw: &str) -> Result<String, DirectoryRefusal> {
    let n = raw.trim();
    if n.is_empty() || n.chars().count() > MAX_GROUP_NAME_CHARS || n.chars().any(char::is_control) {
        return Err(DirectoryRefusal::GroupName);
    }
    Ok(n.to_string())
}

/// The page size asked for, or the default.
pub fn page_size(requested: Option<u32>) -> Result<u32, DirectoryRefusal> {
    match requested {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(DirectoryRefusal::PageSize),
    }
}

/// The rows of a log listing asked for, or the default.
pub fn log_limit(requested: Option<i64>) -> Result<i64, DirectoryRefusal> {
    match requested {
        None => Ok(DEFAULT_LOG_ROWS),
        Some(n) if (1..=MAX_LOG_ROWS).contains(&n) => Ok(n),
        Some(_) => Err(DirectoryRefusal::LogLimit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(username: &str) -> UserDraft {
        UserDraft {
            username: username.into(),
            ..UserDraft::default()
        }
    }

    #[test]
    fn a_new_user_is_normalised_and_named() {
        let v = validate_user(&UserDraft {
            given_name: Some(" Alice ".into()),
            family_name: Some("Liddell".into()),
            email: Some("alice@example.com".into()),
            employee_id: Some("  ".into()),
            attributes: vec!["department=R&D".into(), "department=Maths".into()],
            ..draft(" Alice ")
        })
        .unwrap();
        assert_eq!(v.username, "alice");
        assert_eq!(v.display_name, "Alice Liddell");
        assert_eq!(v.employee_id, None, "blank is absent");
        assert_eq!(v.user_type, UserType::Member);
        assert_eq!(
            v.attributes,
            vec![("department".to_string(), "Maths".to_string())]
        );
        assert_eq!(validate_user(&draft("bob")).unwrap().display_name, "bob");
    }

    #[test]
    fn bad_users_are_refused_with_their_reason() {
        let cases = [
            (draft("bad name"), "invalid_username"),
            (
                UserDraft {
                    user_type: Some("guest".into()),
                    ..draft("bob")
                },
                "invalid_user_type",
            ),
            (
                UserDraft {
                    email: Some("nope".into()),
                    ..draft("bob")
                },
                "invalid_email",
            ),
            (
                UserDraft {
                    email: Some("a@b@c".into()),
                    ..draft("bob")
                },
                "invalid_email",
            ),
            (
                UserDraft {
                    given_name: Some("x".repeat(MAX_FIELD_CHARS + 1)),
                    ..draft("bob")
                },
                "invalid_field",
            ),
            (
                UserDraft {
                    display_name: Some("Bob\u{7}".into()),
                    ..draft("bob")
                },
                "invalid_field",
            ),
            (
                UserDraft {
                    attributes: vec!["novalue".into()],
                    ..draft("bob")
                },
                "invalid_attribute",
            ),
            (
                UserDraft {
                    attributes: vec!["=v".into()],
                    ..draft("bob")
                },
                "invalid_attribute",
            ),
            (
                UserDraft {
                    attributes: vec!["k=v".into(); MAX_ATTRIBUTES + 1],
                    ..draft("bob")
                },
                "too_many_attributes",
            ),
        ];
        for (d, code) in cases {
            assert_eq!(validate_user(&d).unwrap_err().code(), code, "{d:?}");
        }
    }

    #[test]
    fn group_names_and_pages_are_bounded() {
        assert_eq!(validate_group_name(" eng ").unwrap(), "eng");
        assert!(validate_group_name("").is_err());
        assert!(validate_group_name(&"g".repeat(MAX_GROUP_NAME_CHARS + 1)).is_err());
        assert_eq!(page_size(None), Ok(DEFAULT_PAGE));
        assert_eq!(page_size(Some(MAX_PAGE)), Ok(MAX_PAGE));
        assert_eq!(page_size(Some(0)), Err(DirectoryRefusal::PageSize));
        assert_eq!(
            page_size(Some(MAX_PAGE + 1)),
            Err(DirectoryRefusal::PageSize)
        );
        assert_eq!(log_limit(None), Ok(DEFAULT_LOG_ROWS));
        assert_eq!(log_limit(Some(MAX_LOG_ROWS)), Ok(MAX_LOG_ROWS));
        for bad in [0, -1, MAX_LOG_ROWS + 1, i64::MAX] {
            assert_eq!(log_limit(Some(bad)), Err(DirectoryRefusal::LogLimit));
        }
    }
}
