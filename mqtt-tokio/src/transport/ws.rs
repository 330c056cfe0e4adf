//! MQTT over WebSocket (v5 §6, v3.1.1 §6): the WebSocket adapted to a
//! byte stream, so the MQTT framing above it is the same as over TCP.
//!
//! Each binary message received is read out as bytes, and each write
//! becomes one binary message. Packet and message boundaries are
//! unrelated: a message may hold several packets or part of one, and
//! nothing here assumes they line up (v5 and v3.1.1 [MQTT-6.0.0-2]).
//!
//! tungstenite runs the WebSocket protocol over a blocking-style
//! `Read + Write`; [`Compat`] gives it the async stream, turning "not
//! ready" into `WouldBlock` and waking the task that waits. This is how
//! tokio-tungstenite drives it too, without the `Stream` and `Sink`
//! traits its own API needs.

use std::fmt;
use std::future::poll_fn;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite;
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::handshake::{HandshakeError, HandshakeRole, MidHandshake};
use tungstenite::http::{HeaderValue, StatusCode, header};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Bytes, Message, WebSocket};

use crate::ConnectOptions;

/// The WebSocket subprotocol of MQTT, which a client offers and a server
/// selects (v5 and v3.1.1 [MQTT-6.0.0-3], [MQTT-6.0.0-4]).
pub const SUBPROTOCOL: &str = "mqtt";

/// The largest WebSocket message taken from the peer by default, in
/// bytes: 1 MiB. A message is held whole until it is read out, so this
/// bounds what a peer can make one connection buffer.
pub const DEFAULT_MAX_WEBSOCKET_MESSAGE: usize = 1 << 20;

/// The most bytes one write puts in one binary message: writes are cut
/// to this size, which bounds the frame buffer on the sending side.
const MAX_WRITE_MESSAGE: usize = 64 << 10;

/// Why a WebSocket could not be opened or accepted, and (inside an
/// `io::Error` of kind `InvalidData`) why an open one failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum WebSocketError {
    /// The server did not select the `mqtt` subprotocol the client
    /// offered (v5 and v3.1.1 [MQTT-6.0.0-4]).
    #[error("the server did not select the WebSocket subprotocol mqtt")]
    SubprotocolNotSelected,
    /// The client did not offer the `mqtt` subprotocol (v5 and v3.1.1
    /// [MQTT-6.0.0-3]); it was answered with HTTP 400.
    #[error("the client did not offer the WebSocket subprotocol mqtt")]
    SubprotocolNotOffered,
    /// The server answered the upgrade request with this HTTP status
    /// instead of 101 Switching Protocols (404 for a wrong path, ...).
    #[error("the server answered the WebSocket upgrade with HTTP {0}")]
    HttpStatus(u16),
    /// The peer sent a text message: MQTT travels in binary messages
    /// only, so the connection was closed (v5 and v3.1.1 [MQTT-6.0.0-1]).
    #[error("the peer sent a text message; MQTT needs binary messages")]
    TextMessage,
    /// The WebSocket protocol failed: a malformed handshake or frame, a
    /// message above the size limit, ...
    #[error("{0}")]
    Protocol(Arc<tungstenite::Error>),
    /// The connection failed during the handshake.
    #[error("I/O error during the WebSocket handshake: {0}")]
    Io(Arc<io::Error>),
}

impl WebSocketError {
    /// A handshake failure, typed where it says something about MQTT.
    fn from_handshake(err: tungstenite::Error) -> Self {
        use tungstenite::error::ProtocolError;
        match err {
            tungstenite::Error::Io(err) => Self::Io(Arc::new(err)),
            tungstenite::Error::Http(response) => Self::HttpStatus(response.status().as_u16()),
            tungstenite::Error::Protocol(ProtocolError::SecWebSocketSubProtocolError(_)) => {
                Self::SubprotocolNotSelected
            }
            err => Self::Protocol(Arc::new(err)),
        }
    }
}

