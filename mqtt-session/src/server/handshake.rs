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
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Connect, Encoder, Incoming, MqttString, ProtocolVersion};
    /// # let connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # let mut bytes = BytesMut::new();
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// // `bytes`: a CONNECT, arriving in two reads.
    /// let mut received = BytesMut::from(&bytes[..5]);
    /// assert!(Incoming::read(&mut received, None)?.is_none()); // more bytes needed
    /// received.extend_from_slice(&bytes[5..]);
    /// let incoming = Incoming::read(&mut received, Some(64 * 1024))?.expect("a whole CONNECT");
    /// assert_eq!(incoming.client_id().as_str(), "sensor-7");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```
    /// # use mqttkit_session::bytes::{Bytes, BytesMut};
    /// # use mqttkit_session::{Connect, Encoder, Incoming, MqttString, ProtocolVersion};
    /// # let mut connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # connect.login.username = Some(MqttString::try_from("alice")?);
    /// # connect.login.password = Some(Bytes::from_static(b"secret"));
    /// # let mut received = BytesMut::new();
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut received)?;
    /// # let incoming = Incoming::read(&mut received, None)?.expect("a whole CONNECT");
    /// let login = &incoming.connect().login;
    /// let user = login.username.as_ref().map(|u| u.as_str());
    /// let password_ok = login.password.as_deref() == Some(&b"secret"[..]);
    /// assert!(user == Some("alice") && password_ok); // accept, else refuse with 0x86
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(&self) -> &Connect {
        &self.connect
    }

    /// The protocol version the client speaks.
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Connect, Encoder, Incoming, MqttString, ProtocolVersion};
    /// # let connect = Connect::new(ProtocolVersion::V3_1_1, MqttString::try_from("sensor-7")?);
    /// # let mut received = BytesMut::new();
    /// # Encoder::new(ProtocolVersion::V3_1_1).encode(&connect.into(), &mut received)?;
    /// # let incoming = Incoming::read(&mut received, None)?.expect("a whole CONNECT");
    /// assert_eq!(incoming.version(), ProtocolVersion::V3_1_1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn version(&self) -> ProtocolVersion {
        self.connect.protocol_version
    }

    /// The client identifier (an assigned one once [`Incoming::assign_client_id`] succeeded).
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use std::collections::HashMap;
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, Server, ServerConfig};
    /// # let connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # let mut received = BytesMut::new();
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut received)?;
    /// # let incoming = Incoming::read(&mut received, None)?.expect("a whole CONNECT");
    /// # let now = Instant::ZERO;
    /// // Sessions by client identifier, kept while they have not expired.
    /// let mut sessions: HashMap<MqttString, Server> = HashMap::new();
    /// let existing = sessions.remove(incoming.client_id());
    /// let server = incoming.accept(now, existing, ServerConfig::default()).expect("accepted");
    /// sessions.insert(server.client_id().clone(), server);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn client_id(&self) -> &MqttString {
        &self.connect.client_id
    }

    /// Gives a client that sent an empty identifier one of ours. Refused
    /// with the code to pass to [`Incoming::refuse`] where the version
    /// forbids it: in 3.1.1 only with CleanSession 1 (v3.1.1
    /// [MQTT-3.1.3-7], [MQTT-3.1.3-8]), never in 3.1 (identifiers of 1 to
    /// 23 characters). In 5.0 CONNACK carries it (v5 [MQTT-3.2.2-16]).
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerConfig};
    /// # let connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("")?);
    /// # let mut received = BytesMut::new();
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut received)?;
    /// # let mut incoming = Incoming::read(&mut received, None)?.expect("a whole CONNECT");
    /// # let now = Instant::ZERO;
    /// assert!(incoming.client_id().is_empty()); // the client asks for one
    /// incoming.assign_client_id(MqttString::try_from("auto-4f2a")?).expect("5.0 allows it");
    /// let server = incoming.accept(now, None, ServerConfig::default()).expect("accepted");
    /// assert_eq!(server.client_id().as_str(), "auto-4f2a"); // CONNACK carries it
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```
    /// # use mqttkit_session::bytes::{Bytes, BytesMut};
    /// # use mqttkit_session::{Connect, Encoder, Incoming, MqttString, ProtocolVersion};
    /// # let mut connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # connect.properties.authentication_method = Some(MqttString::try_from("SCRAM-SHA-256")?);
    /// # connect.properties.authentication_data = Some(Bytes::from_static(b"client-first"));
    /// # let mut received = BytesMut::new();
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut received)?;
    /// # let incoming = Incoming::read(&mut received, None)?.expect("a whole CONNECT");
    /// // The CONNECT asks for SCRAM-SHA-256 with the client's first message.
    /// let reply = incoming.challenge(Some(Bytes::from_static(b"server-first"))).expect("a method");
    /// assert_eq!((reply[0], reply[2]), (0xF0, 0x18)); // AUTH Continue authentication: write it
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```
    /// # use mqttkit_session::bytes::{Bytes, BytesMut};
    /// # use mqttkit_session::{Auth, AuthReasonCode, Connect, Encoder, Incoming, MqttString, ProtocolVersion};
    /// # let mut connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # connect.properties.authentication_method = Some(MqttString::try_from("SCRAM-SHA-256")?);
    /// # connect.properties.authentication_data = Some(Bytes::from_static(b"client-first"));
    /// # let mut received = BytesMut::new();
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut received)?;
    /// # let mut incoming = Incoming::read(&mut received, None)?.expect("a whole CONNECT");
    /// # let mut auth = Auth::new(AuthReasonCode::ContinueAuthentication);
    /// # auth.properties.authentication_method = Some(MqttString::try_from("SCRAM-SHA-256")?);
    /// # auth.properties.authentication_data = Some(Bytes::from_static(b"client-final"));
    /// # Encoder::new(ProtocolVersion::V5).encode(&auth.into(), &mut received)?;
    /// // The client answered the challenge; `received` holds its bytes.
    /// let auth = incoming.read_auth(&mut received).expect("same method").expect("a whole AUTH");
    /// assert_eq!(auth.properties.authentication_data.as_deref(), Some(&b"client-final"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```
    /// # use mqttkit_session::bytes::{Bytes, BytesMut};
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, Packet, ProtocolVersion, ServerConfig};
    /// # let mut connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # connect.properties.authentication_method = Some(MqttString::try_from("SCRAM-SHA-256")?);
    /// # connect.properties.authentication_data = Some(Bytes::from_static(b"client-first"));
    /// # let mut received = BytesMut::new();
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut received)?;
    /// # let mut incoming = Incoming::read(&mut received, None)?.expect("a whole CONNECT");
    /// # let now = Instant::ZERO;
    /// // The client proved who it is: the last step goes in CONNACK.
    /// incoming.set_auth_data(Bytes::from_static(b"server-final"));
    /// let mut server = incoming.accept(now, None, ServerConfig::default()).expect("accepted");
    /// # let mut out = BytesMut::new();
    /// # while server.poll_transmit(&mut out).is_some() {}
    /// # let Packet::ConnAck(connack) = Packet::decode(&out, ProtocolVersion::V5)? else { unreachable!() };
    /// assert_eq!(connack.properties.authentication_data.as_deref(), Some(&b"server-final"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_auth_data(&mut self, data: Bytes) {
        self.auth_data = Some(data);
    }

    /// Refuses the connection: the CONNACK to write before closing, with
    /// `code` in 5.0 and its return code in 3.1/3.1.1 (a 5.0-only code is
    /// mapped to the nearest: 0x02 identifier, 0x04 credentials, 0x05 not
    /// authorized, 0x03 otherwise). Session Present is 0
    /// (v5 [MQTT-3.2.2-6], v3.1.1 [MQTT-3.2.2-4]).
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Connect, ConnectReasonCode, Encoder, Incoming, MqttString, ProtocolVersion};
    /// # let connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// # let mut received = BytesMut::new();
    /// # Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut received)?;
    /// # let incoming = Incoming::read(&mut received, None)?.expect("a whole CONNECT");
    /// let reply = incoming.refuse(ConnectReasonCode::BadUserNameOrPassword);
    /// assert_eq!(&reply[..], [0x20, 0x03, 0x00, 0x86, 0x00]); // CONNACK 0x86: write it, then close
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```
    /// # use mqttkit_session::bytes::BytesMut;
    /// # use mqttkit_session::{Connect, Encoder, Incoming, Instant, MqttString, ProtocolVersion, ServerConfig};
    /// # let read = |clean_start: bool| -> Result<Incoming, Box<dyn std::error::Error>> {
    /// #     let mut connect = Connect::new(ProtocolVersion::V5, MqttString::try_from("sensor-7")?);
    /// #     connect.clean_start = clean_start;
    /// #     connect.properties.session_expiry_interval = Some(3600);
    /// #     let mut bytes = BytesMut::new();
    /// #     Encoder::new(ProtocolVersion::V5).encode(&connect.into(), &mut bytes)?;
    /// #     Ok(Incoming::read(&mut bytes, None)?.expect("a whole CONNECT"))
    /// # };
    /// # let now = Instant::ZERO;
    /// // `read(clean_start)`: an `Incoming` whose CONNECT has a Session Expiry of an hour.
    /// let config = ServerConfig::default();
    /// let mut server = read(true)?.accept(now, None, config.clone()).expect("accepted");
    /// server.handle_transport_closed(now); // the session stays
    /// // The client connects again with Clean Start 0: its session is resumed.
    /// let mut server = read(false)?.accept(now, Some(server), config).expect("accepted");
    /// let mut out = BytesMut::new();
    /// while server.poll_transmit(&mut out).is_some() {}
    /// assert_eq!(out[2], 0x01); // CONNACK with Session Present
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
