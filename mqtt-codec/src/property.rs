//! MQTT 5.0 properties (v5 §2.2.2): the identifier table, which packet may
//! carry which property, and one parser and one writer for all of them.
//!
//! A property block is checked completely when it is decoded: every
//! identifier known and allowed in its packet, no forbidden repetition,
//! every value in range and every string valid. Single-valued properties are
//! then stored as typed fields; the repeatable ones (User Property, and
//! Subscription Identifier in PUBLISH) stay as a zero-copy view of the block
//! that is iterated lazily, so decoding allocates nothing however many there are.
//! PUBLISH keeps its byte-valued properties in the block too, to stay small
//! (see `publish`).

use core::fmt;
use core::num::{NonZeroU16, NonZeroU32};

use bytes::{BufMut, Bytes};
use mqttkit_topic::TopicName;

use crate::coding::{
    MAX_VARIABLE_BYTE_INTEGER, PResult, end_of_input, length_prefixed, put_length_prefixed,
    put_var_int, sum, var_int, var_int_len,
};
use crate::error::{DecodeError, EncodeError, InvalidPacket};
use crate::header::PacketType;
use crate::types::{MAX_STRING_LEN, MqttString, QoS, validate_string};

/// `for_each_property` and `is_empty` for a property set, defined here, before
/// `mod publish`, so the hand-written PUBLISH set shares them with the sets
/// `property_set!` generates.
macro_rules! reading_methods {
    ($name:ident, $order:literal) => {
        impl $name {
            /// Calls `f` with every property that is set,
            #[doc = $order]
            /// It allocates nothing.
            pub fn for_each_property(&self, mut f: impl FnMut(PropertyId, PropertyValue<'_>)) {
                PropertySet::for_each(self, &mut |id, raw| f(id, PropertyValue::from(raw)));
            }

            /// Whether no property is set.
            pub fn is_empty(&self) -> bool {
                let mut empty = true;
                PropertySet::for_each(self, &mut |_, _| empty = false);
                empty
            }
        }
    };
}

mod publish;
pub use publish::PublishProperties;

macro_rules! property_ids {
    ($($variant:ident = $id:literal, $kind:ident, $text:literal;)+) => {
        /// The 27 property identifiers of MQTT 5.0 (v5 §2.2.2.2, Table 2-4).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum PropertyId {
            $(#[doc = $text] $variant = $id,)+
        }

        impl PropertyId {
            /// The property for an identifier, if MQTT 5.0 defines it.
            pub const fn from_u8(id: u8) -> Option<Self> {
                match id {
                    $($id => Some(Self::$variant),)+
                    _ => None,
                }
            }

            /// Every property, in identifier order.
            pub const ALL: [PropertyId; 27] = [$(Self::$variant,)+];

            const fn kind(self) -> Kind {
                match self {
                    $(Self::$variant => Kind::$kind,)+
                }
            }
        }
    };
}

property_ids! {
    PayloadFormatIndicator = 0x01, Byte, "Payload Format Indicator (Byte)";
    MessageExpiryInterval = 0x02, Four, "Message Expiry Interval (Four Byte Integer)";
    ContentType = 0x03, Str, "Content Type (UTF-8 String)";
    ResponseTopic = 0x08, Str, "Response Topic (UTF-8 String)";
    CorrelationData = 0x09, Bin, "Correlation Data (Binary Data)";
    SubscriptionIdentifier = 0x0B, Var, "Subscription Identifier (Variable Byte Integer)";
    SessionExpiryInterval = 0x11, Four, "Session Expiry Interval (Four Byte Integer)";
    AssignedClientIdentifier = 0x12, Str, "Assigned Client Identifier (UTF-8 String)";
    ServerKeepAlive = 0x13, Two, "Server Keep Alive (Two Byte Integer)";
    AuthenticationMethod = 0x15, Str, "Authentication Method (UTF-8 String)";
    AuthenticationData = 0x16, Bin, "Authentication Data (Binary Data)";
    RequestProblemInformation = 0x17, Byte, "Request Problem Information (Byte)";
    WillDelayInterval = 0x18, Four, "Will Delay Interval (Four Byte Integer)";
    RequestResponseInformation = 0x19, Byte, "Request Response Information (Byte)";
    ResponseInformation = 0x1A, Str, "Response Information (UTF-8 String)";
    ServerReference = 0x1C, Str, "Server Reference (UTF-8 String)";
    ReasonString = 0x1F, Str, "Reason String (UTF-8 String)";
    ReceiveMaximum = 0x21, Two, "Receive Maximum (Two Byte Integer)";
    TopicAliasMaximum = 0x22, Two, "Topic Alias Maximum (Two Byte Integer)";
    TopicAlias = 0x23, Two, "Topic Alias (Two Byte Integer)";
    MaximumQoS = 0x24, Byte, "Maximum QoS (Byte)";
    RetainAvailable = 0x25, Byte, "Retain Available (Byte)";
    UserProperty = 0x26, Pair, "User Property (UTF-8 String Pair)";
    MaximumPacketSize = 0x27, Four, "Maximum Packet Size (Four Byte Integer)";
    WildcardSubscriptionAvailable = 0x28, Byte, "Wildcard Subscription Available (Byte)";
    SubscriptionIdentifierAvailable = 0x29, Byte, "Subscription Identifier Available (Byte)";
    SharedSubscriptionAvailable = 0x2A, Byte, "Shared Subscription Available (Byte)";
}

impl PropertyId {
    const fn bit(self) -> u64 {
        1 << (self as u8)
    }
}

/// Wire representation of a property value (v5 §1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Byte,
    Two,
    Four,
    Var,
    Str,
    Bin,
    Pair,
}

/// A property value as it sits in the block, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawValue<'a> {
    Byte(u8),
    Two(u16),
    Four(u32),
    Var(u32),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Pair(&'a [u8], &'a [u8]),
}

