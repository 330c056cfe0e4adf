//! Who may connect (the password file) and what they may do (the ACL file).
//!
//! Both files are plain text, one entry per line. Blank lines and lines whose first
//! non-blank character is `#` are ignored. An entry that cannot be read stops the
//! broker at start-up with the file name, the line number and what is wrong, for
//! example `acl.txt:3: unknown action "pub"; expected publish, subscribe or all`.
//!
//! # The password file
//!
//! ```text
//! # USER:HASH
//! alice:$argon2id$v=19$m=19456,t=2,p=1$WxG18py+feTDkbN07aVQ2w$4Ga/J5vggR+eAote/CIQF5v0OfqPQu2+dh5RhUVO0Ug
//! bob:$argon2id$v=19$m=19456,t=2,p=1$VLOrrnbQMUDHqg1Hugb9Qw$re6edGsdroiQuHoP0sli/8wzzZFgr/X3sh1PYtbbO3E
//! ```
//!
//! The user name is everything before the last `:` (surrounding whitespace is
//! ignored); the hash is an argon2id PHC string, as `mqttkit-broker passwd` prints
//! it (or [`hash_password`] returns it). Plain-text passwords are not accepted. With a
//! password file, a client must give a listed user name and its password; a client
//! without a user name gets in only when `allow_anonymous` is set. Without one,
//! every client may connect.
//!
//! # The ACL file
//!
//! ```text
//! # allow|deny  publish|subscribe|all  user NAME | client ID | anyone  FILTER
//! deny  all       anyone       public/admin/#
//! allow all       anyone       public/#
//! allow publish   user alice   sensors/%u/#
//! allow subscribe anyone       sensors/+/temperature
//! deny  subscribe client c1    secret/#
//! allow all       user admin   #
//! ```
//!
//! Rules are tried from the top and **the first rule that applies decides**; when no
//! rule applies, the action is **denied**, so the file lists what is allowed. A rule
//! applies when its action (`all` is both), its subject and its filter fit:
//!
//! - `user NAME` fits a client that logged in as NAME, `client ID` a client with
//!   that client identifier, `anyone` every client. Names and ids cannot contain
//!   spaces here.
//! - FILTER is an MQTT topic filter, the rest of the line. `%u` in it stands for the
//!   client's user name and `%c` for its client id. Such a rule never applies to a
//!   client without a user name (for `%u`), nor when the name or id is empty,
//!   contains `/`, `+` or `#`, or would make the filter start with `$`: nobody gets
//!   out of their own subtree by choosing a name.
//! - For **publish**, the filter must match the topic name.
//! - For **subscribe**, an `allow` rule applies when its filter matches every topic
//!   that the requested filter can match (`a/#` allows `a/+/b`; `a/+` does not allow
//!   `a/#`), and a `deny` rule applies when some topic is matched by both (`deny
//!   secret/#` stops a subscription to `#`). A shared subscription
//!   `$share/{ShareName}/{filter}` is checked as `{filter}`.
//! - As in MQTT itself, a filter starting with `+` or `#` does not match topics
//!   starting with `$`: `allow all anyone #` gives no access to `$SYS/...`.
//!
//! Without an ACL file every client may publish and subscribe to everything.
//!
//! ```
//! use mqttkit_broker::auth::{Acl, Action, Identity};
//!
//! let acl = Acl::parse(
//!     "deny  all     anyone     public/admin/#\n\
//!      allow all     anyone     public/#\n\
//!      allow publish user alice sensors/%u/#\n",
//!     "acl".as_ref(),
//! )?;
//! let alice = Identity { user: Some("alice"), client_id: "phone" };
//! assert!(acl.allows(&alice, Action::Publish, "sensors/alice/kitchen"));
//! assert!(!acl.allows(&alice, Action::Publish, "sensors/bob/kitchen"));
//! assert!(acl.allows(&alice, Action::Subscribe, "public/news/+"));
//! assert!(!acl.allows(&alice, Action::Subscribe, "public/#"));
//! # Ok::<(), mqttkit_broker::auth::AuthFileError>(())
//! ```

mod acl;
mod error;
mod password;

use std::sync::Arc;

use tokio::sync::Semaphore;

