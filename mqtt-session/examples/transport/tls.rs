//! TLS for the example client: trusted authorities from a PEM file.

use std::error::Error;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;

type BoxError = Box<dyn Error + Send + Sync>;

/// The ring provider, named explicitly: rustls refuses to guess when more
/// than one provider could be compiled in.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, BoxError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in the file", path.display()).into());
    }
    Ok(certs)
}

/// A client configuration that trusts only the certificate authorities in
/// `ca` (PEM): the examples ship no public roots, and a test CA is what
/// they meet.
pub fn connector(ca: &Path) -> Result<TlsConnector, BoxError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(ca)? {
        roots.add(cert)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Opens TLS over `stream`, checking the server's certificate against
/// `host` (a DNS name or an IP address, as in the URL).
pub async fn connect<S>(
    connector: &TlsConnector,
    host: &str,
    stream: S,
) -> Result<tokio_rustls::client::TlsStream<S>, BoxError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = ServerName::try_from(host.to_owned())?;
    Ok(connector.connect(name, stream).await?)
}