impl RawValue<'_> {
    /// Bytes the value takes, or an error when a field cannot be encoded.
    #[inline]
    fn encoded_len(&self, id: PropertyId) -> Result<usize, EncodeError> {
        let too_long = |data: &[u8]| data.len() > MAX_STRING_LEN;
        Ok(match *self {
            // v5 §3.2.2.3.4: "It is a Protocol Error to ... have a value
            // other than 0 or 1"; absent means 2.
            Self::Byte(v) if id == PropertyId::MaximumQoS && v > 1 => {
                return Err(EncodeError::ValueOutOfRange(id));
            }
            Self::Byte(_) => 1,
            Self::Two(_) => 2,
            Self::Four(_) => 4,
            Self::Var(v) if v > MAX_VARIABLE_BYTE_INTEGER || v == 0 => {
                return Err(EncodeError::ValueOutOfRange(id));
            }
            Self::Var(v) => var_int_len(v),
            Self::Str(s) if too_long(s) => return Err(EncodeError::InvalidString),
            Self::Bin(b) if too_long(b) => return Err(EncodeError::BinaryTooLong),
            Self::Str(s) | Self::Bin(s) => sum([2, s.len()]),
            Self::Pair(k, v) if too_long(k) || too_long(v) => {
                return Err(EncodeError::InvalidString);
            }
            Self::Pair(k, v) => sum([4, k.len(), v.len()]),
        })
    }

    /// Writes the property: its identifier (one byte for every MQTT 5.0
    /// property) and then the value.
    #[inline]
    fn put_property(&self, id: PropertyId, buf: &mut impl BufMut) {
        buf.put_u8(id as u8);
        self.put(buf);
    }

    #[inline]
    fn put(&self, buf: &mut impl BufMut) {
        match *self {
            Self::Byte(v) => buf.put_u8(v),
            Self::Two(v) => buf.put_u16(v),
            Self::Four(v) => buf.put_u32(v),
            Self::Var(v) => put_var_int(buf, v),
            Self::Str(s) | Self::Bin(s) => put_length_prefixed(buf, s),
            Self::Pair(k, v) => {
                put_length_prefixed(buf, k);
                put_length_prefixed(buf, v);
            }
        }
    }
}

/// A property value, borrowed, as [`ConnectProperties::for_each_property`]
/// and its siblings hand it out (for logging and inspection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PropertyValue<'a> {
    /// A Byte.
    Byte(u8),
    /// A Two Byte Integer.
    TwoByteInteger(u16),
    /// A Four Byte Integer.
    FourByteInteger(u32),
    /// A Variable Byte Integer.
    VariableByteInteger(u32),
    /// A UTF-8 Encoded String.
    String(&'a str),
    /// Binary Data.
    Binary(&'a [u8]),
    /// A UTF-8 String Pair.
    StringPair(&'a str, &'a str),
}

impl<'a> From<RawValue<'a>> for PropertyValue<'a> {
    fn from(raw: RawValue<'a>) -> Self {
        fn text(b: &[u8]) -> &str {
            core::str::from_utf8(b).unwrap_or_default()
        }
        match raw {
            RawValue::Byte(v) => Self::Byte(v),
            RawValue::Two(v) => Self::TwoByteInteger(v),
            RawValue::Four(v) => Self::FourByteInteger(v),
            RawValue::Var(v) => Self::VariableByteInteger(v),
            RawValue::Str(s) => Self::String(text(s)),
            RawValue::Bin(b) => Self::Binary(b),
            RawValue::Pair(k, v) => Self::StringPair(text(k), text(v)),
        }
    }
}

impl fmt::Display for PropertyValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Byte(v) => write!(f, "{v}"),
            Self::TwoByteInteger(v) => write!(f, "{v}"),
            Self::FourByteInteger(v) | Self::VariableByteInteger(v) => write!(f, "{v}"),
            Self::String(s) => write!(f, "{s:?}"),
            Self::Binary(b) => {
                f.write_str("0x")?;
                b.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
            }
            Self::StringPair(k, v) => write!(f, "{k:?}={v:?}"),
        }
    }
}

/// Parses one property (identifier and value) without judging it.
///
/// By hand with slice operations: it runs once per property on every
/// decode, and there the `nom` combinators cost more than the property.
#[inline(always)]
fn raw_property(input: &[u8]) -> PResult<'_, (PropertyId, RawValue<'_>)> {
    // Every identifier of MQTT 5.0 fits in one byte of a variable byte
    // integer; a longer one is read whole and refused as unknown.
    let (id, input) = match input.split_first() {
        Some((&id, rest)) if id < 0x80 => (u32::from(id), rest),
        _ => {
            let (rest, id) = var_int(input)?;
            (id, rest)
        }
    };
    let Some(id) = u8::try_from(id).ok().and_then(PropertyId::from_u8) else {
        return Err(nom::Err::Failure(DecodeError::UnknownProperty(id)));
    };
    let value = match id.kind() {
        Kind::Byte => input
            .split_first()
            .map(|(&v, rest)| (rest, RawValue::Byte(v))),
        Kind::Two => input
            .split_first_chunk::<2>()
            .map(|(v, rest)| (rest, RawValue::Two(u16::from_be_bytes(*v)))),
        Kind::Four => input
            .split_first_chunk::<4>()
            .map(|(v, rest)| (rest, RawValue::Four(u32::from_be_bytes(*v)))),
        Kind::Var => Some(var_int(input).map(|(rest, v)| (rest, RawValue::Var(v)))?),
        Kind::Str => Some(length_prefixed(input).map(|(rest, v)| (rest, RawValue::Str(v)))?),
        Kind::Bin => Some(length_prefixed(input).map(|(rest, v)| (rest, RawValue::Bin(v)))?),
        Kind::Pair => {
            let (input, key) = length_prefixed(input)?;
            let (input, value) = length_prefixed(input)?;
            Some((input, RawValue::Pair(key, value)))
        }
    };
    let (rest, value) = value.ok_or_else(end_of_input)?;
    Ok((rest, (id, value)))
}

/// Iterates the properties of a block that was validated when decoded.
#[derive(Clone)]
struct RawProperties<'a>(&'a [u8]);

