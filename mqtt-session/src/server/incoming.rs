//! Accepting connections: the first packet, inspected before a session is
//! chosen (quinn-proto's `Incoming`, EMQX's `emqx_channel` CONNECT phase).

use bytes::{Bytes, BytesMut};
use mqttkit_codec::{
    Auth, AuthReasonCode, ConnAck, Connect, ConnectReasonCode, DecodeError, Decoded, Decoder,
    MqttString, Packet, ProtocolVersion,
};

use super::{Server, ServerConfig};
use crate::time::Instant;

/// A connection whose CONNECT arrived and that is neither accepted nor
/// refused yet. Inspect [`Incoming::connect`] (client identifier, Clean
/// Start, will, credentials, authentication method, limits), then
/// [`Incoming::accept`] or [`Incoming::refuse`].
#[derive(Debug)]
pub struct Incoming {
    connect: Connect,
    decoder: Decoder,
    assigned: bool,
    auth_data: Option<Bytes>,
}

/// The first bytes of a connection could not be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("connection not accepted: {error}")]
#[non_exhaustive]
pub struct IncomingError {
    /// What was wrong.
    pub error: IncomingErrorKind,
    /// A CONNACK to write before closing, when the version allows one.
    pub reply: Option<Bytes>,
}

/// What was wrong with the first packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IncomingErrorKind {
    /// The codec refused it; the error names the rule.
    #[error("{0}")]
    Malformed(DecodeError),
    /// The first packet is not CONNECT (v5 [MQTT-3.1.0-1], v3.1.1 [MQTT-3.1.0-1]).
    #[error("the first packet is not CONNECT, [MQTT-3.1.0-1]")]
    NotConnect,
}

/// A refused connection: the CONNACK to write before closing, and the
/// session the application offered, given back untouched.
#[derive(Debug)]
#[non_exhaustive]
pub struct Refused {
    /// The code as refused (for 3.1/3.1.1 written as its return code).
    pub code: ConnectReasonCode,
    /// The CONNACK bytes.
    pub reply: Bytes,
    /// The session passed to [`Incoming::accept`], if any.
    pub session: Option<alloc::boxed::Box<Server>>,
}

impl Incoming {
    /// Reads the first packet from `buf` (bytes after it stay in `buf`
    /// for [`Server::handle_bytes`]). `Ok(None)`: more bytes are needed.
    /// `max_packet_size` bounds the CONNECT as our Maximum Packet Size will.
    pub fn read(
        buf: &mut BytesMut,
        max_packet_size: Option<u32>,
    ) -> Result<Option<Self>, IncomingError> {
        let mut decoder = Decoder::new(ProtocolVersion::V3_1_1);
        if let Some(max) = max_packet_size {
            decoder = decoder.with_max_packet_size(max);
        }
        let level = peek_level(buf);
        match decoder.decode(buf) {
            Ok(Decoded::Incomplete { .. }) => Ok(None),
            Ok(Decoded::Packet(Packet::Connect(connect))) => Ok(Some(Self {
                connect: *connect,
                decoder,
                assigned: false,
                auth_data: None,
            })),
            Ok(Decoded::Packet(_)) => Err(IncomingError {
                error: IncomingErrorKind::NotConnect,
                reply: None,
            }),
            Err(err) => Err(IncomingError {
                error: IncomingErrorKind::Malformed(err),
                reply: connect_error_reply(err, level),
            }),
        }
    }

    /// The CONNECT.
    pub fn connect(&self) -> &Connect {
        &self.connect
    }

    /// The protocol version the client speaks.
    pub fn version(&self) -> ProtocolVersion {
        self.connect.protocol_version
    }

    /// The client identifier (an assigned one once [`Incoming::assign_client_id`] succeeded).
    pub fn client_id(&self) -> &MqttString {
        &self.connect.client_id
    }