impl From<WebSocketError> for crate::Error {
    /// I/O errors of the handshake stay [`crate::Error::Io`], like those
    /// of TCP; the rest are [`crate::Error::WebSocket`].
    fn from(err: WebSocketError) -> Self {
        match err {
            WebSocketError::Io(io) => Self::Io(io),
            err => Self::WebSocket(err),
        }
    }
}

/// A WebSocket carrying MQTT, read and written as a byte stream: an
/// [`Io`](super::Io) when `S` is one. The client makes one for `ws://`
/// and `wss://` URLs; a server gets one from [`accept_websocket`].
///
/// Reading yields the payloads of the binary messages received, in
/// order, without regard to message boundaries; pings are answered. A
/// text message fails the read with an `io::Error` of kind `InvalidData`
/// wrapping [`WebSocketError::TextMessage`], after a Close frame with
/// status 1003 (unsupported data) was queued. The peer's Close ends the
/// stream (a read of 0 bytes). Each write sends its bytes, at most
/// 64 KiB, as one binary message; shutting down sends Close, then shuts
/// down `S`.
///
/// What one connection buffers is bounded: one received message (at most
/// the limit given to [`accept_websocket_with_limit`] or
/// [`ConnectOptions::websocket_max_message`]; a larger one fails the
/// read), one message being written, and one control frame.
pub struct WsStream<S> {
    ws: WebSocket<Compat<S>>,
    /// The rest of the binary message being read out.
    pending: Bytes,
    /// Set once a text message arrived: the stream only fails from then.
    failed: bool,
}

impl<S> fmt::Debug for WsStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsStream")
            .field("pending", &self.pending.len())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl<S> WsStream<S> {
    /// The stream the WebSocket runs over.
    ///
    /// ```no_run
    /// # async fn run(tcp: tokio::net::TcpStream) -> Result<(), Box<dyn std::error::Error>> {
    /// let ws = mqttkit_tokio::transport::accept_websocket(tcp).await?;
    /// println!("client at {}", ws.get_ref().peer_addr()?);
    /// # Ok(())
    /// # }
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.ws.get_ref().inner
    }

    /// The stream the WebSocket runs over, mutably: to set socket
    /// options. Reading or writing it directly breaks the WebSocket's
    /// framing.
    ///
    /// ```no_run
    /// # async fn run(tcp: tokio::net::TcpStream) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut ws = mqttkit_tokio::transport::accept_websocket(tcp).await?;
    /// ws.get_mut().set_nodelay(true)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.ws.get_mut().inner
    }
}

/// tungstenite's errors as I/O errors: the ones that mean "not yet" or
/// "ended" are told apart by the callers.
fn io_error(err: tungstenite::Error) -> io::Error {
    match err {
        tungstenite::Error::Io(err) => err,
        err => io::Error::new(
            io::ErrorKind::InvalidData,
            WebSocketError::Protocol(Arc::new(err)),
        ),
    }
}

fn would_block(err: &tungstenite::Error) -> bool {
    matches!(err, tungstenite::Error::Io(e) if e.kind() == io::ErrorKind::WouldBlock)
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.failed {
                return Poll::Ready(Err(text_message()));
            }
            if !this.pending.is_empty() {
                let n = this.pending.len().min(buf.remaining());
                buf.put_slice(&this.pending.split_to(n));
                return Poll::Ready(Ok(()));
            }
            this.ws.get_ref().wakers.register_read(cx);
            match this.ws.read() {
                Ok(Message::Binary(payload)) => this.pending = payload,
                // MQTT Control Packets travel in binary messages only; any
                // other data message closes the connection
                // (v5 and v3.1.1 [MQTT-6.0.0-1]).
                Ok(Message::Text(_)) => {
                    this.failed = true;
                    let close = CloseFrame {
                        code: CloseCode::Unsupported,
                        reason: "MQTT needs binary messages".into(),
                    };
                    // Queued even when the socket is not writable now;
                    // a later flush or shutdown sends it.
                    let _ = this.ws.close(Some(close));
                    return Poll::Ready(Err(text_message()));
                }
                // Ping, Pong, Close: tungstenite queues the answers itself.
                Ok(_) => {}
                // The end of the stream: the closing handshake is done,
                // or the peer closed the connection without one (MQTT's
                // DISCONNECT, not the WebSocket's Close, ends a session).
                Err(
                    tungstenite::Error::ConnectionClosed
                    | tungstenite::Error::AlreadyClosed
                    | tungstenite::Error::Protocol(
                        tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
                    ),
                ) => return Poll::Ready(Ok(())),
                Err(err) if would_block(&err) => return Poll::Pending,
                Err(err) => return Poll::Ready(Err(io_error(err))),
            }
        }
    }
}