impl<'a> Iterator for RawProperties<'a> {
    type Item = (PropertyId, RawValue<'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        // The block was validated, so an error cannot happen; stop if it does.
        let (rest, item) = raw_property(self.0).ok()?;
        self.0 = rest;
        Some(item)
    }
}

/// A typed property value: how it is read from and written to the wire.
pub(crate) trait TypedValue: Sized {
    fn from_raw(id: PropertyId, raw: RawValue<'_>, frame: &Bytes) -> Result<Self, DecodeError>;
    /// The checks of `from_raw`, without building the value.
    fn check(id: PropertyId, raw: RawValue<'_>) -> Result<(), DecodeError>;
    fn to_raw(&self, id: PropertyId) -> RawValue<'_>;
}

fn invalid<T>(id: PropertyId) -> Result<T, DecodeError> {
    Err(DecodeError::InvalidPropertyValue(id))
}

impl TypedValue for bool {
    fn check(id: PropertyId, raw: RawValue<'_>) -> Result<(), DecodeError> {
        // A scalar never reads the frame, so an empty one stands in.
        Self::from_raw(id, raw, &Bytes::new()).map(drop)
    }
    fn from_raw(id: PropertyId, raw: RawValue<'_>, _: &Bytes) -> Result<Self, DecodeError> {
        // "It is a Protocol Error to include ... a value other than 0 or 1."
        match raw {
            RawValue::Byte(0) => Ok(false),
            RawValue::Byte(1) => Ok(true),
            _ => invalid(id),
        }
    }
    fn to_raw(&self, _: PropertyId) -> RawValue<'_> {
        RawValue::Byte(u8::from(*self))
    }
}

impl TypedValue for QoS {
    fn check(id: PropertyId, raw: RawValue<'_>) -> Result<(), DecodeError> {
        // A scalar never reads the frame, so an empty one stands in.
        Self::from_raw(id, raw, &Bytes::new()).map(drop)
    }
    fn from_raw(id: PropertyId, raw: RawValue<'_>, _: &Bytes) -> Result<Self, DecodeError> {
        // Maximum QoS is 0 or 1 (v5 §3.2.2.3.4).
        match raw {
            RawValue::Byte(0) => Ok(QoS::AtMostOnce),
            RawValue::Byte(1) => Ok(QoS::AtLeastOnce),
            _ => invalid(id),
        }
    }
    fn to_raw(&self, _: PropertyId) -> RawValue<'_> {
        RawValue::Byte(self.bits())
    }
}

/// Payload Format Indicator values (v5 §3.3.2.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PayloadFormat {
    /// 0: unspecified bytes.
    #[default]
    Unspecified = 0,
    /// 1: UTF-8 encoded character data.
    Utf8 = 1,
}

impl TypedValue for PayloadFormat {
    fn check(id: PropertyId, raw: RawValue<'_>) -> Result<(), DecodeError> {
        // A scalar never reads the frame, so an empty one stands in.
        Self::from_raw(id, raw, &Bytes::new()).map(drop)
    }
    fn from_raw(id: PropertyId, raw: RawValue<'_>, _: &Bytes) -> Result<Self, DecodeError> {
        match raw {
            RawValue::Byte(0) => Ok(Self::Unspecified),
            RawValue::Byte(1) => Ok(Self::Utf8),
            _ => invalid(id),
        }
    }
    fn to_raw(&self, _: PropertyId) -> RawValue<'_> {
        RawValue::Byte(*self as u8)
    }
}

impl TypedValue for u16 {
    fn check(id: PropertyId, raw: RawValue<'_>) -> Result<(), DecodeError> {
        // A scalar never reads the frame, so an empty one stands in.
        Self::from_raw(id, raw, &Bytes::new()).map(drop)
    }
    fn from_raw(id: PropertyId, raw: RawValue<'_>, _: &Bytes) -> Result<Self, DecodeError> {
        match raw {
            RawValue::Two(v) => Ok(v),
            _ => invalid(id),
        }
    }
    fn to_raw(&self, _: PropertyId) -> RawValue<'_> {
        RawValue::Two(*self)
    }
}

impl TypedValue for NonZeroU16 {
    fn check(id: PropertyId, raw: RawValue<'_>) -> Result<(), DecodeError> {
        // A scalar never reads the frame, so an empty one stands in.
        Self::from_raw(id, raw, &Bytes::new()).map(drop)
    }
    fn from_raw(id: PropertyId, raw: RawValue<'_>, _: &Bytes) -> Result<Self, DecodeError> {
        // Receive Maximum 0 and Topic Alias 0 are errors (v5 §3.1.2.11.3, [MQTT-3.3.2-8]).
        match raw {
            RawValue::Two(v) => NonZeroU16::new(v).map_or_else(|| invalid(id), Ok),
            _ => invalid(id),
        }
    }
    fn to_raw(&self, _: PropertyId) -> RawValue<'_> {
        RawValue::Two(self.get())
    }
}

impl TypedValue for u32 {
    fn check(id: PropertyId, raw: RawValue<'_>) -> Result<(), DecodeError> {
        // A scalar never reads the frame, so an empty one stands in.
        Self::from_raw(id, raw, &Bytes::new()).map(drop)
    }
    fn from_raw(id: PropertyId, raw: RawValue<'_>, _: &Bytes) -> Result<Self, DecodeError> {
        match raw {
            RawValue::Four(v) => Ok(v),
            _ => invalid(id),
        }
    }
    fn to_raw(&self, _: PropertyId) -> RawValue<'_> {
        RawValue::Four(*self)
    }
}

