//! What can be wrong with a password or ACL file.

use std::io;
use std::path::{Path, PathBuf};

use mqttkit_tokio::TopicError;

/// A password or ACL file that cannot be used, or a password that cannot be hashed.
///
/// Printed, it names the file and the line, then what is wrong:
///
/// ```
/// use mqttkit_broker::auth::Acl;
/// use std::path::Path;
///
/// let err = Acl::parse("# rules\n\nallow pub anyone a/#\n", Path::new("acl.txt")).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     r#"acl.txt:3: unknown action "pub"; expected publish, subscribe or all"#
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthFileError {
    /// A line of the file is not a valid entry.
    #[error("{}:{line}: {problem}", path.display())]
    Line {
        /// The file, as it was named to `load` or `parse`.
        path: PathBuf,
        /// The line number, counting from 1.
        line: usize,
        /// What is wrong with the line.
        problem: LineError,
    },
    /// The file cannot be read (missing, unreadable, not UTF-8).
    #[error("{}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why it cannot be read.
        error: io::Error,
    },
    /// The password could not be hashed (it is longer than argon2 accepts).
    #[error("cannot hash the password: {0}")]
    Hash(argon2::password_hash::Error),
    /// The system's random source, needed for a fresh salt, failed.
    #[error("cannot read random bytes for the salt: {0}")]
    Random(io::Error),
}

/// What is wrong with one line of a password or ACL file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// A password file line without the `:` between user name and hash.
    #[error("expected USER:HASH, found no ':'")]
    MissingColon,
    /// A password file line with nothing before the `:`.
    #[error("the user name is empty")]
    EmptyUser,
    /// A password file line whose hash is not a usable argon2id PHC string.
    #[error(
        "the password hash is not an argon2id PHC string ($argon2id$v=19$m=...,t=...,p=...$SALT$HASH): {0}"
    )]
    BadHash(String),
    /// A user listed twice in the password file.
    #[error("user {user:?} is already listed on line {first_line}")]
    DuplicateUser {
        /// The user name.
        user: String,
        /// The line of its first entry.
        first_line: usize,
    },
    /// An ACL rule that does not start with `allow` or `deny`.
    #[error("unknown rule {0:?}; expected allow or deny")]
    UnknownVerdict(String),
    /// An ACL rule whose action is not `publish`, `subscribe` or `all`.
    #[error("unknown action {0:?}; expected publish, subscribe or all")]
    UnknownAction(String),
    /// An ACL rule whose subject is not `user NAME`, `client ID` or `anyone`.
    #[error("unknown subject {0:?}; expected user NAME, client ID or anyone")]
    UnknownSubject(String),
    /// An ACL rule that ends early; the field names what is missing.
    #[error("the rule ends before its {0}")]
    Missing(&'static str),
    /// An ACL rule whose topic filter is not a valid MQTT topic filter (after
    /// replacing `%u` and `%c` by a sample name).
    #[error("invalid topic filter {filter:?}: {error}")]
    BadFilter {
        /// The filter as written.
        filter: String,
        /// Which rule of the specification it breaks.
        error: TopicError,
    },
}

/// Reads an auth file whole, for `load`.
pub(super) fn read(path: &Path) -> Result<String, AuthFileError> {
    std::fs::read_to_string(path).map_err(|error| AuthFileError::Io {
        path: path.to_path_buf(),
        error,
    })
}

/// The entries of an auth file, trimmed and numbered from 1; blank lines
/// and lines whose first non-blank character is `#` are left out.
pub(super) fn entries(text: &str) -> impl Iterator<Item = (usize, &str)> {
    (1usize..)
        .zip(text.lines())
        .map(|(n, raw)| (n, raw.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
}

/// What is wrong with line `line` of `origin`.
pub(super) fn line_error(origin: &Path, line: usize, problem: LineError) -> AuthFileError {
    AuthFileError::Line {
        path: PathBuf::from(origin),
        line,
        problem,
    }
}
