//! The password file: `USER:HASH` lines, the hash an argon2id PHC string.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::path::Path;

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{Output, Salt, SaltString};
use argon2::{ARGON2ID_IDENT, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier};

use super::error::{AuthFileError, LineError, entries, line_error, read};

/// The largest memory cost accepted in a hash, in KiB (2 GiB, the first
/// recommendation of RFC 9106). One verification allocates this much, so a larger
/// value in the file would let one login attempt exhaust the broker's memory.
pub const MAX_MEMORY_KIB: u32 = 1 << 21;

/// The hash checked for an unknown user when the file has no entry to take the
/// parameters from: argon2's default parameters, a zero salt and a zero hash that no
/// password produces.
const DEFAULT_DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// The users who may connect and their password hashes, read from a password file.
///
/// The file holds one `USER:HASH` entry per line; blank lines and lines starting
/// with `#` are ignored, and so is whitespace around the user name and the hash. The
/// user name is everything before the last `:` (it may hold a `:` itself); the hash
/// is an argon2id PHC string as [`hash_password`] makes.
///
/// Verifying is slow by design; call [`PasswordFile::verify`] off the async
/// runtime's worker threads (`tokio::task::spawn_blocking`).
///
/// ```
/// use mqttkit_broker::auth::PasswordFile;
/// use std::path::Path;
///
/// // The hash of "secret" with small parameters, to keep the example fast.
/// let text = "# users\nalice:$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$WHwbVkQ5XzAMaltcqwxy+X9v0VxYTVTjS9BRTrowawM\n";
/// let passwords = PasswordFile::parse(text, Path::new("passwd"))?;
/// assert_eq!(passwords.len(), 1);
/// assert!(passwords.verify("alice", b"secret"));
/// assert!(!passwords.verify("alice", b"guess"));
/// assert!(!passwords.verify("bob", b"secret"));
/// # Ok::<(), mqttkit_broker::auth::AuthFileError>(())
/// ```
pub struct PasswordFile {
    /// User name to validated PHC string. Kept as text and parsed again per
    /// verification: parsing is negligible next to argon2, and a parsed hash borrows.
    users: HashMap<String, String>,
    /// Checked for unknown users so that they take as long as known ones.
    dummy: String,
}

impl PasswordFile {
    /// Reads and parses the password file at `path`.
    ///
    /// # Errors
    /// [`AuthFileError::Io`] when it cannot be read, [`AuthFileError::Line`] for the
    /// first line that is not a valid entry (see [`PasswordFile::parse`]).
    ///
    /// ```no_run
    /// use mqttkit_broker::auth::PasswordFile;
    /// let passwords = PasswordFile::load("/etc/mqttkit/passwd".as_ref())?;
    /// println!("{} users", passwords.len());
    /// # Ok::<(), mqttkit_broker::auth::AuthFileError>(())
    /// ```
    pub fn load(path: &Path) -> Result<Self, AuthFileError> {
        Self::parse(&read(path)?, path)
    }

    /// Parses the text of a password file; `origin` names it in errors.
    ///
    /// # Errors
    /// [`AuthFileError::Line`] for the first line without a `:`, with an empty user
    /// name, with a hash that is not an argon2id PHC string (or asks for more than
    /// [`MAX_MEMORY_KIB`]), or naming a user already listed.
    ///
    /// ```
    /// use mqttkit_broker::auth::PasswordFile;
    /// use std::path::Path;
    /// let err = PasswordFile::parse("\nalice $argon2id$...\n", Path::new("passwd")).unwrap_err();
    /// assert_eq!(err.to_string(), "passwd:2: expected USER:HASH, found no ':'");
    /// ```
    pub fn parse(text: &str, origin: &Path) -> Result<Self, AuthFileError> {
        let mut users: HashMap<String, (String, usize)> = HashMap::new();
        let mut first: Option<String> = None;
        for (line_no, line) in entries(text) {
            let at = |problem| line_error(origin, line_no, problem);
            let (user, hash) = line
                .rsplit_once(':')
                .ok_or_else(|| at(LineError::MissingColon))?;
            let (user, hash) = (user.trim(), hash.trim());
            if user.is_empty() {
                return Err(at(LineError::EmptyUser));
            }
            check_hash(hash).map_err(|reason| at(LineError::BadHash(reason)))?;
            match users.entry(user.to_owned()) {
                Entry::Occupied(entry) => {
                    return Err(at(LineError::DuplicateUser {
                        user: user.to_owned(),
                        first_line: entry.get().1,
                    }));
                }
                Entry::Vacant(entry) => {
                    entry.insert((hash.to_owned(), line_no));
                }
            }
            if first.is_none() {
                first = Some(hash.to_owned());
            }
        }
        let dummy = first
            .as_deref()
            .and_then(dummy_like)
            .unwrap_or_else(|| DEFAULT_DUMMY_HASH.to_owned());
        Ok(Self {
            users: users
                .into_iter()
                .map(|(user, (hash, _))| (user, hash))
                .collect(),
            dummy,
        })
    }

