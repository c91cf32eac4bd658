//! Usernames: what an administrator may create, and how sign-in input is normalised.

pub const MAX_USERNAME_LEN: usize = 128;

#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum UsernameError {
    #[error("a username cannot be empty")]
    Empty,
    #[error("a username is at most {MAX_USERNAME_LEN} characters")]
    TooLong,
    #[error("a username may contain letters, digits and . _ - @ + only")]
    Characters,
}

/// Normalises (trim, lowercase) and validates a username.
pub fn normalize(raw: &str) -> Result<String, UsernameError> {
    let u = raw.trim().to_lowercase();
    if u.is_empty() {
        return Err(UsernameError::Empty);
    }
    if u.chars().count() > MAX_USERNAME_LEN {
        return Err(UsernameError::TooLong);
    }
    if !u
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+'))
    {
        return Err(UsernameError::Characters);
    }
    Ok(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_and_validates() {
        assert_eq!(
            normalize("  Alice@Example.com ").unwrap(),
            "alice@example.com"
        );
        assert_eq!(normalize(""), Err(UsernameError::Empty));
        assert_eq!(normalize("a b"), Err(UsernameError::Characters));
        assert_eq!(normalize("<script>"), Err(UsernameError::Characters));
        assert_eq!(normalize(&"a".repeat(129)), Err(UsernameError::TooLong));
        assert!(normalize("jürgen.o'neil").is_err());
        assert_eq!(normalize("jürgen").unwrap(), "jürgen");
    }
}
