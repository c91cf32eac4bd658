//! Passwords: which new passwords Keyfort accepts, and which existing hashes an
//! organisation may bring with it when it moves in.
//!
//! New passwords follow NIST SP 800-63B-4 §3.1.1.2: a password may be the only factor, so
//! it has at least 15 characters; at least 64 are accepted (Keyfort takes up to 256, which
//! bounds what one hashing costs); every printable character, spaces included, counts,
//! and nothing else is demanded of its composition. Keyfort stores new passwords as
//! Argon2id (RFC 9106) with the parameters OWASP's password-storage guidance gives as its
//! first choice (19 MiB, 2 passes, 1 lane).
//!
//! Imported hashes are Argon2 (id, i or d) in the PHC string format and bcrypt in its
//! modular-crypt form (`$2a$`, `$2b$`, `$2y$`). A hash weaker than what Keyfort would
//! write is accepted — refusing it would force a reset on everyone — and counted as one
//! to replace by an Argon2id hash once its password is verified.

/// The fewest characters of a new password.
pub const MIN_CHARS: usize = 15;
/// The most characters of a new password.
pub const MAX_CHARS: usize = 256;
/// The longest hash string an import accepts.
pub const MAX_HASH_LEN: usize = 512;

/// The Argon2id parameters Keyfort writes: memory in KiB, passes, lanes.
pub const ARGON2_MEMORY_KIB: u32 = 19_456;
pub const ARGON2_PASSES: u32 = 2;

/// Why a new password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRefusal {
    #[error(
        "a password has at least {MIN_CHARS} characters; a passphrase of several words is easiest"
    )]
    TooShort,
    #[error("a password has at most {MAX_CHARS} characters")]
    TooLong,
    #[error("the password may not be the username")]
    IsUsername,
    #[error("a password may not contain control characters (line breaks, tabs)")]
    ControlCharacter,
}

impl PasswordRefusal {
    pub fn code(self) -> &'static str {
        match self {
            PasswordRefusal::TooShort => "password_too_short",
            PasswordRefusal::TooLong => "password_too_long",
            PasswordRefusal::IsUsername => "password_is_username",
            PasswordRefusal::ControlCharacter => "password_control_character",
        }
    }
}

/// Whether `password` may become `username`'s password.
pub fn check_new(password: &str, username: &str) -> Result<(), PasswordRefusal> {
    if password.chars().any(char::is_control) {
        return Err(PasswordRefusal::ControlCharacter);
    }
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(PasswordRefusal::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(PasswordRefusal::TooLong);
    }
    if password.eq_ignore_ascii_case(username) {
        return Err(PasswordRefusal::IsUsername);
    }
    Ok(())
}

/// How a stored password hash was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashScheme {
    Argon2id,
    Argon2i,
    Argon2d,
    Bcrypt,
}

impl HashScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            HashScheme::Argon2id => "argon2id",
            HashScheme::Argon2i => "argon2i",
            HashScheme::Argon2d => "argon2d",
            HashScheme::Bcrypt => "bcrypt",
        }
    }

    pub fn parse(s: &str) -> Option<HashScheme> {
        Some(match s {
            "argon2id" => HashScheme::Argon2id,
            "argon2i" => HashScheme::Argon2i,
            "argon2d" => HashScheme::Argon2d,
            "bcrypt" => HashScheme::Bcrypt,
            _ => return None,
        })
    }
}

/// An accepted imported hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptedHash {
    pub scheme: HashScheme,
    /// Weaker than what Keyfort writes (to be replaced by Argon2id once its password is
    /// verified).
    pub needs_rehash: bool,
}