    /// True when `user` is listed and `password` is its password.
    ///
    /// An unknown user still costs one argon2 verification, against a hash with the
    /// parameters of the file's first entry, so that the time taken does not tell
    /// which users exist. The comparison of hashes is constant-time.
    ///
    /// ```
    /// # use mqttkit_broker::auth::PasswordFile;
    /// # let passwords = PasswordFile::parse("alice:$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$WHwbVkQ5XzAMaltcqwxy+X9v0VxYTVTjS9BRTrowawM", "passwd".as_ref())?;
    /// assert!(passwords.verify("alice", b"secret"));
    /// assert!(!passwords.verify("alice", b"Secret"));
    /// # Ok::<(), mqttkit_broker::auth::AuthFileError>(())
    /// ```
    #[must_use]
    pub fn verify(&self, user: &str, password: &[u8]) -> bool {
        match self.users.get(user) {
            Some(hash) => verify_phc(hash, password),
            None => {
                // The answer is no whatever the dummy check says; it is done for its
                // duration only.
                let _ = verify_phc(&self.dummy, password);
                false
            }
        }
    }

    /// The number of users.
    ///
    /// ```
    /// # use mqttkit_broker::auth::PasswordFile;
    /// let passwords = PasswordFile::parse("# nobody yet\n", "passwd".as_ref())?;
    /// assert_eq!(passwords.len(), 0);
    /// # Ok::<(), mqttkit_broker::auth::AuthFileError>(())
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// True when the file lists nobody (then nobody can log in with a password).
    ///
    /// ```
    /// # use mqttkit_broker::auth::PasswordFile;
    /// assert!(PasswordFile::parse("", "passwd".as_ref())?.is_empty());
    /// # Ok::<(), mqttkit_broker::auth::AuthFileError>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

impl fmt::Debug for PasswordFile {
    /// Lists the user names only: hashes are secrets too.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut users: Vec<&str> = self.users.keys().map(String::as_str).collect();
        users.sort_unstable();
        f.debug_struct("PasswordFile")
            .field("users", &users)
            .finish_non_exhaustive()
    }
}

/// A fresh argon2id PHC string for `password`, with argon2's default parameters and
/// a random salt from the operating system: the hash to write into a password file.
///
/// # Errors
/// [`AuthFileError::Random`] when the system has no random source for the salt,
/// [`AuthFileError::Hash`] when the password is too long for argon2.
///
/// ```
/// use mqttkit_broker::auth::hash_password;
/// let line = format!("alice:{}", hash_password(b"correct horse battery staple")?);
/// assert!(line.starts_with("alice:$argon2id$v=19$m=19456,t=2,p=1$"));
/// # Ok::<(), mqttkit_broker::auth::AuthFileError>(())
/// ```
pub fn hash_password(password: &[u8]) -> Result<String, AuthFileError> {
    hash_with(&Argon2::default(), password)
}

/// [`hash_password`] with the given hasher (tests use cheap parameters).
fn hash_with(argon2: &Argon2<'_>, password: &[u8]) -> Result<String, AuthFileError> {
    // `SaltString::generate` panics when the system has no random source; this
    // reports it instead.
    let mut bytes = [0u8; Salt::RECOMMENDED_LENGTH];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|err| AuthFileError::Random(std::io::Error::other(err)))?;
    let salt = SaltString::encode_b64(&bytes).map_err(AuthFileError::Hash)?;
    argon2
        .hash_password(password, &salt)
        .map(|hash| hash.to_string())
        .map_err(AuthFileError::Hash)
}

/// Checks everything about a hash that can be checked without computing one, so
/// that a typo fails at load time instead of refusing the user at every login.
fn check_hash(hash: &str) -> Result<(), String> {
    let parsed = PasswordHash::new(hash).map_err(|err| err.to_string())?;
    if parsed.algorithm != ARGON2ID_IDENT {
        return Err(format!("the algorithm is {}", parsed.algorithm));
    }
    if let Some(version) = parsed.version {
        argon2::Version::try_from(version).map_err(|err| err.to_string())?;
    }
    let params = Params::try_from(&parsed).map_err(|err| err.to_string())?;
    if params.m_cost() > MAX_MEMORY_KIB {
        return Err(format!(
            "m={} asks for more than {MAX_MEMORY_KIB} KiB",
            params.m_cost()
        ));
    }
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err("the salt or the hash is missing".to_owned());
    }
    Ok(())
}