impl TypedValue for NonZeroU32 {
    fn check(id: PropertyId, raw: RawValue<'_>) -> Result<(), DecodeError> {
        // A scalar never reads the frame, so an empty one stands in.
        Self::from_raw(id, raw, &Bytes::new()).map(drop)
    }
    fn from_raw(id: PropertyId, raw: RawValue<'_>, _: &Bytes) -> Result<Self, DecodeError> {
        // Maximum Packet Size 0 and Subscription Identifier 0 are errors
        // (v5 §3.1.2.11.4, §3.8.2.1.2).
        match raw {
            RawValue::Four(v) | RawValue::Var(v) => {
                NonZeroU32::new(v).map_or_else(|| invalid(id), Ok)
            }
            _ => invalid(id),
        }
    }
    fn to_raw(&self, id: PropertyId) -> RawValue<'_> {
        match id.kind() {
            Kind::Var => RawValue::Var(self.get()),
            _ => RawValue::Four(self.get()),
        }
    }
}

impl TypedValue for MqttString {
    fn check(id: PropertyId, raw: RawValue<'_>) -> Result<(), DecodeError> {
        match raw {
            RawValue::Str(s) => validate_string(s),
            _ => invalid(id),
        }
    }
    fn from_raw(id: PropertyId, raw: RawValue<'_>, frame: &Bytes) -> Result<Self, DecodeError> {
        match raw {
            RawValue::Str(s) => {
                validate_string(s)?;
                Ok(MqttString::from_validated(frame.slice_ref(s)))
            }
            _ => invalid(id),
        }
    }
    fn to_raw(&self, _: PropertyId) -> RawValue<'_> {
        RawValue::Str(self.as_bytes())
    }
}

impl TypedValue for TopicName {
    fn check(id: PropertyId, raw: RawValue<'_>) -> Result<(), DecodeError> {
        match raw {
            RawValue::Str(s) => mqttkit_topic::TopicNameRef::from_slice(s)
                .map(drop)
                .map_err(|e| {
                    crate::packet::topic_error_to_string_error(e)
                        .unwrap_or(DecodeError::TopicName(e))
                }),
            _ => invalid(id),
        }
    }
    fn from_raw(id: PropertyId, raw: RawValue<'_>, frame: &Bytes) -> Result<Self, DecodeError> {
        // v5 [MQTT-3.3.2-13], [MQTT-3.3.2-14]: a Response Topic is a topic name.
        match raw {
            RawValue::Str(s) => TopicName::from_bytes(frame.slice_ref(s)).map_err(|e| {
                crate::packet::topic_error_to_string_error(e).unwrap_or(DecodeError::TopicName(e))
            }),
            _ => invalid(id),
        }
    }
    fn to_raw(&self, _: PropertyId) -> RawValue<'_> {
        RawValue::Str(self.as_bytes())
    }
}

impl TypedValue for Bytes {
    fn check(id: PropertyId, raw: RawValue<'_>) -> Result<(), DecodeError> {
        match raw {
            RawValue::Bin(_) => Ok(()),
            _ => invalid(id),
        }
    }
    fn from_raw(id: PropertyId, raw: RawValue<'_>, frame: &Bytes) -> Result<Self, DecodeError> {
        match raw {
            RawValue::Bin(b) => Ok(frame.slice_ref(b)),
            _ => invalid(id),
        }
    }
    fn to_raw(&self, _: PropertyId) -> RawValue<'_> {
        RawValue::Bin(self)
    }
}

/// A packet's property block as a typed set.
pub(crate) trait PropertySet: Default {
    /// The packet type named in errors.
    const PACKET: PacketType;
    /// Bit mask of the identifiers this packet allows.
    const ALLOWED: u64;
    /// Identifiers that may repeat in this packet.
    const REPEATABLE: u64 = PropertyId::UserProperty.bit();

    /// Stores a single-valued property; repeatable ones are only validated.
    fn accept(
        &mut self,
        id: PropertyId,
        raw: RawValue<'_>,
        frame: &Bytes,
    ) -> Result<(), DecodeError>;
    /// Keeps the validated block for the lazy views of the repeatable
    /// properties that were `seen`, then checks rules that span properties.
    fn finish(&mut self, frame: &Bytes, block: &[u8], seen: u64) -> Result<(), DecodeError>;
    /// Checks one property value as `accept` does, without storing it.
    fn check_value(id: PropertyId, raw: RawValue<'_>) -> Result<(), DecodeError>;
    /// Hands every property to `f` in wire order.
    fn for_each<'a, F: FnMut(PropertyId, RawValue<'a>)>(&'a self, f: &mut F);
    /// Checks the rules that span properties, as `finish` does on decode,
    /// so that no packet is encoded that its receiver must refuse.
    fn check(&self) -> Result<(), DecodeError>;
    /// Whether no property is set, found without walking them.
    fn is_unset(&self) -> bool;

    /// The length of the encoded block, after checking every value and the
    /// rules that span properties.
    fn encoded_block_len(&self) -> Result<usize, EncodeError> {
        properties_block_len(self)
    }

    /// Writes the block of `block_len` bytes that
    /// [`encoded_block_len`](Self::encoded_block_len) measured and checked.
    fn put_block(&self, _block_len: usize, buf: &mut impl BufMut) {
        self.for_each(&mut |id, raw| raw.put_property(id, buf));
    }
}

/// Reads a property length and walks the block it covers, checking the
/// rules every block obeys (known identifier, allowed in `P`'s packet, not
/// repeated unless repeatable) and handing each property to `visit`.
/// Returns the rest of the input, the block and the identifiers seen.
#[inline]
fn walk_properties<'a, P: PropertySet>(
    input: &'a [u8],
    mut visit: impl FnMut(PropertyId, RawValue<'a>) -> Result<(), DecodeError>,
) -> PResult<'a, (&'a [u8], u64)> {
    let (input, len) = var_int(input)?;
    let (rest, block) = nom::bytes::complete::take(len)(input)?;
    let mut seen: u64 = 0;
    let mut cursor = block;
    let fail = |e| Err(nom::Err::Failure(e));
    while !cursor.is_empty() {
        let (next, (id, raw)) = raw_property(cursor)?;
        if P::ALLOWED & id.bit() == 0 {
            return fail(DecodeError::PropertyNotAllowed {
                property: id,
                packet: P::PACKET,
            });
        }
        if seen & id.bit() != 0 && P::REPEATABLE & id.bit() == 0 {
            return fail(DecodeError::DuplicateProperty(id));
        }
        seen |= id.bit();
        if let Err(e) = visit(id, raw) {
            return fail(e);
        }
        cursor = next;
    }
    Ok((rest, (block, seen)))
}