fn text_message() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, WebSocketError::TextMessage)
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        this.ws.get_ref().wakers.register_write(cx);
        // One message at a time: the previous one (and any answer to a
        // ping) is written out before the next is taken.
        match this.ws.flush() {
            Ok(()) => {}
            Err(err) if would_block(&err) => return Poll::Pending,
            Err(err) => return Poll::Ready(Err(io_error(err))),
        }
        let chunk = buf.get(..MAX_WRITE_MESSAGE).unwrap_or(buf);
        match this
            .ws
            .write(Message::binary(Bytes::copy_from_slice(chunk)))
        {
            // Not written out yet, but taken: the next write or flush
            // finishes it.
            Ok(()) => Poll::Ready(Ok(chunk.len())),
            Err(err) if would_block(&err) => Poll::Ready(Ok(chunk.len())),
            Err(err) => Poll::Ready(Err(io_error(err))),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.ws.get_ref().wakers.register_write(cx);
        match this.ws.flush() {
            Ok(()) => Poll::Ready(Ok(())),
            Err(err) if would_block(&err) => Poll::Pending,
            Err(err) => Poll::Ready(Err(io_error(err))),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.ws.get_ref().wakers.register_write(cx);
        // Sends Close once, then only flushes what is queued.
        match this.ws.close(None) {
            Ok(())
            | Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {}
            Err(err) if would_block(&err) => return Poll::Pending,
            Err(err) => return Poll::Ready(Err(io_error(err))),
        }
        Pin::new(&mut this.ws.get_mut().inner).poll_shutdown(cx)
    }
}

/// The limits of one WebSocket: a received message and frame at most
/// `max_message` bytes, one message being written, eager writes.
fn config(max_message: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(16 << 10)
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_MESSAGE.saturating_mul(2))
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}

/// Opens the WebSocket to `path` on the host of `options` over `stream`
/// (TCP or TLS), offering the `mqtt` subprotocol as a client must
/// (v5 and v3.1.1 [MQTT-6.0.0-3]), and checking that the server selected
/// it ([MQTT-6.0.0-4]).
pub(crate) async fn connect<S>(
    options: &ConnectOptions,
    path: &str,
    stream: S,
) -> Result<WsStream<S>, WebSocketError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let host = options.host();
    let host = match host.contains(':') {
        true => format!("[{host}]"),
        false => host.to_owned(),
    };
    let scheme = options.transport().scheme();
    let url = format!("{scheme}://{host}:{}{path}", options.port());
    let mut request = url
        .into_client_request()
        .map_err(|err| WebSocketError::Protocol(Arc::new(err)))?;
    request.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(SUBPROTOCOL),
    );
    let max_message = options.transport_options.websocket_max_message;
    let (stream, wakers) = Compat::new(stream);
    let start = tungstenite::handshake::client::ClientHandshake::start(
        stream,
        request,
        Some(config(max_message)),
    )
    .map_err(WebSocketError::from_handshake)?;
    let (ws, response) = handshake(start, &wakers)
        .await
        .map_err(WebSocketError::from_handshake)?;
    // tungstenite refuses a missing or other subprotocol already; this
    // keeps the rule here whatever it does.
    let selected = response.headers().get(header::SEC_WEBSOCKET_PROTOCOL);
    if selected.and_then(|v| v.to_str().ok()) != Some(SUBPROTOCOL) {
        return Err(WebSocketError::SubprotocolNotSelected);
    }
    Ok(WsStream::new(ws))
}

