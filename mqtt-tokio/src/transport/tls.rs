//! TLS by rustls on the ring provider, for both ends.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;

use crate::ConnectOptions;

/// The rustls this crate is built with, to build a
/// [`rustls::ClientConfig`] for [`ConnectOptions::tls_client_config`] or a
/// [`rustls::ServerConfig`] for a [`TlsAcceptor`].
pub use tokio_rustls::rustls;

/// The server side's TLS configuration, for [`accept_tls`]: tokio-rustls'
/// acceptor, made from an `Arc<rustls::ServerConfig>` with `From`, or by
/// [`tls_acceptor_from_pem`].
pub use tokio_rustls::TlsAcceptor;

/// A TLS stream the client opened over `S` (an [`Io`](super::Io)).
pub type ClientTlsStream<S> = tokio_rustls::client::TlsStream<S>;

/// A TLS stream [`accept_tls`] accepted over `S` (an [`Io`](super::Io)).
pub type ServerTlsStream<S> = tokio_rustls::server::TlsStream<S>;

/// Why TLS could not be set up or its handshake failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        source: Arc<io::Error>,
    },
    /// PEM data is malformed or holds nothing of the expected kind.
    #[error("{origin}: {reason}")]
    Pem {
        /// The file, or which PEM bytes.
        origin: String,
        /// What is wrong, as the PEM parser or this crate says it.
        reason: String,
    },
    /// The client trusts no CA: none was given and no whole
    /// configuration either. The crate trusts no public roots by itself.
    #[error(
        "no trusted CA: give one with tls_ca_pem_file() or tls_ca_pem(), or a whole configuration with tls_client_config()"
    )]
    NoTrustedCa,
    /// The host (or [`ConnectOptions::tls_server_name`]) is neither a DNS
    /// name nor an IP address.
    #[error("{0:?} is not a valid TLS server name (a DNS name or an IP address)")]
    InvalidServerName(String),
    /// rustls refused the configuration or the handshake: the server's
    /// certificate is not trusted or not valid for the name
    /// ([`rustls::Error::InvalidCertificate`]), the peer speaks no common
    /// protocol version or cipher suite, ...
    #[error("{0}")]
    Rustls(rustls::Error),
    /// The connection failed during the handshake.
    #[error("I/O error during the TLS handshake: {0}")]
    Io(Arc<io::Error>),
}

impl TlsError {
    /// A handshake failure: rustls' own error when there is one inside.
    fn from_handshake(err: io::Error) -> Self {
        let rustls = err
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        match rustls {
            Some(rustls) => Self::Rustls(rustls.clone()),
            None => Self::Io(Arc::new(err)),
        }
    }
}

impl From<TlsError> for crate::Error {
    /// I/O errors of the handshake stay [`crate::Error::Io`], like those
    /// of TCP; the rest are [`crate::Error::Tls`].
    fn from(err: TlsError) -> Self {
        match err {
            TlsError::Io(io) => Self::Io(io),
            err => Self::Tls(err),
        }
    }
}

/// Where a CA certificate comes from.
#[derive(Clone)]
pub(crate) enum CaSource {
    File(PathBuf),
    Pem(Vec<u8>),
}

impl fmt::Debug for CaSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Pem(pem) => write!(f, "Pem({} bytes)", pem.len()),
        }
    }
}

/// The client's TLS options, turned into a configuration when connecting.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsOptions {
    pub(crate) ca: Vec<CaSource>,
    pub(crate) server_name: Option<String>,
    pub(crate) config: Option<Arc<rustls::ClientConfig>>,
}

impl TlsOptions {
    /// The configuration given whole, or one that trusts the CAs given.
    fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        if let Some(config) = &self.config {
            return Ok(Arc::clone(config));
        }
        if self.ca.is_empty() {
            return Err(TlsError::NoTrustedCa);
        }
        let mut roots = rustls::RootCertStore::empty();
        for source in &self.ca {
            let certs = match source {
                CaSource::File(path) => {
                    // A small local file, read once per connection attempt:
                    // not worth a blocking-pool thread.
                    let pem = std::fs::read(path).map_err(|source| TlsError::ReadFile {
                        path: path.clone(),
                        source: Arc::new(source),
                    })?;
                    certificates(&pem, &path.display().to_string())?
                }
                CaSource::Pem(pem) => certificates(pem, "the CA PEM data")?,
            };
            for cert in certs {
                roots.add(cert).map_err(TlsError::Rustls)?;
            }
        }
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Rustls)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}