/// Decodes a property length and the block it covers.
#[inline]
pub(crate) fn decode_properties<'a, P: PropertySet>(
    frame: &Bytes,
    input: &'a [u8],
) -> PResult<'a, P> {
    let mut props = P::default();
    let (rest, ()) = decode_properties_into(&mut props, frame, input)?;
    Ok((rest, props))
}

/// [`decode_properties`] into a set that is already in place, which spares
/// moving a large set (a PUBLISH's is 192 bytes) out of the parser's result.
/// `props` must be empty; on error it holds part of the block.
#[inline]
pub(crate) fn decode_properties_into<'a, P: PropertySet>(
    props: &mut P,
    frame: &Bytes,
    input: &'a [u8],
) -> PResult<'a, ()> {
    let (rest, (block, seen)) =
        walk_properties::<P>(input, |id, raw| props.accept(id, raw, frame))?;
    if let Err(e) = props.finish(frame, block, seen) {
        return Err(nom::Err::Failure(e));
    }
    Ok((rest, ()))
}

/// Hands every property of a block that [`check_properties`] accepted to
/// `f`, in wire order.
pub(crate) fn for_each_in_block<'a>(
    block: &'a [u8],
    mut f: impl FnMut(PropertyId, PropertyValue<'a>),
) {
    RawProperties(block).for_each(|(id, raw)| f(id, PropertyValue::from(raw)));
}

/// Checks a property length and the block it covers by the same rules as
/// [`decode_properties`], without building the set, and returns the block.
/// `visit` sees every property after its value was checked.
pub(crate) fn check_properties<'a, P: PropertySet>(
    input: &'a [u8],
    mut visit: impl FnMut(PropertyId, RawValue<'a>),
) -> PResult<'a, &'a [u8]> {
    let (rest, (block, _)) = walk_properties::<P>(input, |id, raw| {
        P::check_value(id, raw)?;
        visit(id, raw);
        Ok(())
    })?;
    Ok((rest, block))
}

/// Bytes of the block (without its length prefix).
pub(crate) fn properties_block_len(props: &impl PropertySet) -> Result<usize, EncodeError> {
    props.check().map_err(|e| match e {
        DecodeError::AuthenticationDataWithoutMethod => {
            EncodeError::InvalidPacket(InvalidPacket::AuthenticationDataWithoutMethod)
        }
        _ => EncodeError::InvalidPacket(InvalidPacket::PropertyRule),
    })?;
    let mut total: usize = 0;
    let mut error = None;
    props.for_each(&mut |id, raw| match raw.encoded_len(id) {
        Ok(len) => total = sum([total, 1, len]),
        Err(e) => error = Some(e),
    });
    match error {
        Some(e) => Err(e),
        None => within_block_limit(total),
    }
}

/// `block_len`, or the error when a property length cannot say it (a
/// Variable Byte Integer, v5 §2.2.2.1).
#[inline]
pub(crate) fn within_block_limit(block_len: usize) -> Result<usize, EncodeError> {
    if block_len > MAX_VARIABLE_BYTE_INTEGER as usize {
        return Err(EncodeError::PacketTooLarge {
            size: block_len,
            max: MAX_VARIABLE_BYTE_INTEGER as usize,
        });
    }
    Ok(block_len)
}

/// Bytes of the property length plus the block.
#[inline]
pub(crate) fn properties_len(block_len: usize) -> usize {
    sum([
        var_int_len(u32::try_from(block_len).unwrap_or(u32::MAX)),
        block_len,
    ])
}

/// Writes the property length and the block; `block_len` comes from
/// [`PropertySet::encoded_block_len`], which validated every value.
pub(crate) fn put_properties(props: &impl PropertySet, block_len: usize, buf: &mut impl BufMut) {
    put_var_int(buf, u32::try_from(block_len).unwrap_or(u32::MAX));
    if block_len == 0 {
        return;
    }
    props.put_block(block_len, buf);
}

/// User Properties (v5 §3.1.2.11.8 and its siblings): name-value pairs
/// whose order is kept ([MQTT-3.3.2-18]).
///
/// Decoded ones are a view of the received property block, iterated without
/// allocating; pushing a pair turns the view into an owned list.
#[derive(Clone, Default)]
pub struct UserProperties(Repeated<(MqttString, MqttString)>);

#[derive(Clone, Default)]
enum Repeated<T> {
    /// None at all: what every decoded packet without the property holds,
    /// so creating and dropping it touches no `Bytes` vtable.
    #[default]
    Empty,
    Block(Bytes),
    List(alloc::vec::Vec<T>),
}

impl<T> Repeated<T> {
    /// Whether there is no value.
    fn is_unset(&self) -> bool {
        match self {
            Self::Empty => true,
            Self::Block(block) => block.is_empty(),
            Self::List(list) => list.is_empty(),
        }
    }
}

impl UserProperties {
    /// No user properties.
    pub const fn new() -> Self {
        Self(Repeated::Empty)
    }

    /// Appends a pair.
    pub fn push(&mut self, name: MqttString, value: MqttString) {
        if !matches!(self.0, Repeated::List(_)) {
            let list = self.iter_owned().collect();
            self.0 = Repeated::List(list);
        }
        if let Repeated::List(list) = &mut self.0 {
            list.push((name, value));
        }
    }