/// A hash with the parameters and salt of `hash` but an all-zero output, which no
/// password produces.
fn dummy_like(hash: &str) -> Option<String> {
    let mut parsed = PasswordHash::new(hash).ok()?;
    let len = parsed.hash.as_ref()?.len();
    parsed.hash = Some(Output::new(&vec![0; len]).ok()?);
    Some(parsed.to_string())
}

/// Verifies `password` against a PHC string; any malformed input is a refusal.
fn verify_phc(hash: &str, password: &[u8]) -> bool {
    PasswordHash::new(hash)
        .and_then(|parsed| Argon2::default().verify_password(password, &parsed))
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::{Algorithm, Version};
    use proptest::prelude::*;

    /// Cheap parameters (8 KiB, one pass) so that tests run fast.
    fn cheap() -> Argon2<'static> {
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        )
    }

    fn cheap_hash(password: &[u8]) -> String {
        hash_with(&cheap(), password).unwrap()
    }

    fn parse(text: &str) -> Result<PasswordFile, AuthFileError> {
        PasswordFile::parse(text, Path::new("passwd"))
    }

    fn line_problem(text: &str) -> (usize, LineError) {
        match parse(text) {
            Err(AuthFileError::Line { line, problem, .. }) => (line, problem),
            other => panic!("expected a line error, got {other:?}"),
        }
    }

    #[test]
    fn verifies_the_right_password_only() {
        let text = format!(
            "# comment\n\n  alice : {}  \nbob:{}\r\n",
            cheap_hash(b"alice's"),
            cheap_hash(b"bob's")
        );
        let file = parse(&text).unwrap();
        assert_eq!(file.len(), 2);
        assert!(file.verify("alice", b"alice's"));
        assert!(file.verify("bob", b"bob's"));
        assert!(!file.verify("alice", b"bob's"));
        assert!(!file.verify("alice", b""));
        assert!(!file.verify("carol", b"alice's"));
        assert!(!file.verify("Alice", b"alice's"));
    }

    #[test]
    fn user_names_may_hold_a_colon() {
        let file = parse(&format!("urn:dev:1:{}", cheap_hash(b"pw"))).unwrap();
        assert!(file.verify("urn:dev:1", b"pw"));
    }

    #[test]
    fn the_doc_example_hash_is_secret_with_small_parameters() {
        let hash = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$WHwbVkQ5XzAMaltcqwxy+X9v0VxYTVTjS9BRTrowawM";
        assert!(verify_phc(hash, b"secret"));
    }

    #[test]
    fn hash_password_uses_default_parameters() {
        let hash = hash_password(b"pw").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        check_hash(&hash).unwrap();
    }

    #[test]
    fn hashes_have_a_fresh_salt_and_verify() {
        let a = cheap_hash(b"pw");
        let b = cheap_hash(b"pw");
        assert_ne!(a, b, "two hashes of one password share a salt");
        assert!(verify_phc(&a, b"pw"));
        assert!(verify_phc(&b, b"pw"));
        assert!(!verify_phc(&a, b"pW"));
    }

    #[test]
    fn the_default_dummy_has_the_default_parameters() {
        let parsed = PasswordHash::new(DEFAULT_DUMMY_HASH).unwrap();
        let params = Params::try_from(&parsed).unwrap();
        assert_eq!(params.m_cost(), Params::default().m_cost());
        assert_eq!(params.t_cost(), Params::default().t_cost());
        assert_eq!(params.p_cost(), Params::default().p_cost());
        assert_eq!(parsed.hash.unwrap().len(), Params::DEFAULT_OUTPUT_LEN);
        check_hash(DEFAULT_DUMMY_HASH).unwrap();
    }

    #[test]
    fn unknown_users_are_checked_against_the_first_entrys_parameters() {
        let first = hash_with(
            &Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(16, 3, 2, Some(24)).unwrap(),
            ),
            b"pw",
        )
        .unwrap();
        let file = parse(&format!("a:{first}\nb:{}\n", cheap_hash(b"pw"))).unwrap();
        let dummy = PasswordHash::new(&file.dummy).unwrap();
        let real = PasswordHash::new(&first).unwrap();
        assert_eq!(dummy.params, real.params);
        assert_eq!(dummy.salt, real.salt);
        assert_eq!(dummy.hash.unwrap().len(), 24);
        assert_ne!(dummy.hash, real.hash);
        // The dummy is never the answer, even for the first user's own password.
        assert!(!file.verify("nobody", b"pw"));
        assert!(!verify_phc(&file.dummy, b"pw"));
    }

    #[test]
    fn an_empty_file_refuses_everybody() {
        let file = parse("# nobody\n\n").unwrap();
        assert!(file.is_empty());
        assert_eq!(file.dummy, DEFAULT_DUMMY_HASH);
        assert!(!file.verify("", b""));
    }

    #[test]
    fn bad_lines_name_the_file_and_line() {
        let good = cheap_hash(b"pw");
        assert_eq!(
            line_problem(&format!("a:{good}\n# c\nb {good}\n")),
            (3, LineError::MissingColon)
        );
        assert_eq!(
            line_problem(&format!(" :{good}")),
            (1, LineError::EmptyUser)
        );
        assert_eq!(
            line_problem(&format!("a:{good}\n\na:{good}\n")),
            (
                3,
                LineError::DuplicateUser {
                    user: "a".into(),
                    first_line: 1
                }
            )
        );
        let err = parse(&format!("\n\na:{good}\na:{good}")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "passwd:4: user \"a\" is already listed on line 3"
        );
    }

    #[test]
    fn hashes_that_cannot_be_verified_are_load_errors() {
        let good = cheap_hash(b"pw");
        let bad = [
            "plaintext",
            "",
            "$argon2id$v=19$m=8,t=1,p=1",
            "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0",
            "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$WHwbVkQ5XzAMaltcqwxy+X9v0VxYTVTjS9BRTrowawM",
            "$argon2id$v=18$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$WHwbVkQ5XzAMaltcqwxy+X9v0VxYTVTjS9BRTrowawM",
            "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHRzYWx0$WHwbVkQ5XzAMaltcqwxy+X9v0VxYTVTjS9BRTrowawM",
            "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$WHwbVkQ5XzAMaltcqwxy+X9v0VxYTVTjS9BRTrowawM",
            "$argon2id$v=19$x=8,t=1,p=1$c2FsdHNhbHRzYWx0$WHwbVkQ5XzAMaltcqwxy+X9v0VxYTVTjS9BRTrowawM",
            "$pbkdf2-sha256$i=1000$c2FsdHNhbHRzYWx0$WHwbVkQ5XzAMaltcqwxy+X9v0VxYTVTjS9BRTrowawM",
        ];
        for hash in bad {
            let (line, problem) = line_problem(&format!("ok:{good}\nuser:{hash}\n"));
            assert_eq!(line, 2, "{hash}");
            assert!(
                matches!(problem, LineError::BadHash(_)),
                "{hash}: {problem:?}"
            );
        }
    }

    #[test]
    fn load_reports_a_missing_file_with_its_path() {
        let path = Path::new("/nonexistent/mqttkit/passwd");
        let err = PasswordFile::load(path).unwrap_err();
        assert!(matches!(&err, AuthFileError::Io { path: p, .. } if p == path));
        assert!(err.to_string().starts_with("/nonexistent/mqttkit/passwd: "));
    }

    #[test]
    fn load_reads_the_test_data_file() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/auth/passwd");
        let file = PasswordFile::load(&path).unwrap();
        assert_eq!(file.len(), 2);
        assert!(file.verify("alice", b"secret"));
        assert!(file.verify("bob", b"hunter2"));
        assert!(!file.verify("bob", b"secret"));
    }

    #[test]
    fn debug_shows_no_hashes() {
        let hash = cheap_hash(b"pw");
        let file = parse(&format!("alice:{hash}")).unwrap();
        let shown = format!("{file:?}");
        assert!(shown.contains("alice"));
        assert!(!shown.contains("argon2"), "{shown}");
    }

    #[test]
    fn is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PasswordFile>();
    }

    proptest! {
        /// No input makes parsing panic; whatever parses has only valid hashes.
        #[test]
        fn parse_never_panics(text in "([a-z:$=,#0-9A-Za-z+/ ]{0,40}\n){0,4}") {
            if let Ok(file) = parse(&text) {
                for hash in file.users.values() {
                    prop_assert!(check_hash(hash).is_ok());
                }
            }
        }

        /// Mangled PHC strings are refused or parse; they never panic.
        #[test]
        fn mangled_hashes_never_panic(cut in 0usize..90, junk in "[$=,a-z0-9A-Z+/]{0,8}") {
            let good = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$WHwbVkQ5XzAMaltcqwxy+X9v0VxYTVTjS9BRTrowawM";
            let cut = cut.min(good.len());
            let text = format!("u:{}{junk}{}", &good[..cut], &good[cut..]);
            if let Ok(file) = parse(&text) {
                let _ = file.verify("u", b"secret");
            }
        }
    }
}