    /// Gives a client that sent an empty identifier one of ours. Refused
    /// with the code to pass to [`Incoming::refuse`] where the version
    /// forbids it: in 3.1.1 only with CleanSession 1 (v3.1.1
    /// [MQTT-3.1.3-7], [MQTT-3.1.3-8]), never in 3.1 (identifiers of 1 to
    /// 23 characters). In 5.0 CONNACK carries it (v5 [MQTT-3.2.2-16]).
    pub fn assign_client_id(&mut self, id: MqttString) -> Result<(), ConnectReasonCode> {
        let allowed = match self.connect.protocol_version {
            ProtocolVersion::V3_1 => false,
            ProtocolVersion::V3_1_1 => self.connect.clean_start,
            ProtocolVersion::V5 => true,
        };
        if !allowed || id.is_empty() {
            return Err(ConnectReasonCode::ClientIdentifierNotValid);
        }
        self.connect.client_id = id;
        self.assigned = true;
        Ok(())
    }

    /// Continues enhanced authentication (v5 §4.12): the AUTH 0x18 to
    /// write, with the CONNECT's Authentication Method. `None` when the
    /// CONNECT had no method (5.0 only).
    pub fn challenge(&self, data: Option<Bytes>) -> Option<Bytes> {
        let method = self.connect.properties.authentication_method.clone()?;
        let mut auth = Auth::new(AuthReasonCode::ContinueAuthentication);
        auth.properties.authentication_method = Some(method);
        auth.properties.authentication_data = data;
        let mut out = BytesMut::new();
        Packet::from(auth)
            .encode(ProtocolVersion::V5, &mut out)
            .ok()?;
        Some(out.freeze())
    }

    /// Reads the client's AUTH answer to a [`Incoming::challenge`].
    /// Anything but AUTH with the same method breaks v5 [MQTT-4.12.0-1]
    /// / [MQTT-4.12.0-5]: refuse with the returned code.
    pub fn read_auth(&mut self, buf: &mut BytesMut) -> Result<Option<Auth>, ConnectReasonCode> {
        match self.decoder.decode(buf) {
            Ok(Decoded::Incomplete { .. }) => Ok(None),
            Ok(Decoded::Packet(Packet::Auth(auth)))
                if auth.reason_code == AuthReasonCode::ContinueAuthentication
                    && auth.properties.authentication_method
                        == self.connect.properties.authentication_method =>
            {
                Ok(Some(*auth))
            }
            Ok(Decoded::Packet(_)) => Err(ConnectReasonCode::ProtocolError),
            Err(err) => Err(ConnectReasonCode::try_from(err.reason_code())
                .unwrap_or(ConnectReasonCode::MalformedPacket)),
        }
    }

    /// Authentication Data for the CONNACK that ends enhanced authentication.
    pub fn set_auth_data(&mut self, data: Bytes) {
        self.auth_data = Some(data);
    }

    /// Refuses the connection: the CONNACK to write before closing, with
    /// `code` in 5.0 and its return code in 3.1/3.1.1 (a 5.0-only code is
    /// mapped to the nearest: 0x02 identifier, 0x04 credentials, 0x05 not
    /// authorized, 0x03 otherwise). Session Present is 0
    /// (v5 [MQTT-3.2.2-6], v3.1.1 [MQTT-3.2.2-4]).
    pub fn refuse(self, code: ConnectReasonCode) -> Bytes {
        refusal(self.connect.protocol_version, code)
    }