pub use acl::{Acl, Action, Identity};
pub use error::{AuthFileError, LineError};
pub use password::{MAX_MEMORY_KIB, PasswordFile, hash_password};

use crate::config::AuthConfig;

/// The answer to a CONNECT's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectDecision {
    /// The client may connect.
    Allowed,
    /// The user name is unknown or the password is wrong or missing (v5 reason code
    /// 0x86 Bad User Name or Password, v3.1.1 return code 4).
    BadCredentials,
    /// The client gave no user name and anonymous clients are not allowed (v5 reason
    /// code 0x87 Not authorized, v3.1.1 return code 5).
    NotAuthorized,
}

/// The broker's authentication and authorization, from [`AuthConfig`].
///
/// Cheap to clone: the files are shared.
///
/// ```
/// use mqttkit_broker::auth::{Auth, ConnectDecision, Identity};
/// use mqttkit_broker::config::AuthConfig;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), mqttkit_broker::auth::AuthFileError> {
/// // Without files, everybody may do everything.
/// let auth = Auth::from_config(&AuthConfig::default())?;
/// assert_eq!(auth.check_connect(None, None).await, ConnectDecision::Allowed);
/// let who = Identity { user: None, client_id: "c1" };
/// assert!(auth.may_publish(&who, "a/b"));
/// assert!(auth.may_subscribe(&who, "#"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Auth {
    passwords: Option<Arc<PasswordFile>>,
    acl: Option<Arc<Acl>>,
    allow_anonymous: bool,
    /// Bounds the argon2 verifications running at once. Each one holds its memory
    /// cost (19 MiB with the defaults) for its whole run, so a burst of CONNECTs
    /// would otherwise claim that much per blocking thread.
    verifications: Arc<Semaphore>,
}

impl Auth {
    /// Reads the password and ACL files named in `cfg`.
    ///
    /// # Errors
    /// The first [`AuthFileError`] of either file.
    ///
    /// ```
    /// # use mqttkit_broker::auth::Auth;
    /// # use mqttkit_broker::config::AuthConfig;
    /// let auth = Auth::from_config(&AuthConfig::default())?;
    /// assert!(!auth.has_passwords());
    /// # Ok::<(), mqttkit_broker::auth::AuthFileError>(())
    /// ```
    pub fn from_config(cfg: &AuthConfig) -> Result<Self, AuthFileError> {
        let passwords = match &cfg.password_file {
            Some(path) => Some(Arc::new(PasswordFile::load(path)?)),
            None => None,
        };
        let acl = match &cfg.acl_file {
            Some(path) => Some(Arc::new(Acl::load(path)?)),
            None => None,
        };
        Ok(Self::new(passwords, acl, cfg.allow_anonymous))
    }