/// Answers a client's WebSocket handshake on an accepted connection (TCP,
/// or the TLS stream of [`accept_tls`](super::accept_tls) for `wss://`),
/// with the limit [`DEFAULT_MAX_WEBSOCKET_MESSAGE`]; see
/// [`accept_websocket_with_limit`].
///
/// ```no_run
/// use std::time::Duration;
/// use mqttkit_tokio::transport::accept_websocket;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// let (tcp, _) = listener.accept().await?;
/// let stream = tokio::time::timeout(Duration::from_secs(10), accept_websocket(tcp)).await??;
/// // `stream` is an `Io`: hand it to the server's connection driver.
/// # Ok(())
/// # }
/// ```
pub async fn accept_websocket<S>(stream: S) -> Result<WsStream<S>, WebSocketError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_websocket_with_limit(stream, DEFAULT_MAX_WEBSOCKET_MESSAGE).await
}

/// Answers a client's WebSocket handshake, on any request path, selecting
/// the `mqtt` subprotocol (v5 and v3.1.1 [MQTT-6.0.0-4]). A client that
/// does not offer it is answered with HTTP 400 and refused with
/// [`WebSocketError::SubprotocolNotOffered`]: a client must offer it
/// ([MQTT-6.0.0-3]), so one that does not would not speak MQTT. Messages
/// from the client are taken up to `max_message` bytes (at least 1024).
///
/// The handshake has no time limit of its own: wrap the call in
/// `tokio::time::timeout` so that a client that stops half way does not
/// hold the task.
///
/// ```no_run
/// use mqttkit_tokio::transport::accept_websocket_with_limit;
///
/// # async fn run(tcp: tokio::net::TcpStream) -> Result<(), Box<dyn std::error::Error>> {
/// let stream = accept_websocket_with_limit(tcp, 256 << 10).await?;
/// # Ok(())
/// # }
/// ```
pub async fn accept_websocket_with_limit<S>(
    stream: S,
    max_message: usize,
) -> Result<WsStream<S>, WebSocketError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let not_offered = AtomicBool::new(false);
    // The error type is tungstenite's callback signature, not ours to shrink.
    #[allow(clippy::result_large_err)]
    let select_mqtt = |request: &Request, mut response: Response| {
        if !offers_mqtt(request) {
            not_offered.store(true, Ordering::Relaxed);
            let mut refusal: ErrorResponse = ErrorResponse::new(Some(
                "MQTT over WebSocket needs the subprotocol mqtt".into(),
            ));
            *refusal.status_mut() = StatusCode::BAD_REQUEST;
            return Err(refusal);
        }
        response.headers_mut().insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(SUBPROTOCOL),
        );
        Ok(response)
    };
    let (stream, wakers) = Compat::new(stream);
    let start = tungstenite::handshake::server::ServerHandshake::start(
        stream,
        select_mqtt,
        Some(config(max_message.max(1024))),
    );
    match handshake(start, &wakers).await {
        Ok(ws) => Ok(WsStream::new(ws)),
        Err(_) if not_offered.load(Ordering::Relaxed) => Err(WebSocketError::SubprotocolNotOffered),
        Err(err) => Err(WebSocketError::from_handshake(err)),
    }
}

/// Whether the request offers the `mqtt` subprotocol, in any of its
/// `Sec-WebSocket-Protocol` headers (each a comma-separated list).
fn offers_mqtt(request: &Request) -> bool {
    request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == SUBPROTOCOL)
}

impl<S> WsStream<S> {
    fn new(ws: WebSocket<Compat<S>>) -> Self {
        Self {
            ws,
            pending: Bytes::new(),
            failed: false,
        }
    }
}