    /// Accepts the connection with `session` (the client's existing one,
    /// taken from wherever the application keeps sessions) or a new one.
    ///
    /// Clean Start discards `session` (v5 [MQTT-3.1.2-4], v3.1.1
    /// [MQTT-3.1.2-6]); otherwise it is resumed and Session Present is set
    /// (v5 [MQTT-3.2.2-2], [MQTT-3.2.2-3], v3.1.1 [MQTT-3.2.2-1],
    /// [MQTT-3.2.2-2]). A still-connected `session` is taken over: call
    /// [`Server::take_over`] first to flush its DISCONNECT 0x8E. An empty
    /// client identifier that was not assigned is refused (0x85 / 0x02).
    /// In 5.0 a will the `config` cannot publish is refused: Will QoS above
    /// [`ServerConfig::maximum_qos`] with 0x9B (v5 [MQTT-3.2.2-12]), Will
    /// Retain without [`ServerConfig::retain_available`] with 0x9A (v5
    /// [MQTT-3.2.2-13]).
    pub fn accept(
        self,
        now: Instant,
        session: Option<Server>,
        config: ServerConfig,
    ) -> Result<Server, Refused> {
        let refused = if self.connect.client_id.is_empty() {
            Some(ConnectReasonCode::ClientIdentifierNotValid)
        } else {
            self.will_refusal(&config)
        };
        if let Some(code) = refused {
            return Err(Refused {
                code,
                reply: refusal(self.version(), code),
                session: session.map(alloc::boxed::Box::new),
            });
        }
        Ok(Server::accepted(
            now,
            self.connect,
            self.decoder,
            self.assigned,
            self.auth_data,
            session,
            config,
        ))
    }

    /// The code refusing a 5.0 will the server cannot publish as asked.
    fn will_refusal(&self, config: &ServerConfig) -> Option<ConnectReasonCode> {
        let will = self
            .connect
            .will
            .as_ref()
            .filter(|_| self.connect.protocol_version.is_v5())?;
        if will.qos > config.maximum_qos {
            Some(ConnectReasonCode::QoSNotSupported)
        } else if will.retain && !config.retain_available {
            Some(ConnectReasonCode::RetainNotSupported)
        } else {
            None
        }
    }
}

/// The protocol level byte of a CONNECT at the front of `buf`, if present.
fn peek_level(buf: &[u8]) -> Option<u8> {
    // Fixed header: type byte and 1-4 length bytes; then the protocol name.
    let mut i = 1usize;
    while *buf.get(i)? & 0x80 != 0 {
        i = i.checked_add(1)?;
    }
    let name_at = i.checked_add(1)?;
    let name_len = usize::from(u16::from_be_bytes([
        *buf.get(name_at)?,
        *buf.get(name_at.checked_add(1)?)?,
    ]));
    buf.get(name_at.checked_add(2)?.checked_add(name_len)?)
        .copied()
}

/// The CONNACK for a CONNECT the codec refused: an unknown level gets the
/// 3.1.1 code 0x01 (v3.1.1 [MQTT-3.1.2-2]; v5 [MQTT-3.1.2-2] allows it),
/// a broken 5.0 CONNECT its reason code (v5 §4.13.1); a broken 3.1.1 one
/// only a close (v3.1.1 [MQTT-4.8.0-1]). A protocol name other than
/// `MQTT` / `MQIsdp` gets no CONNACK either: the peer is not known to speak
/// MQTT, and 3.1.1 forbids going on "in line with this specification"
/// (v3.1.1 [MQTT-3.1.2-1]; v5 [MQTT-3.1.2-1] makes the CONNACK a MAY).
fn connect_error_reply(err: DecodeError, level: Option<u8>) -> Option<Bytes> {
    match err {
        DecodeError::InvalidProtocolName => None,
        DecodeError::UnsupportedProtocolLevel(_) => Some(refusal(
            ProtocolVersion::V3_1_1,
            ConnectReasonCode::UnsupportedProtocolVersion,
        )),
        _ if level == Some(5) => {
            let code = ConnectReasonCode::try_from(err.reason_code())
                .unwrap_or(ConnectReasonCode::MalformedPacket);
            Some(refusal(ProtocolVersion::V5, code))
        }
        _ => None,
    }
}

pub(crate) fn refusal(version: ProtocolVersion, code: ConnectReasonCode) -> Bytes {
    let code = if version.is_v5() || code.v3_return_code().is_some() {
        code
    } else {
        match code {
            ConnectReasonCode::Banned | ConnectReasonCode::BadAuthenticationMethod => {
                ConnectReasonCode::NotAuthorized
            }
            _ => ConnectReasonCode::ServerUnavailable,
        }
    };
    let mut out = BytesMut::new();
    // A refusal with a code valid for the version always encodes.
    let _ = Packet::from(ConnAck::new(false, code)).encode(version, &mut out);
    out.freeze()
}