/// The ring provider, named explicitly: rustls refuses to guess when more
/// than one provider could be compiled in.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates in `pem`, at least one.
fn certificates(pem: &[u8], origin: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bad = |reason: String| TlsError::Pem {
        origin: origin.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no CERTIFICATE in it".to_owned()));
    }
    Ok(certs)
}

/// Opens TLS over `stream` to the host of `options` (or its server name).
pub(crate) async fn connect<S>(
    options: &ConnectOptions,
    stream: S,
) -> Result<ClientTlsStream<S>, TlsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let tls = &options.transport_options.tls;
    let config = tls.client_config()?;
    let name = tls.server_name.as_deref().unwrap_or(options.host());
    let name = ServerName::try_from(name.to_owned())
        .map_err(|_| TlsError::InvalidServerName(name.to_owned()))?;
    TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(TlsError::from_handshake)
}

/// Runs the server side of the TLS handshake on an accepted connection
/// (usually a `TcpStream`); the result is an [`Io`](super::Io) for the
/// server's driver, or for [`accept_websocket`](super::accept_websocket)
/// to serve `wss://`.
///
/// The handshake has no time limit of its own: wrap the call in
/// `tokio::time::timeout` so that a client that stops half way does not
/// hold the task.
///
/// ```no_run
/// use std::time::Duration;
/// use mqttkit_tokio::transport::{accept_tls, tls_acceptor_from_pem};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let acceptor = tls_acceptor_from_pem(
///     &std::fs::read("server.pem")?,
///     &std::fs::read("server.key")?,
/// )?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8883").await?;
/// let (tcp, _) = listener.accept().await?;
/// let stream = tokio::time::timeout(Duration::from_secs(10), accept_tls(&acceptor, tcp)).await??;
/// // `stream` is an `Io`: hand it to the server's connection driver.
/// # Ok(())
/// # }
/// ```
pub async fn accept_tls<S>(
    acceptor: &TlsAcceptor,
    stream: S,
) -> Result<ServerTlsStream<S>, TlsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    acceptor
        .accept(stream)
        .await
        .map_err(TlsError::from_handshake)
}

/// A server configuration on the ring provider from a certificate chain
/// (PEM, the server's certificate first) and its private key (PEM: PKCS#8,
/// PKCS#1 or SEC1), without client authentication. For anything else,
/// build a [`rustls::ServerConfig`] and make the acceptor with
/// `TlsAcceptor::from(Arc::new(config))`.
///
/// ```no_run
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let acceptor = mqttkit_tokio::transport::tls_acceptor_from_pem(
///     &std::fs::read("server.pem")?,
///     &std::fs::read("server.key")?,
/// )?;
/// # Ok(())
/// # }
/// ```
pub fn tls_acceptor_from_pem(chain: &[u8], key: &[u8]) -> Result<TlsAcceptor, TlsError> {
    let chain = certificates(chain, "the certificate chain")?;
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| TlsError::Pem {
        origin: "the private key".to_owned(),
        reason: e.to_string(),
    })?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Rustls)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Rustls)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_pem_errors_say_what_is_wrong() {
        let options = |pem: &[u8]| TlsOptions {
            ca: vec![CaSource::Pem(pem.to_vec())],
            ..TlsOptions::default()
        };
        assert!(matches!(
            TlsOptions::default().client_config(),
            Err(TlsError::NoTrustedCa)
        ));
        let none = options(b"no PEM here").client_config();
        assert!(matches!(none, Err(TlsError::Pem { .. })), "{none:?}");
        let cut = options(b"-----BEGIN CERTIFICATE-----\nAAAA\n").client_config();
        assert!(matches!(cut, Err(TlsError::Pem { .. })), "{cut:?}");
        let missing = TlsOptions {
            ca: vec![CaSource::File("/nonexistent/ca.pem".into())],
            ..TlsOptions::default()
        };
        assert!(matches!(
            missing.client_config(),
            Err(TlsError::ReadFile { .. })
        ));
    }

    #[test]
    fn a_whole_configuration_is_used_as_given() {
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let config = Arc::new(config);
        let options = TlsOptions {
            config: Some(Arc::clone(&config)),
            // Ignored when the configuration is given.
            ca: vec![CaSource::Pem(b"not PEM".to_vec())],
            ..TlsOptions::default()
        };
        assert!(Arc::ptr_eq(&options.client_config().unwrap(), &config));
    }
}
