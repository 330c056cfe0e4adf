//! MQTT over WebSocket (v5 §6.0, v3.1.1 §6): the WebSocket is bridged to a
//! plain byte stream, so MQTT framing stays where it is for TCP.
//!
//! The bridge copies the payload of each binary message into the stream
//! and each chunk read from the stream into one binary message. Packet
//! and message boundaries are unrelated on purpose: a message may hold
//! several packets or part of one, and the receiver must not assume they
//! line up (v5 and v3.1.1 [MQTT-6.0.0-2]).

use std::error::Error;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, header};
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{Message, WebSocketConfig};

type BoxError = Box<dyn Error + Send + Sync>;

/// The subprotocol name of MQTT over WebSocket ([MQTT-6.0.0-3],
/// [MQTT-6.0.0-4]).
pub const SUBPROTOCOL: &str = "mqtt";

/// Bytes buffered between the WebSocket and the MQTT code, each way.
const BRIDGE_BUFFER: usize = 64 * 1024;

/// Bounds what the server can make us buffer: the largest message is a
/// bit above the Maximum Packet Size, since a message may carry the end of
/// one packet and the start of the next.
fn config(max_message: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}

/// The client side of the opening handshake to `url` (`ws://` or `wss://`,
/// over the TCP or TLS `stream` already open to its host), offering `mqtt`
/// as a client must [MQTT-6.0.0-3], and checking that the server selected
/// it [MQTT-6.0.0-4].
pub async fn connect<S>(url: &str, stream: S, max_message: usize) -> Result<DuplexStream, BoxError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut request = url.into_client_request()?;
    request.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(SUBPROTOCOL),
    );
    let (ws, response) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(config(max_message)))
            .await?;
    let selected = response.headers().get(header::SEC_WEBSOCKET_PROTOCOL);
    if selected.and_then(|v| v.to_str().ok()) != Some(SUBPROTOCOL) {
        return Err(format!("{url}: the server did not select subprotocol mqtt").into());
    }
    Ok(bridge(ws))
}

/// Spawns the task that moves bytes between `ws` and the returned stream.
/// It ends when either side closes; dropping its end of the duplex tells
/// the MQTT code that the connection is gone.
fn bridge<S>(ws: WebSocketStream<S>) -> DuplexStream
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mqtt_side, ws_side) = tokio::io::duplex(BRIDGE_BUFFER);
    tokio::spawn(run_bridge(ws, ws_side));
    mqtt_side
}

async fn run_bridge<S>(mut ws: WebSocketStream<S>, mut bytes: DuplexStream)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut buf = vec![0u8; BRIDGE_BUFFER];
    loop {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Binary(payload))) => {
                    if bytes.write_all(&payload).await.is_err() {
                        let _ = ws.close(None).await;
                        return;
                    }
                }
                // MQTT Control Packets travel in binary frames only; any
                // other data frame closes the connection [MQTT-6.0.0-1].
                Some(Ok(Message::Text(_))) => {
                    let _ = ws
                        .close(Some(CloseFrame {
                            code: CloseCode::Unsupported,
                            reason: "MQTT needs binary frames".into(),
                        }))
                        .await;
                    return;
                }
                // tungstenite answers pings itself.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
            },
            read = bytes.read(&mut buf) => match read {
                Ok(0) | Err(_) => {
                    let _ = ws.close(None).await;
                    return;
                }
                Ok(n) => {
                    let chunk = buf.get(..n).unwrap_or_default();
                    if ws.send(Message::binary(chunk.to_vec())).await.is_err() {
                        return;
                    }
                }
            },
        }
    }
}