    /// The pairs in order, as string slices.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        fn as_str(b: &[u8]) -> &str {
            core::str::from_utf8(b).unwrap_or_default()
        }
        let (block, list): (&[u8], &[(MqttString, MqttString)]) = match &self.0 {
            Repeated::Empty => (&[], &[]),
            Repeated::Block(block) => (block, &[]),
            Repeated::List(list) => (&[], list),
        };
        RawProperties(block)
            .filter_map(move |(_, raw)| match raw {
                RawValue::Pair(k, v) => Some((as_str(k), as_str(v))),
                _ => None,
            })
            .chain(list.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// The pairs in order as zero-copy owned strings.
    pub fn iter_owned(&self) -> impl Iterator<Item = (MqttString, MqttString)> + '_ {
        let (block, list): (Option<&Bytes>, &[(MqttString, MqttString)]) = match &self.0 {
            Repeated::Empty => (None, &[]),
            Repeated::Block(block) => (Some(block), &[]),
            Repeated::List(list) => (None, list),
        };
        let block_pairs = block.into_iter().flat_map(|block| {
            RawProperties(block).filter_map(move |(_, raw)| match raw {
                RawValue::Pair(k, v) => Some((
                    MqttString::from_validated(block.slice_ref(k)),
                    MqttString::from_validated(block.slice_ref(v)),
                )),
                _ => None,
            })
        });
        block_pairs.chain(list.iter().cloned())
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    fn for_each<'a, F: FnMut(PropertyId, RawValue<'a>)>(&'a self, f: &mut F) {
        // Matched directly rather than through `iter`: encoding walks this on
        // every packet, and the chained iterator costs more than the pairs.
        match &self.0 {
            Repeated::Empty => {}
            Repeated::Block(block) if block.is_empty() => {}
            Repeated::Block(block) => RawProperties(block)
                .filter(|(id, _)| *id == PropertyId::UserProperty)
                .for_each(|(id, raw)| f(id, raw)),
            Repeated::List(list) => {
                for (k, v) in list {
                    f(
                        PropertyId::UserProperty,
                        RawValue::Pair(k.as_bytes(), v.as_bytes()),
                    );
                }
            }
        }
    }
}

impl PartialEq for UserProperties {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for UserProperties {}

impl fmt::Debug for UserProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<K: Into<MqttString>, V: Into<MqttString>> FromIterator<(K, V)> for UserProperties {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(Repeated::List(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        ))
    }
}

/// The Subscription Identifiers of a PUBLISH sent by a server: one for each
/// matching subscription that has one (v5 §3.3.2.3.8, §3.3.4).
#[derive(Clone, Default)]
pub struct SubscriptionIdentifiers(Repeated<NonZeroU32>);

impl SubscriptionIdentifiers {
    /// None.
    pub const fn new() -> Self {
        Self(Repeated::Empty)
    }

    /// Appends an identifier (1 to 268,435,455; larger values fail to encode).
    pub fn push(&mut self, id: NonZeroU32) {
        if !matches!(self.0, Repeated::List(_)) {
            let list = self.iter().collect();
            self.0 = Repeated::List(list);
        }
        if let Repeated::List(list) = &mut self.0 {
            list.push(id);
        }
    }

    /// The identifiers in wire order.
    pub fn iter(&self) -> impl Iterator<Item = NonZeroU32> + '_ {
        let (block, list): (&[u8], &[NonZeroU32]) = match &self.0 {
            Repeated::Empty => (&[], &[]),
            Repeated::Block(block) => (block, &[]),
            Repeated::List(list) => (&[], list),
        };
        RawProperties(block)
            .filter_map(|(_, raw)| match raw {
                RawValue::Var(v) => NonZeroU32::new(v),
                _ => None,
            })
            .chain(list.iter().copied())
    }

    /// Number of identifiers.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    fn for_each<'a, F: FnMut(PropertyId, RawValue<'a>)>(&'a self, f: &mut F) {
        match &self.0 {
            Repeated::Empty => {}
            Repeated::Block(block) if block.is_empty() => {}
            Repeated::Block(block) => RawProperties(block)
                .filter(|(id, _)| *id == PropertyId::SubscriptionIdentifier)
                .for_each(|(id, raw)| f(id, raw)),
            Repeated::List(list) => {
                for id in list {
                    f(PropertyId::SubscriptionIdentifier, RawValue::Var(id.get()));
                }
            }
        }
    }
}