/// Why an imported hash is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HashRefusal {
    #[error("the password hash is empty")]
    Empty,
    #[error("the password hash is longer than {MAX_HASH_LEN} characters")]
    TooLong,
    #[error(
        "not an Argon2 or bcrypt hash (it should start with $argon2id$, $argon2i$, $argon2d$, $2a$, $2b$ or $2y$)"
    )]
    UnknownScheme,
    #[error("the hash is not in the PHC string format: {0}")]
    Malformed(&'static str),
    #[error("the bcrypt hash is malformed: {0}")]
    MalformedBcrypt(&'static str),
    #[error("the Argon2 hash has no output")]
    NoOutput,
}

impl HashRefusal {
    pub fn code(self) -> &'static str {
        match self {
            HashRefusal::Empty => "hash_empty",
            HashRefusal::TooLong => "hash_too_long",
            HashRefusal::UnknownScheme => "hash_unknown_scheme",
            HashRefusal::Malformed(_) | HashRefusal::MalformedBcrypt(_) | HashRefusal::NoOutput => {
                "hash_malformed"
            }
        }
    }
}

/// What a PHC-format parser found in an Argon2 hash string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Facts<'a> {
    /// The algorithm identifier (`argon2id`, …).
    pub algorithm: &'a str,
    pub memory_kib: u32,
    pub passes: u32,
    pub has_output: bool,
}

/// The first check of an imported hash string, before any parser runs: its size and its
/// scheme prefix. `Some(Bcrypt)` is fully checked by [`accept_bcrypt`]; Argon2 strings
/// go to a PHC parser and then [`accept_argon2`].
pub fn scheme_of(hash: &str) -> Result<HashScheme, HashRefusal> {
    if hash.is_empty() {
        return Err(HashRefusal::Empty);
    }
    if hash.len() > MAX_HASH_LEN {
        return Err(HashRefusal::TooLong);
    }
    if ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
        return Ok(HashScheme::Bcrypt);
    }
    let ident = hash
        .strip_prefix('$')
        .and_then(|rest| rest.split('$').next())
        .and_then(HashScheme::parse);
    match ident {
        Some(s) if s != HashScheme::Bcrypt => Ok(s),
        _ => Err(HashRefusal::UnknownScheme),
    }
}

/// A parsed Argon2 hash, accepted or not.
pub fn accept_argon2(f: Argon2Facts<'_>) -> Result<AcceptedHash, HashRefusal> {
    let scheme = match HashScheme::parse(f.algorithm) {
        Some(s) if s != HashScheme::Bcrypt => s,
        _ => return Err(HashRefusal::UnknownScheme),
    };
    if !f.has_output {
        return Err(HashRefusal::NoOutput);
    }
    let needs_rehash = scheme != HashScheme::Argon2id
        || f.memory_kib < ARGON2_MEMORY_KIB
        || f.passes < ARGON2_PASSES;
    Ok(AcceptedHash {
        scheme,
        needs_rehash,
    })
}

/// bcrypt's own base64 alphabet.
fn bcrypt_char(c: u8) -> bool {
    c == b'.' || c == b'/' || c.is_ascii_alphanumeric()
}