/// Runs a handshake that tungstenite interrupts whenever the stream is
/// not ready, resuming it when the stream wakes the task.
async fn handshake<R: HandshakeRole>(
    start: MidHandshake<R>,
    wakers: &Arc<Wakers>,
) -> Result<R::FinalResult, tungstenite::Error> {
    let mut mid = Some(start);
    poll_fn(|cx| {
        let Some(handshake) = mid.take() else {
            // Polled again after it completed: the future is fused.
            return Poll::Ready(Err(tungstenite::Error::AlreadyClosed));
        };
        wakers.register_read(cx);
        wakers.register_write(cx);
        match handshake.handshake() {
            Ok(done) => Poll::Ready(Ok(done)),
            Err(HandshakeError::Interrupted(handshake)) => {
                mid = Some(handshake);
                Poll::Pending
            }
            Err(HandshakeError::Failure(err)) => Poll::Ready(Err(err)),
        }
    })
    .await
}

/// The tasks waiting for the stream to read and to write. The stream is
/// polled with one waker that wakes both: tungstenite may write while
/// reading (a pong) and read while writing (the handshake).
#[derive(Debug, Default)]
struct Wakers {
    read: Mutex<Option<Waker>>,
    write: Mutex<Option<Waker>>,
}

impl Wakers {
    fn register_read(&self, cx: &Context<'_>) {
        register(&self.read, cx);
    }

    fn register_write(&self, cx: &Context<'_>) {
        register(&self.write, cx);
    }
}

fn register(slot: &Mutex<Option<Waker>>, cx: &Context<'_>) {
    // A panic elsewhere cannot leave an `Option<Waker>` half written.
    let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
    match &mut *slot {
        Some(waker) if waker.will_wake(cx.waker()) => {}
        slot => *slot = Some(cx.waker().clone()),
    }
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        for slot in [&self.read, &self.write] {
            let waker = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(waker) = waker {
                waker.wake();
            }
        }
    }
}

/// An async stream as the blocking-style `Read + Write` tungstenite
/// drives: polled with the [`Wakers`] waker, "pending" becomes
/// `WouldBlock`.
struct Compat<S> {
    inner: S,
    wakers: Arc<Wakers>,
    waker: Waker,
}

impl<S> Compat<S> {
    fn new(inner: S) -> (Self, Arc<Wakers>) {
        let wakers = Arc::new(Wakers::default());
        let waker = Waker::from(Arc::clone(&wakers));
        let compat = Self {
            inner,
            wakers: Arc::clone(&wakers),
            waker,
        };
        (compat, wakers)
    }

    fn poll<T>(
        &mut self,
        op: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> io::Result<T>
    where
        S: Unpin,
    {
        let mut cx = Context::from_waker(&self.waker);
        match op(Pin::new(&mut self.inner), &mut cx) {
            Poll::Ready(result) => result,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl<S: AsyncRead + Unpin> Read for Compat<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.poll(|inner, cx| {
            let mut buf = ReadBuf::new(buf);
            match inner.poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
                Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
                Poll::Pending => Poll::Pending,
            }
        })
    }
}

impl<S: AsyncWrite + Unpin> Write for Compat<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.poll(|inner, cx| inner.poll_write(cx, buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.poll(|inner, cx| inner.poll_flush(cx))
    }
}

impl<S> fmt::Debug for Compat<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compat").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(protocols: &[&str]) -> Request {
        let mut request = Request::new(());
        for p in protocols {
            request.headers_mut().append(
                header::SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_str(p).unwrap(),
            );
        }
        request
    }

    #[test]
    fn mqtt_is_found_in_any_protocol_header() {
        assert!(offers_mqtt(&request(&["mqtt"])));
        assert!(offers_mqtt(&request(&["mqttv3.1, mqtt"])));
        assert!(offers_mqtt(&request(&["chat", "wamp,mqtt"])));
        assert!(!offers_mqtt(&request(&[])));
        assert!(!offers_mqtt(&request(&["mqttv3.1", "MQTT5"])));
    }
}