    /// Builds from files already read.
    ///
    /// ```
    /// # use mqttkit_broker::auth::{Acl, Auth, Identity};
    /// # use std::sync::Arc;
    /// let acl = Acl::parse("allow all anyone a/#", "acl".as_ref())?;
    /// let auth = Auth::new(None, Some(Arc::new(acl)), true);
    /// let who = Identity { user: None, client_id: "c1" };
    /// assert!(auth.may_publish(&who, "a/b"));
    /// assert!(!auth.may_publish(&who, "b"));
    /// # Ok::<(), mqttkit_broker::auth::AuthFileError>(())
    /// ```
    #[must_use]
    pub fn new(
        passwords: Option<Arc<PasswordFile>>,
        acl: Option<Arc<Acl>>,
        allow_anonymous: bool,
    ) -> Self {
        let parallel = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            passwords,
            acl,
            allow_anonymous,
            verifications: Arc::new(Semaphore::new(parallel)),
        }
    }

    /// True when clients must log in with a password.
    ///
    /// ```
    /// # use mqttkit_broker::auth::{Auth, PasswordFile};
    /// # use std::sync::Arc;
    /// let passwords = PasswordFile::parse("", "passwd".as_ref())?;
    /// assert!(Auth::new(Some(Arc::new(passwords)), None, false).has_passwords());
    /// # Ok::<(), mqttkit_broker::auth::AuthFileError>(())
    /// ```
    #[must_use]
    pub fn has_passwords(&self) -> bool {
        self.passwords.is_some()
    }

    /// Checks the user name and password of a CONNECT.
    ///
    /// Without a password file everyone is allowed. With one, a listed user with
    /// the right password is allowed; an unknown user, or a wrong or missing password,
    /// is [`ConnectDecision::BadCredentials`]; a client without a user name is allowed
    /// only with `allow_anonymous`, else [`ConnectDecision::NotAuthorized`]. The hash
    /// is computed on tokio's blocking threads, a few at a time.
    ///
    /// ```
    /// use mqttkit_broker::auth::{Auth, ConnectDecision, PasswordFile};
    /// use std::sync::Arc;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mqttkit_broker::auth::AuthFileError> {
    /// // "secret", hashed with small parameters to keep the example fast.
    /// let passwords = PasswordFile::parse(
    ///     "alice:$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$WHwbVkQ5XzAMaltcqwxy+X9v0VxYTVTjS9BRTrowawM",
    ///     "passwd".as_ref(),
    /// )?;
    /// let auth = Auth::new(Some(Arc::new(passwords)), None, false);
    /// let decide = |user, password| auth.check_connect(user, password);
    /// assert_eq!(decide(Some("alice"), Some(&b"secret"[..])).await, ConnectDecision::Allowed);
    /// assert_eq!(decide(Some("alice"), Some(&b"guess"[..])).await, ConnectDecision::BadCredentials);
    /// assert_eq!(decide(Some("alice"), None).await, ConnectDecision::BadCredentials);
    /// assert_eq!(decide(None, None).await, ConnectDecision::NotAuthorized);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn check_connect(
        &self,
        user: Option<&str>,
        password: Option<&[u8]>,
    ) -> ConnectDecision {
        let Some(passwords) = &self.passwords else {
            return ConnectDecision::Allowed;
        };
        let Some(user) = user else {
            return if self.allow_anonymous {
                ConnectDecision::Allowed
            } else {
                ConnectDecision::NotAuthorized
            };
        };
        let Some(password) = password else {
            return ConnectDecision::BadCredentials;
        };
        // The semaphore is never closed, so acquiring fails only if it were; refusing
        // then is the safe answer.
        let Ok(_permit) = self.verifications.acquire().await else {
            return ConnectDecision::BadCredentials;
        };
        let passwords = Arc::clone(passwords);
        let (user, password) = (user.to_owned(), password.to_vec());
        match tokio::task::spawn_blocking(move || passwords.verify(&user, &password)).await {
            Ok(true) => ConnectDecision::Allowed,
            Ok(false) => ConnectDecision::BadCredentials,
            Err(err) => {
                tracing::warn!("password verification did not finish: {err}");
                ConnectDecision::BadCredentials
            }
        }
    }

    /// Whether `who` may publish to `topic`; true without an ACL file.
    ///
    /// ```
    /// # use mqttkit_broker::auth::{Acl, Auth, Identity};
    /// # use std::sync::Arc;
    /// let acl = Acl::parse("allow publish user alice sensors/%u/#", "acl".as_ref())?;
    /// let auth = Auth::new(None, Some(Arc::new(acl)), true);
    /// let alice = Identity { user: Some("alice"), client_id: "c1" };
    /// assert!(auth.may_publish(&alice, "sensors/alice/t"));
    /// assert!(!auth.may_publish(&alice, "sensors/bob/t"));
    /// # Ok::<(), mqttkit_broker::auth::AuthFileError>(())
    /// ```
    #[must_use]
    pub fn may_publish(&self, who: &Identity<'_>, topic: &str) -> bool {
        self.acl
            .as_ref()
            .is_none_or(|acl| acl.allows(who, Action::Publish, topic))
    }

    /// Whether `who` may subscribe with `filter`; true without an ACL file.
    ///
    /// ```
    /// # use mqttkit_broker::auth::{Acl, Auth, Identity};
    /// # use std::sync::Arc;
    /// let acl = Acl::parse("allow subscribe anyone news/#", "acl".as_ref())?;
    /// let auth = Auth::new(None, Some(Arc::new(acl)), true);
    /// let who = Identity { user: None, client_id: "c1" };
    /// assert!(auth.may_subscribe(&who, "news/+"));
    /// assert!(!auth.may_subscribe(&who, "+/+"));
    /// # Ok::<(), mqttkit_broker::auth::AuthFileError>(())
    /// ```
    #[must_use]
    pub fn may_subscribe(&self, who: &Identity<'_>, filter: &str) -> bool {
        self.acl
            .as_ref()
            .is_none_or(|acl| acl.allows(who, Action::Subscribe, filter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/auth")
            .join(name)
    }

    fn config(password_file: bool, acl_file: bool, allow_anonymous: bool) -> AuthConfig {
        AuthConfig {
            password_file: password_file.then(|| data("passwd")),
            acl_file: acl_file.then(|| data("acl")),
            allow_anonymous,
        }
    }

    #[tokio::test]
    async fn without_a_password_file_everyone_connects() {
        let auth = Auth::from_config(&config(false, false, false)).unwrap();
        assert_eq!(
            auth.check_connect(None, None).await,
            ConnectDecision::Allowed
        );
        assert_eq!(
            auth.check_connect(Some("anyone"), Some(b"x")).await,
            ConnectDecision::Allowed
        );
    }

    #[tokio::test]
    async fn with_a_password_file_credentials_decide() {
        let auth = Auth::from_config(&config(true, false, false)).unwrap();
        assert!(auth.has_passwords());
        type Case = (Option<&'static str>, Option<&'static [u8]>, ConnectDecision);
        let cases: [Case; 7] = [
            (Some("alice"), Some(b"secret"), ConnectDecision::Allowed),
            (Some("bob"), Some(b"hunter2"), ConnectDecision::Allowed),
            (
                Some("alice"),
                Some(b"hunter2"),
                ConnectDecision::BadCredentials,
            ),
            (Some("alice"), None, ConnectDecision::BadCredentials),
            (
                Some("carol"),
                Some(b"secret"),
                ConnectDecision::BadCredentials,
            ),
            (None, None, ConnectDecision::NotAuthorized),
            (None, Some(b"secret"), ConnectDecision::NotAuthorized),
        ];
        for (user, password, expected) in cases {
            assert_eq!(
                auth.check_connect(user, password).await,
                expected,
                "{user:?}"
            );
        }
    }

    #[tokio::test]
    async fn allow_anonymous_lets_clients_without_a_user_name_in() {
        let auth = Auth::from_config(&config(true, false, true)).unwrap();
        assert_eq!(
            auth.check_connect(None, None).await,
            ConnectDecision::Allowed
        );
        // A user name still has to come with its password.
        assert_eq!(
            auth.check_connect(Some("alice"), Some(b"wrong")).await,
            ConnectDecision::BadCredentials
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_logins_all_get_an_answer() {
        let auth = Auth::from_config(&config(true, false, false)).unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let auth = auth.clone();
                tokio::spawn(async move {
                    let password: &[u8] = if i % 2 == 0 { b"secret" } else { b"nope" };
                    (i, auth.check_connect(Some("alice"), Some(password)).await)
                })
            })
            .collect();
        for task in tasks {
            let (i, decision) = task.await.unwrap();
            let expected = if i % 2 == 0 {
                ConnectDecision::Allowed
            } else {
                ConnectDecision::BadCredentials
            };
            assert_eq!(decision, expected);
        }
    }

    #[test]
    fn the_acl_decides_only_when_configured() {
        let who = Identity {
            user: Some("alice"),
            client_id: "c1",
        };
        let open = Auth::from_config(&config(false, false, true)).unwrap();
        assert!(open.may_publish(&who, "secret/x"));
        assert!(open.may_subscribe(&who, "secret/#"));
        let acl = Auth::from_config(&config(false, true, true)).unwrap();
        assert!(!acl.may_subscribe(&who, "secret/#"));
        assert!(acl.may_publish(&who, "sensors/alice/t"));
        assert!(!acl.may_publish(&who, "secret/x"));
    }

    #[test]
    fn from_config_reports_the_file_that_fails() {
        let missing = AuthConfig {
            acl_file: Some(PathBuf::from("/nonexistent/acl")),
            ..AuthConfig::default()
        };
        let err = Auth::from_config(&missing).unwrap_err();
        assert!(
            matches!(err, AuthFileError::Io { ref path, .. } if path == Path::new("/nonexistent/acl"))
        );
    }

    #[test]
    fn auth_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Auth>();
    }
}