/// A bcrypt hash in modular-crypt form: `$2b$` and a two-digit cost 04–31, `$`, then 22
/// characters of salt and 31 of hash in bcrypt's base64. Always rehashed on use.
pub fn accept_bcrypt(hash: &str) -> Result<AcceptedHash, HashRefusal> {
    let b = hash.as_bytes();
    if scheme_of(hash) != Ok(HashScheme::Bcrypt) {
        return Err(HashRefusal::UnknownScheme);
    }
    if b.len() != 60 {
        return Err(HashRefusal::MalformedBcrypt("it must have 60 characters"));
    }
    let cost = std::str::from_utf8(&b[4..6])
        .ok()
        .and_then(|c| c.parse::<u8>().ok());
    if b[6] != b'$' || !matches!(cost, Some(4..=31)) {
        return Err(HashRefusal::MalformedBcrypt(
            "the cost must be two digits, 04 to 31",
        ));
    }
    if !b[7..].iter().all(|&c| bcrypt_char(c)) {
        return Err(HashRefusal::MalformedBcrypt(
            "the salt and hash must be in bcrypt's base64 alphabet",
        ));
    }
    Ok(AcceptedHash {
        scheme: HashScheme::Bcrypt,
        needs_rehash: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_passwords_are_long_and_anything_else_goes() {
        assert_eq!(check_new("short", "alice"), Err(PasswordRefusal::TooShort));
        assert_eq!(
            check_new(&"x".repeat(14), "alice"),
            Err(PasswordRefusal::TooShort)
        );
        assert_eq!(check_new(&"x".repeat(15), "alice"), Ok(()));
        // Characters, not bytes: 15 accented letters are enough.
        assert_eq!(check_new(&"é".repeat(15), "alice"), Ok(()));
        assert_eq!(check_new(&"x".repeat(256), "alice"), Ok(()));
        assert_eq!(
            check_new(&"x".repeat(257), "alice"),
            Err(PasswordRefusal::TooLong)
        );
        assert_eq!(
            check_new("correct horse\tbattery staple", "alice"),
            Err(PasswordRefusal::ControlCharacter)
        );
        assert_eq!(
            check_new("Alice.Example.Org", "alice.example.org"),
            Err(PasswordRefusal::IsUsername)
        );
        assert_eq!(check_new("correct horse battery staple", "alice"), Ok(()));
    }

    #[test]
    fn schemes_are_told_by_their_prefix() {
        assert_eq!(scheme_of(""), Err(HashRefusal::Empty));
        assert_eq!(scheme_of(&"$".repeat(513)), Err(HashRefusal::TooLong));
        assert_eq!(scheme_of("$argon2id$v=19$…"), Ok(HashScheme::Argon2id));
        assert_eq!(scheme_of("$argon2i$v=19$…"), Ok(HashScheme::Argon2i));
        assert_eq!(scheme_of("$2y$10$…"), Ok(HashScheme::Bcrypt));
        assert_eq!(scheme_of("$bcrypt$…"), Err(HashRefusal::UnknownScheme));
        assert_eq!(scheme_of("$1$md5crypt"), Err(HashRefusal::UnknownScheme));
        assert_eq!(
            scheme_of("5f4dcc3b5aa765d61d8327deb882cf99"),
            Err(HashRefusal::UnknownScheme)
        );
    }

    #[test]
    fn weak_argon2_is_taken_and_marked_for_rehash() {
        let facts = |algorithm, memory_kib, passes| Argon2Facts {
            algorithm,
            memory_kib,
            passes,
            has_output: true,
        };
        let ok = |scheme, needs_rehash| {
            Ok(AcceptedHash {
                scheme,
                needs_rehash,
            })
        };
        assert_eq!(
            accept_argon2(facts("argon2id", 19_456, 2)),
            ok(HashScheme::Argon2id, false)
        );
        assert_eq!(
            accept_argon2(facts("argon2id", 65_536, 3)),
            ok(HashScheme::Argon2id, false)
        );
        assert_eq!(
            accept_argon2(facts("argon2id", 4_096, 3)),
            ok(HashScheme::Argon2id, true)
        );
        assert_eq!(
            accept_argon2(facts("argon2id", 19_456, 1)),
            ok(HashScheme::Argon2id, true)
        );
        assert_eq!(
            accept_argon2(facts("argon2i", 65_536, 4)),
            ok(HashScheme::Argon2i, true)
        );
        assert_eq!(
            accept_argon2(facts("scrypt", 65_536, 4)),
            Err(HashRefusal::UnknownScheme)
        );
        let mut no_output = facts("argon2id", 19_456, 2);
        no_output.has_output = false;
        assert_eq!(accept_argon2(no_output), Err(HashRefusal::NoOutput));
    }

    #[test]
    fn bcrypt_is_checked_whole() {
        let good = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
        assert_eq!(
            accept_bcrypt(good),
            Ok(AcceptedHash {
                scheme: HashScheme::Bcrypt,
                needs_rehash: true
            })
        );
        assert!(accept_bcrypt(&good[..59]).is_err());
        assert!(accept_bcrypt(&good.replace("$12$", "$03$")).is_err());
        assert!(accept_bcrypt(&good.replace("$12$", "$1x$")).is_err());
        assert!(accept_bcrypt(&good.replace('R', "!")).is_err());
        assert_eq!(HashRefusal::MalformedBcrypt("x").code(), "hash_malformed");
    }
}