impl PartialEq for SubscriptionIdentifiers {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for SubscriptionIdentifiers {}

impl fmt::Debug for SubscriptionIdentifiers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl FromIterator<NonZeroU32> for SubscriptionIdentifiers {
    fn from_iter<I: IntoIterator<Item = NonZeroU32>>(iter: I) -> Self {
        Self(Repeated::List(iter.into_iter().collect()))
    }
}

/// Validates a repeatable property that is kept in the block view.
#[inline]
fn check_repeatable(id: PropertyId, raw: RawValue<'_>) -> Result<(), DecodeError> {
    match raw {
        // v5 [MQTT-1.5.7-1]: both strings of a pair are UTF-8 strings.
        RawValue::Pair(k, v) => {
            validate_string(k)?;
            validate_string(v)
        }
        RawValue::Var(0) => invalid(id),
        _ => Ok(()),
    }
}

macro_rules! property_set {
    (
        $(#[$meta:meta])*
        $name:ident for $packet:ident {
            $($(#[$fmeta:meta])* $field:ident: $ty:ty = $id:ident,)*
        }
        $(repeat $rfield:ident: $rty:ident = $rid:ident;)?
        $(check $check:path;)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct $name {
            $($(#[$fmeta])* pub $field: Option<$ty>,)*
            $(
                #[doc = "Repeatable: each value in order."]
                pub $rfield: $rty,
            )?
            /// User Properties, in order.
            pub user_properties: UserProperties,
        }

        reading_methods!($name, "in the order they are written on the wire.");

        impl PropertySet for $name {
            const PACKET: PacketType = PacketType::$packet;
            const ALLOWED: u64 = 0 $(| PropertyId::$id.bit())* $(| PropertyId::$rid.bit())?
                | PropertyId::UserProperty.bit();
            const REPEATABLE: u64 = PropertyId::UserProperty.bit() $(| PropertyId::$rid.bit())?;

            fn accept(
                &mut self,
                id: PropertyId,
                raw: RawValue<'_>,
                frame: &Bytes,
            ) -> Result<(), DecodeError> {
                let _ = frame;
                match id {
                    $(PropertyId::$id => {
                        self.$field = Some(<$ty as TypedValue>::from_raw(id, raw, frame)?);
                        Ok(())
                    })*
                    _ => check_repeatable(id, raw),
                }
            }

            fn check_value(id: PropertyId, raw: RawValue<'_>) -> Result<(), DecodeError> {
                match id {
                    $(PropertyId::$id => <$ty as TypedValue>::check(id, raw),)*
                    _ => check_repeatable(id, raw),
                }
            }

            fn finish(&mut self, frame: &Bytes, block: &[u8], seen: u64) -> Result<(), DecodeError> {
                // A view only holds the block when it has something to show,
                // so a block without them costs no reference count.
                let _ = (frame, block);
                $(if seen & PropertyId::$rid.bit() != 0 {
                    self.$rfield = $rty(Repeated::Block(frame.slice_ref(block)));
                })?
                if seen & PropertyId::UserProperty.bit() != 0 {
                    self.user_properties = UserProperties(Repeated::Block(frame.slice_ref(block)));
                }
                self.check()
            }

            fn check(&self) -> Result<(), DecodeError> {
                $($check(self)?;)?
                Ok(())
            }

            #[inline]
            fn is_unset(&self) -> bool {
                true $(&& self.$field.is_none())*
                    $(&& self.$rfield.0.is_unset())?
                    && self.user_properties.0.is_unset()
            }

            fn for_each<'a, F: FnMut(PropertyId, RawValue<'a>)>(&'a self, f: &mut F) {
                $(if let Some(value) = &self.$field {
                    f(PropertyId::$id, value.to_raw(PropertyId::$id));
                })*
                $(self.$rfield.for_each(f);)?
                self.user_properties.for_each(f);
            }
        }
    };
}

fn auth_data_needs_method(
    method: &Option<MqttString>,
    data: &Option<Bytes>,
) -> Result<(), DecodeError> {
    // v5 §3.1.2.11.10: "It is a Protocol Error to include Authentication Data
    // if there is no Authentication Method."
    if data.is_some() && method.is_none() {
        Err(DecodeError::AuthenticationDataWithoutMethod)
    } else {
        Ok(())
    }
}

fn check_connect(p: &ConnectProperties) -> Result<(), DecodeError> {
    auth_data_needs_method(&p.authentication_method, &p.authentication_data)
}

fn check_connack(p: &ConnAckProperties) -> Result<(), DecodeError> {
    auth_data_needs_method(&p.authentication_method, &p.authentication_data)
}

fn check_auth(p: &AuthProperties) -> Result<(), DecodeError> {
    auth_data_needs_method(&p.authentication_method, &p.authentication_data)
}

property_set! {
    /// CONNECT properties (v5 §3.1.2.11).
    ConnectProperties for Connect {
        /// Session Expiry Interval in seconds (absent means 0).
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// Receive Maximum (absent means 65,535; never 0).
        receive_maximum: NonZeroU16 = ReceiveMaximum,
        /// Maximum Packet Size the client accepts (never 0).
        maximum_packet_size: NonZeroU32 = MaximumPacketSize,
        /// Topic Alias Maximum the client accepts (absent means 0).
        topic_alias_maximum: u16 = TopicAliasMaximum,
        /// Request Response Information.
        request_response_information: bool = RequestResponseInformation,
        /// Request Problem Information (absent means true).
        request_problem_information: bool = RequestProblemInformation,
        /// Authentication Method for enhanced authentication.
        authentication_method: MqttString = AuthenticationMethod,
        /// Authentication Data.
        authentication_data: Bytes = AuthenticationData,
    }
    check check_connect;
}

property_set! {
    /// Will properties of a CONNECT (v5 §3.1.3.2).
    WillProperties for Connect {
        /// Will Delay Interval in seconds.
        will_delay_interval: u32 = WillDelayInterval,
        /// Payload Format Indicator.
        payload_format_indicator: PayloadFormat = PayloadFormatIndicator,
        /// Message Expiry Interval in seconds.
        message_expiry_interval: u32 = MessageExpiryInterval,
        /// Content Type.
        content_type: MqttString = ContentType,
        /// Response Topic.
        response_topic: TopicName = ResponseTopic,
        /// Correlation Data.
        correlation_data: Bytes = CorrelationData,
    }
}

property_set! {
    /// CONNACK properties (v5 §3.2.2.3).
    ConnAckProperties for ConnAck {
        /// Session Expiry Interval the server uses.
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// Receive Maximum of the server (never 0).
        receive_maximum: NonZeroU16 = ReceiveMaximum,
        /// Maximum QoS the server supports (0 or 1; absent means 2).
        maximum_qos: QoS = MaximumQoS,
        /// Whether the server supports retained messages.
        retain_available: bool = RetainAvailable,
        /// Maximum Packet Size the server accepts (never 0).
        maximum_packet_size: NonZeroU32 = MaximumPacketSize,
        /// Client identifier assigned by the server.
        assigned_client_identifier: MqttString = AssignedClientIdentifier,
        /// Topic Alias Maximum the server accepts.
        topic_alias_maximum: u16 = TopicAliasMaximum,
        /// Reason String.
        reason_string: MqttString = ReasonString,
        /// Whether wildcard subscriptions are supported.
        wildcard_subscription_available: bool = WildcardSubscriptionAvailable,
        /// Whether subscription identifiers are supported.
        subscription_identifier_available: bool = SubscriptionIdentifierAvailable,
        /// Whether shared subscriptions are supported.
        shared_subscription_available: bool = SharedSubscriptionAvailable,
        /// Keep Alive the server imposes.
        server_keep_alive: u16 = ServerKeepAlive,
        /// Response Information.
        response_information: MqttString = ResponseInformation,
        /// Server Reference.
        server_reference: MqttString = ServerReference,
        /// Authentication Method.
        authentication_method: MqttString = AuthenticationMethod,
        /// Authentication Data.
        authentication_data: Bytes = AuthenticationData,
    }
    check check_connack;
}

property_set! {
    /// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK
    /// (v5 §3.4.2.2 and its siblings): a Reason String and User Properties.
    AckProperties for PubAck {
        /// Reason String.
        reason_string: MqttString = ReasonString,
    }
}

property_set! {
    /// SUBSCRIBE properties (v5 §3.8.2.1).
    SubscribeProperties for Subscribe {
        /// Subscription Identifier (1 to 268,435,455).
        subscription_identifier: NonZeroU32 = SubscriptionIdentifier,
    }
}

property_set! {
    /// UNSUBSCRIBE properties (v5 §3.10.2.1).
    UnsubscribeProperties for Unsubscribe {}
}

property_set! {
    /// DISCONNECT properties (v5 §3.14.2.2).
    DisconnectProperties for Disconnect {
        /// Session Expiry Interval (client to server only, [MQTT-3.14.2-2]).
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// Reason String.
        reason_string: MqttString = ReasonString,
        /// Server Reference.
        server_reference: MqttString = ServerReference,
    }
}

property_set! {
    /// AUTH properties (v5 §3.15.2.2).
    AuthProperties for Auth {
        /// Authentication Method.
        authentication_method: MqttString = AuthenticationMethod,
        /// Authentication Data.
        authentication_data: Bytes = AuthenticationData,
        /// Reason String.
        reason_string: MqttString = ReasonString,
    }
    check check_auth;
}

/// Encoded sizes of a property set, computed once per encode.
pub(crate) struct EncodedProperties<'a, P> {
    pub(crate) props: &'a P,
    pub(crate) block_len: usize,
}

impl<'a, P: PropertySet> EncodedProperties<'a, P> {
    /// The sizes of a set without any property; `props` must be unset.
    #[inline]
    pub(crate) fn unset(props: &'a P) -> Self {
        debug_assert!(props.is_unset());
        Self {
            props,
            block_len: 0,
        }
    }

    #[inline]
    pub(crate) fn new(props: &'a P) -> Result<Self, EncodeError> {
        // Most packets carry no property at all: nothing to check or measure.
        let block_len = if props.is_unset() {
            0
        } else {
            props.encoded_block_len()?
        };
        Ok(Self { props, block_len })
    }

    /// Property length field plus block.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        properties_len(self.block_len)
    }

    #[inline]
    pub(crate) fn put(&self, buf: &mut impl BufMut) {
        if self.block_len == 0 {
            // The property length 0 of an empty block, without the walk.
            buf.put_u8(0);
        } else {
            put_properties(self.props, self.block_len, buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Auth, ConnAck, Connect, Packet};
    use crate::reason::{AuthReasonCode, ConnectReasonCode};
    use crate::version::ProtocolVersion;

    /// v5 §3.1.2.11.10, §3.2.2.3.18, §3.15.2.2.3: Authentication Data without
    /// an Authentication Method is a Protocol Error, so the encoder refuses
    /// to write what the decoder would refuse. Found by `fuzz/roundtrip`.
    #[test]
    fn encode_refuses_authentication_data_without_method() {
        let data = Some(Bytes::from_static(b"\x1a"));
        let mut auth = Auth::new(AuthReasonCode::Success);
        auth.properties.authentication_data = data.clone();
        let mut connack = ConnAck::new(false, ConnectReasonCode::Success);
        connack.properties.authentication_data = data.clone();
        let mut connect = Connect::new(ProtocolVersion::V5, MqttString::new());
        connect.properties.authentication_data = data;
        let expected = Err(EncodeError::InvalidPacket(
            InvalidPacket::AuthenticationDataWithoutMethod,
        ));
        for packet in [Packet::from(auth), connack.into(), connect.into()] {
            assert_eq!(packet.encoded_len(ProtocolVersion::V5), expected);
            let mut out = alloc::vec::Vec::new();
            assert_eq!(packet.encode(ProtocolVersion::V5, &mut out), expected);
            assert!(out.is_empty());
        }
    }

    /// The property reader, as it was written with `nom` combinators.
    fn raw_property_nom(input: &[u8]) -> PResult<'_, (PropertyId, RawValue<'_>)> {
        use nom::number::complete::{be_u16, be_u32, u8 as byte};
        let (input, id) = var_int(input)?;
        let Some(id) = u8::try_from(id).ok().and_then(PropertyId::from_u8) else {
            return Err(nom::Err::Failure(DecodeError::UnknownProperty(id)));
        };
        let take = |input| -> PResult<'_, &[u8]> {
            let (input, len) = be_u16(input)?;
            nom::bytes::complete::take(len)(input)
        };
        let (input, value) = match id.kind() {
            Kind::Byte => byte(input).map(|(i, v)| (i, RawValue::Byte(v)))?,
            Kind::Two => be_u16(input).map(|(i, v)| (i, RawValue::Two(v)))?,
            Kind::Four => be_u32(input).map(|(i, v)| (i, RawValue::Four(v)))?,
            Kind::Var => var_int(input).map(|(i, v)| (i, RawValue::Var(v)))?,
            Kind::Str => take(input).map(|(i, v)| (i, RawValue::Str(v)))?,
            Kind::Bin => take(input).map(|(i, v)| (i, RawValue::Bin(v)))?,
            Kind::Pair => {
                let (input, key) = take(input)?;
                let (input, value) = take(input)?;
                (input, RawValue::Pair(key, value))
            }
        };
        Ok((input, (id, value)))
    }

    proptest::proptest! {
        /// The hand-written property reader reads what the `nom` one read,
        /// and fails where and how it failed.
        #[test]
        fn raw_property_agrees_with_nom(
            id in proptest::prop_oneof![0u8..0x30, proptest::prelude::any::<u8>()],
            rest in proptest::collection::vec(0u8..4, 0..12),
        ) {
            let mut input = alloc::vec![id];
            input.extend(rest);
            proptest::prop_assert_eq!(raw_property(&input), raw_property_nom(&input));
        }
    }
}
