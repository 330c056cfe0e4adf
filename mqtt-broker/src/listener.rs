//! The listening sockets: each accepted connection gets its transport
//! (TLS, WebSocket) opened within a timeout, then its own task.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mqttkit_tokio::transport::{
    TlsAcceptor, accept_tls, accept_websocket_with_limit, tls_acceptor_from_pem,
};
use tokio::net::{TcpListener, TcpStream};

use crate::config::{Listener, Protocol};
use crate::state::State;

/// A peer that opens TCP and never finishes the TLS or WebSocket
/// handshake holds its task this long at most.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a listener could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    /// Binding the address failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The certificate or key could not be read or used.
    #[error("TLS identity for {addr}: {reason}")]
    Tls {
        /// The listener's address.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
}

/// A bound listener, not accepting yet.
pub(crate) struct Bound {
    pub(crate) protocol: Protocol,
    pub(crate) tcp: TcpListener,
    tls: Option<TlsAcceptor>,
}

/// Binds `listener` and loads its TLS identity.
pub(crate) async fn bind(listener: &Listener) -> Result<Bound, ListenError> {
    let addr = listener.bind;
    let tls = if listener.protocol.needs_tls() {
        let read = |path: &Option<std::path::PathBuf>, what: &str| {
            let path = path.as_ref().ok_or_else(|| ListenError::Tls {
                addr,
                reason: format!("no {what} file configured"),
            })?;
            std::fs::read(path).map_err(|e| ListenError::Tls {
                addr,
                reason: format!("{}: {e}", path.display()),
            })
        };
        let chain = read(&listener.cert, "certificate")?;
        let key = read(&listener.key, "key")?;
        Some(
            tls_acceptor_from_pem(&chain, &key).map_err(|e| ListenError::Tls {
                addr,
                reason: e.to_string(),
            })?,
        )
    } else {
        None
    };
    let tcp = TcpListener::bind(addr)
        .await
        .map_err(|source| ListenError::Bind { addr, source })?;
    Ok(Bound {
        protocol: listener.protocol,
        tcp,
        tls,
    })
}

/// Accepts connections until the task is aborted.
pub(crate) async fn accept_loop(bound: Bound, state: Arc<State>) {
    let Bound { protocol, tcp, tls } = bound;
    let mut failing = false;
    loop {
        match tcp.accept().await {
            Ok((stream, peer)) => {
                failing = false;
                let state = Arc::clone(&state);
                // Each transport's own future: a task is as large as the
                // future it runs, and TCP needs none of the handshakes'.
                if protocol == Protocol::Tcp {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(crate::session::serve(stream, peer, protocol, state));
                } else {
                    tokio::spawn(open(stream, peer, protocol, tls.clone(), state));
                }
            }
            Err(e) => {
                // Out of file descriptors, typically: said once, retried
                // after a pause rather than in a busy loop.
                if !failing {
                    tracing::warn!(listener = protocol.name(), "accept failed: {e}");
                    failing = true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Opens the TLS or WebSocket layers over an accepted connection, then
/// serves it.
async fn open(
    tcp: TcpStream,
    peer: SocketAddr,
    protocol: Protocol,
    tls: Option<TlsAcceptor>,
    state: Arc<State>,
) {
    let _ = tcp.set_nodelay(true);
    let max_message = usize::try_from(state.config.max_packet_size)
        .unwrap_or(usize::MAX)
        .saturating_mul(2);
    let failed = match (protocol, tls) {
        (Protocol::Tls, Some(tls)) => {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, accept_tls(&tls, tcp)).await {
                Ok(Ok(io)) => return crate::session::serve(io, peer, protocol, state).await,
                Ok(Err(e)) => e.to_string(),
                Err(_) => "handshake timed out".to_owned(),
            }
        }
        (Protocol::Ws, _) => {
            let ws = accept_websocket_with_limit(tcp, max_message);
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, ws).await {
                Ok(Ok(io)) => return crate::session::serve(io, peer, protocol, state).await,
                Ok(Err(e)) => e.to_string(),
                Err(_) => "handshake timed out".to_owned(),
            }
        }
        (Protocol::Wss, Some(tls)) => {
            let both = async {
                let tls = accept_tls(&tls, tcp).await.map_err(|e| e.to_string())?;
                accept_websocket_with_limit(tls, max_message)
                    .await
                    .map_err(|e| e.to_string())
            };
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, both).await {
                Ok(Ok(io)) => return crate::session::serve(io, peer, protocol, state).await,
                Ok(Err(e)) => e,
                Err(_) => "handshake timed out".to_owned(),
            }
        }
        (Protocol::Tcp, _) | (_, None) => "no TLS identity".to_owned(),
    };
    tracing::info!(%peer, listener = protocol.name(), "handshake failed: {failed}");
}
