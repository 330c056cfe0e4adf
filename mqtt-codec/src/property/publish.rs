//! PUBLISH properties (v5 §3.3.2.3), kept small because every PUBLISH
//! carries them.
//!
//! The other property sets store every single-valued property as a typed
//! field. Here only the three fixed-size ones are fields; the byte-valued
//! ones (Response Topic, Correlation Data, Content Type) and the repeatable
//! ones (Subscription Identifier, User Property) live in one place: the
//! validated property block of a decoded packet, or a boxed list once they
//! are set by hand. That keeps a `Publish` at 120 bytes instead of 264, and
//! moving the packet out of the decoder is most of what an owned decode
//! costs beyond the parse, so a smaller packet decodes faster. A decoded
//! packet with byte-valued properties also takes one reference count on its
//! frame instead of one per value.

use alloc::boxed::Box;

use super::*;

/// The properties kept in the block or the boxed list rather than in fields.
const KEPT_IN_BLOCK: u64 = PropertyId::ResponseTopic.bit()
    | PropertyId::CorrelationData.bit()
    | PropertyId::ContentType.bit()
    | PropertyId::SubscriptionIdentifier.bit()
    | PropertyId::UserProperty.bit();

/// PUBLISH properties (v5 §3.3.2.3).
///
/// The fixed-size properties are fields. The others are read with
/// [`content_type`](Self::content_type) and its siblings, which return
/// values that share the received frame (a reference count, no copy), and
/// written with the `set_` methods.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct PublishProperties {
    /// Payload Format Indicator.
    pub payload_format_indicator: Option<PayloadFormat>,
    /// Message Expiry Interval in seconds.
    pub message_expiry_interval: Option<u32>,
    /// Topic Alias (never 0, [MQTT-3.3.2-8]).
    pub topic_alias: Option<NonZeroU16>,
    /// Where the properties of `KEPT_IN_BLOCK` are.
    kept: Kept,
}

/// Where the byte-valued and repeatable properties of a PUBLISH are; one
/// enum rather than two options, so that the `Packet` stays at 128 bytes,
/// which the compiler moves without calling `memcpy`.
///
/// "None set" is an empty block (`Bytes::new()` holds no reference count), not
/// a variant of its own, which would make the enum 8 bytes larger.
#[derive(Clone)]
enum Kept {
    /// A decoded packet's validated property block, holding at least one,
    /// or empty when none is set.
    Block(Bytes),
    /// As values, once one was set by hand.
    Owned(Box<Owned>),
}

/// The byte-valued and repeatable PUBLISH properties as values.
#[derive(Clone, Default)]
struct Owned {
    response_topic: Option<TopicName>,
    correlation_data: Option<Bytes>,
    content_type: Option<MqttString>,
    subscription_identifiers: SubscriptionIdentifiers,
    user_properties: UserProperties,
}

impl Default for Kept {
    fn default() -> Self {
        Self::Block(Bytes::new())
    }
}

impl Owned {
    fn is_unset(&self) -> bool {
        self.response_topic.is_none()
            && self.correlation_data.is_none()
            && self.content_type.is_none()
            && self.subscription_identifiers.0.is_unset()
            && self.user_properties.0.is_unset()
    }

    /// Hands every property to `f`, one kind after another.
    fn for_each<'a, F: FnMut(PropertyId, RawValue<'a>)>(&'a self, f: &mut F) {
        if let Some(v) = &self.response_topic {
            f(
                PropertyId::ResponseTopic,
                v.to_raw(PropertyId::ResponseTopic),
            );
        }
        if let Some(v) = &self.correlation_data {
            f(
                PropertyId::CorrelationData,
                v.to_raw(PropertyId::CorrelationData),
            );
        }
        if let Some(v) = &self.content_type {
            f(PropertyId::ContentType, v.to_raw(PropertyId::ContentType));
        }
        self.subscription_identifiers.for_each(f);
        self.user_properties.for_each(f);
    }
}

reading_methods!(
    PublishProperties,
    "Payload Format Indicator, Message Expiry Interval and Topic Alias first, \
     then the others (a decoded set's in the order they were on the wire)."
);

impl PublishProperties {
    /// Response Topic (a topic name, [MQTT-3.3.2-14]).
    pub fn response_topic(&self) -> Option<TopicName> {
        match &self.kept {
            Kept::Block(block) => match find(block, PropertyId::ResponseTopic)? {
                RawValue::Str(s) => TopicName::from_bytes(block.slice_ref(s)).ok(),
                _ => None,
            },
            Kept::Owned(owned) => owned.response_topic.clone(),
        }
    }

    /// Correlation Data.
    pub fn correlation_data(&self) -> Option<Bytes> {
        match &self.kept {
            Kept::Block(block) => match find(block, PropertyId::CorrelationData)? {
                RawValue::Bin(b) => Some(block.slice_ref(b)),
                _ => None,
            },
            Kept::Owned(owned) => owned.correlation_data.clone(),
        }
    }

    /// Content Type.
    pub fn content_type(&self) -> Option<MqttString> {
        match &self.kept {
            Kept::Block(block) => match find(block, PropertyId::ContentType)? {
                RawValue::Str(s) => Some(MqttString::from_validated(block.slice_ref(s))),
                _ => None,
            },
            Kept::Owned(owned) => owned.content_type.clone(),
        }
    }

    /// Subscription Identifiers, in order (v5 §3.3.2.3.8). A decoded set
    /// shares the frame; a set made by hand is a copy of the list.
    pub fn subscription_identifiers(&self) -> SubscriptionIdentifiers {
        match &self.kept {
            Kept::Block(block) => {
                SubscriptionIdentifiers(repeated_in(block, PropertyId::SubscriptionIdentifier))
            }
            Kept::Owned(owned) => owned.subscription_identifiers.clone(),
        }
    }

    /// User Properties, in order ([MQTT-3.3.2-18]). Decoded ones share the
    /// frame; ones set by hand are a copy of the list.
    pub fn user_properties(&self) -> UserProperties {
        match &self.kept {
            Kept::Block(block) => UserProperties(repeated_in(block, PropertyId::UserProperty)),
            Kept::Owned(owned) => owned.user_properties.clone(),
        }
    }

    /// Sets or clears the Response Topic.
    pub fn set_response_topic(&mut self, topic: Option<TopicName>) {
        self.change(|owned| owned.response_topic = topic);
    }

    /// Sets or clears the Correlation Data.
    pub fn set_correlation_data(&mut self, data: Option<Bytes>) {
        self.change(|owned| owned.correlation_data = data);
    }

    /// Sets or clears the Content Type.
    pub fn set_content_type(&mut self, content_type: Option<MqttString>) {
        self.change(|owned| owned.content_type = content_type);
    }

    /// Replaces the Subscription Identifiers.
    pub fn set_subscription_identifiers(&mut self, ids: SubscriptionIdentifiers) {
        self.change(|owned| owned.subscription_identifiers = ids);
    }

    /// Replaces the User Properties.
    pub fn set_user_properties(&mut self, pairs: UserProperties) {
        self.change(|owned| owned.user_properties = pairs);
    }

    /// Appends a Subscription Identifier.
    pub fn push_subscription_identifier(&mut self, id: NonZeroU32) {
        self.change(|owned| owned.subscription_identifiers.push(id));
    }

    /// Appends a User Property.
    pub fn push_user_property(&mut self, name: MqttString, value: MqttString) {
        self.change(|owned| owned.user_properties.push(name, value));
    }

    /// Changes the byte-valued and repeatable properties, as values made
    /// from the decoded block (sharing it) the first time one is changed.
    fn change(&mut self, f: impl FnOnce(&mut Owned)) {
        let mut owned = match core::mem::take(&mut self.kept) {
            Kept::Owned(owned) => owned,
            kept => {
                let read = PublishProperties {
                    kept,
                    ..PublishProperties::default()
                };
                Box::new(Owned {
                    response_topic: read.response_topic(),
                    correlation_data: read.correlation_data(),
                    content_type: read.content_type(),
                    subscription_identifiers: read.subscription_identifiers(),
                    user_properties: read.user_properties(),
                })
            }
        };
        f(&mut owned);
        self.kept = Kept::Owned(owned);
    }
}

impl PublishProperties {
    /// Hands the fixed-size properties to `f`; they are fields even in a
    /// decoded set, so that changing one leaves the block alone.
    fn for_each_fixed<'a, F: FnMut(PropertyId, RawValue<'a>)>(&'a self, f: &mut F) {
        if let Some(v) = &self.payload_format_indicator {
            f(
                PropertyId::PayloadFormatIndicator,
                v.to_raw(PropertyId::PayloadFormatIndicator),
            );
        }
        if let Some(v) = &self.message_expiry_interval {
            f(
                PropertyId::MessageExpiryInterval,
                v.to_raw(PropertyId::MessageExpiryInterval),
            );
        }
        if let Some(v) = &self.topic_alias {
            f(PropertyId::TopicAlias, v.to_raw(PropertyId::TopicAlias));
        }
    }

    /// Bytes the fixed-size properties take, identifiers included: a Byte,
    /// a Four Byte and a Two Byte Integer (v5 §2.2.2.2).
    fn fixed_len(&self) -> usize {
        let set = |present: bool, len: usize| if present { len } else { 0 };
        sum([
            set(self.payload_format_indicator.is_some(), 2),
            set(self.message_expiry_interval.is_some(), 5),
            set(self.topic_alias.is_some(), 3),
        ])
    }
}

/// Calls `run` with each stretch of a validated block that holds only
/// properties of `KEPT_IN_BLOCK`, in wire order, so that re-encoding the
/// block copies a few slices instead of writing every value.
#[inline]
fn kept_runs<'a>(block: &'a [u8], mut run: impl FnMut(&'a [u8])) {
    let (mut start, mut at) = (0, 0);
    let mut rest = block;
    // The block was validated when decoded, so the walk cannot fail; if it
    // did, measuring and writing would still stop at the same place.
    while let Some((id, next)) = skip_property(rest) {
        // `next` is what follows the property, a suffix of `block`.
        let end = block.len().saturating_sub(next.len());
        if KEPT_IN_BLOCK & id.bit() == 0 {
            if at > start {
                run(block.get(start..at).unwrap_or_default());
            }
            start = end;
        }
        at = end;
        rest = next;
    }
    if at > start {
        run(block.get(start..at).unwrap_or_default());
    }
}

/// Steps over one property of a validated block without reading its value:
/// its identifier and what follows it.
#[inline(always)]
fn skip_property(block: &[u8]) -> Option<(PropertyId, &[u8])> {
    let (&id, rest) = block.split_first()?;
    let id = PropertyId::from_u8(id)?;
    let rest = match id.kind() {
        Kind::Byte => rest.get(1..),
        Kind::Two => rest.get(2..),
        Kind::Four => rest.get(4..),
        Kind::Var => var_int(rest).ok().map(|(rest, _)| rest),
        Kind::Str | Kind::Bin => after_prefixed(rest),
        Kind::Pair => after_prefixed(rest).and_then(after_prefixed),
    }?;
    Some((id, rest))
}

/// What follows a length-prefixed field.
#[inline(always)]
fn after_prefixed(input: &[u8]) -> Option<&[u8]> {
    let (len, rest) = input.split_first_chunk::<2>()?;
    rest.get(usize::from(u16::from_be_bytes(*len))..)
}

/// The first value of `id` in a validated block.
fn find(block: &[u8], id: PropertyId) -> Option<RawValue<'_>> {
    RawProperties(block).find_map(|(seen, raw)| (seen == id).then_some(raw))
}

/// A lazy view of the values of the repeatable `id` in a validated block;
/// empty, touching no reference count, when it holds none.
fn repeated_in<T>(block: &Bytes, id: PropertyId) -> Repeated<T> {
    if find(block, id).is_some() {
        Repeated::Block(block.clone())
    } else {
        Repeated::Empty
    }
}

impl PropertySet for PublishProperties {
    const PACKET: PacketType = PacketType::Publish;
    const ALLOWED: u64 = PropertyId::PayloadFormatIndicator.bit()
        | PropertyId::MessageExpiryInterval.bit()
        | PropertyId::TopicAlias.bit()
        | KEPT_IN_BLOCK;
    const REPEATABLE: u64 =
        PropertyId::UserProperty.bit() | PropertyId::SubscriptionIdentifier.bit();

    #[inline]
    fn accept(
        &mut self,
        id: PropertyId,
        raw: RawValue<'_>,
        frame: &Bytes,
    ) -> Result<(), DecodeError> {
        match id {
            PropertyId::PayloadFormatIndicator => {
                self.payload_format_indicator = Some(PayloadFormat::from_raw(id, raw, frame)?);
            }
            PropertyId::MessageExpiryInterval => {
                self.message_expiry_interval = Some(u32::from_raw(id, raw, frame)?);
            }
            PropertyId::TopicAlias => {
                self.topic_alias = Some(NonZeroU16::from_raw(id, raw, frame)?)
            }
            _ => Self::check_value(id, raw)?,
        }
        Ok(())
    }

    fn finish(&mut self, frame: &Bytes, block: &[u8], seen: u64) -> Result<(), DecodeError> {
        // Only a block with something to show is kept, so that the common
        // PUBLISH costs no reference count for it.
        if seen & KEPT_IN_BLOCK != 0 {
            self.kept = Kept::Block(frame.slice_ref(block));
        }
        Ok(())
    }

    #[inline]
    fn check_value(id: PropertyId, raw: RawValue<'_>) -> Result<(), DecodeError> {
        match id {
            PropertyId::PayloadFormatIndicator => PayloadFormat::check(id, raw),
            PropertyId::MessageExpiryInterval => u32::check(id, raw),
            PropertyId::TopicAlias => NonZeroU16::check(id, raw),
            // v5 [MQTT-3.3.2-13], [MQTT-3.3.2-14]: a Response Topic is a topic name.
            PropertyId::ResponseTopic => TopicName::check(id, raw),
            PropertyId::CorrelationData => Bytes::check(id, raw),
            PropertyId::ContentType => MqttString::check(id, raw),
            _ => check_repeatable(id, raw),
        }
    }

    fn for_each<'a, F: FnMut(PropertyId, RawValue<'a>)>(&'a self, f: &mut F) {
        self.for_each_fixed(f);
        if let Kept::Block(block) = &self.kept {
            // In wire order; the fixed-size ones were handed out above.
            RawProperties(block)
                .filter(|(id, _)| KEPT_IN_BLOCK & id.bit() != 0)
                .for_each(|(id, raw)| f(id, raw));
        } else if let Kept::Owned(owned) = &self.kept {
            owned.for_each(f);
        }
    }

    fn check(&self) -> Result<(), DecodeError> {
        Ok(())
    }

    /// A decoded block is measured and copied a stretch at a time, as a
    /// broker forwarding the PUBLISH needs, rather than value by value.
    fn encoded_block_len(&self) -> Result<usize, EncodeError> {
        let Kept::Block(block) = &self.kept else {
            return properties_block_len(self);
        };
        let mut total = self.fixed_len();
        kept_runs(block, |run| total = sum([total, run.len()]));
        within_block_limit(total)
    }

    fn put_block(&self, block_len: usize, buf: &mut impl BufMut) {
        self.for_each_fixed(&mut |id, raw| raw.put_property(id, buf));
        match &self.kept {
            // No fixed-size property inside the block: one copy, no walk.
            Kept::Block(block) if sum([self.fixed_len(), block.len()]) == block_len => {
                buf.put_slice(block);
            }
            Kept::Block(block) => kept_runs(block, |run| buf.put_slice(run)),
            Kept::Owned(owned) => owned.for_each(&mut |id, raw| raw.put_property(id, buf)),
        }
    }

    #[inline]
    fn is_unset(&self) -> bool {
        self.payload_format_indicator.is_none()
            && self.message_expiry_interval.is_none()
            && self.topic_alias.is_none()
            && match &self.kept {
                Kept::Block(block) => block.is_empty(),
                Kept::Owned(owned) => owned.is_unset(),
            }
    }
}

impl PartialEq for PublishProperties {
    /// Equal when every property is: a decoded set equals the same set made
    /// by hand.
    fn eq(&self, other: &Self) -> bool {
        self.payload_format_indicator == other.payload_format_indicator
            && self.message_expiry_interval == other.message_expiry_interval
            && self.topic_alias == other.topic_alias
            && self.response_topic() == other.response_topic()
            && self.correlation_data() == other.correlation_data()
            && self.content_type() == other.content_type()
            && self.subscription_identifiers() == other.subscription_identifiers()
            && self.user_properties() == other.user_properties()
    }
}

impl Eq for PublishProperties {}

impl fmt::Debug for PublishProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishProperties")
            .field("payload_format_indicator", &self.payload_format_indicator)
            .field("message_expiry_interval", &self.message_expiry_interval)
            .field("topic_alias", &self.topic_alias)
            .field("response_topic", &self.response_topic())
            .field("correlation_data", &self.correlation_data())
            .field("content_type", &self.content_type())
            .field("subscription_identifiers", &self.subscription_identifiers())
            .field("user_properties", &self.user_properties())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &'static str) -> MqttString {
        MqttString::from_static(s).unwrap_or_default()
    }

    fn decoded(block: &[u8]) -> PublishProperties {
        let mut input = alloc::vec![u8::try_from(block.len()).unwrap_or(0)];
        input.extend_from_slice(block);
        let frame = Bytes::from(input);
        let mut props = PublishProperties::default();
        let parsed = decode_properties_into(&mut props, &frame, &frame);
        assert!(parsed.is_ok(), "{parsed:?}");
        props
    }

    /// Content Type "a", User Property ("k", "v"), Message Expiry 9.
    const BLOCK: &[u8] = b"\x03\x00\x01a\x26\x00\x01k\x00\x01v\x02\x00\x00\x00\x09";

    #[test]
    fn decoded_block_reads_as_values_and_equals_the_same_set_made_by_hand() {
        let props = decoded(BLOCK);
        assert_eq!(props.content_type(), Some(string("a")));
        assert_eq!(props.message_expiry_interval, Some(9));
        assert_eq!(props.correlation_data(), None);
        assert!(props.subscription_identifiers().is_empty());
        let pairs: alloc::vec::Vec<_> = props.user_properties().iter_owned().collect();
        assert_eq!(pairs, [(string("k"), string("v"))]);

        let mut by_hand = PublishProperties {
            message_expiry_interval: Some(9),
            ..PublishProperties::default()
        };
        by_hand.set_content_type(Some(string("a")));
        by_hand.push_user_property(string("k"), string("v"));
        assert_eq!(props, by_hand);
    }

    #[test]
    fn changing_a_decoded_set_keeps_the_other_properties() {
        let mut props = decoded(BLOCK);
        props.set_correlation_data(Some(Bytes::from_static(b"id")));
        assert_eq!(props.content_type(), Some(string("a")));
        assert_eq!(props.correlation_data(), Some(Bytes::from_static(b"id")));
        assert_eq!(props.user_properties().len(), 1);
        props.set_user_properties(UserProperties::new());
        assert!(props.user_properties().is_empty());
        assert_eq!(props.message_expiry_interval, Some(9));
    }

    #[test]
    fn for_each_hands_out_every_property_once() {
        let mut seen = alloc::vec::Vec::new();
        decoded(BLOCK).for_each_property(|id, _| seen.push(id));
        seen.sort();
        assert_eq!(
            seen,
            [
                PropertyId::MessageExpiryInterval,
                PropertyId::ContentType,
                PropertyId::UserProperty
            ]
        );
    }

    /// The block as the generic walk writes it, value by value.
    fn written_value_by_value(props: &PublishProperties) -> alloc::vec::Vec<u8> {
        let mut out = alloc::vec::Vec::new();
        props.for_each(&mut |id, raw| {
            out.put_u8(id as u8);
            raw.put(&mut out);
        });
        out
    }

    fn written_by_put_block(props: &PublishProperties) -> alloc::vec::Vec<u8> {
        let mut out = alloc::vec::Vec::new();
        let block_len = props.encoded_block_len().unwrap_or_default();
        props.put_block(block_len, &mut out);
        out
    }

    /// A decoded block is written stretch by stretch; the bytes and the
    /// length must be those of the value-by-value walk wherever the
    /// fixed-size properties sit in the block, changed or not.
    #[test]
    fn a_decoded_block_is_copied_in_stretches_as_the_walk_writes_it() {
        let alias = b"\x23\x00\x05".as_slice();
        let expiry = b"\x02\x00\x00\x00\x09".as_slice();
        let content = b"\x03\x00\x01a".as_slice();
        let pair = b"\x26\x00\x01k\x00\x01v".as_slice();
        let id = b"\x0b\x81\x01".as_slice();
        let blocks: [&[&[u8]]; 6] = [
            &[content, pair, id],
            &[alias, content, pair],
            &[content, alias, pair, expiry, id],
            &[content, pair, expiry],
            &[expiry, alias, content, pair, pair],
            &[alias, expiry],
        ];
        for parts in blocks {
            let block = parts.concat();
            let mut props = decoded(&block);
            for change in [false, true] {
                if change {
                    props.topic_alias = None;
                    props.message_expiry_interval = Some(3);
                    props.payload_format_indicator = Some(PayloadFormat::Utf8);
                }
                let expected = written_value_by_value(&props);
                assert_eq!(written_by_put_block(&props), expected, "{block:x?}");
                assert_eq!(props.encoded_block_len(), Ok(expected.len()));
                assert_eq!(properties_block_len(&props), Ok(expected.len()));
            }
        }
    }

    #[test]
    fn a_set_made_by_hand_is_written_as_the_walk_writes_it() {
        let mut props = PublishProperties {
            topic_alias: NonZeroU16::new(2),
            ..PublishProperties::default()
        };
        props.set_content_type(Some(string("a")));
        props.push_user_property(string("k"), string("v"));
        let expected = written_value_by_value(&props);
        assert_eq!(written_by_put_block(&props), expected);
        assert_eq!(props.encoded_block_len(), Ok(expected.len()));
    }

    #[test]
    fn a_block_of_fixed_size_properties_only_is_not_kept() {
        let props = decoded(b"\x23\x00\x05");
        assert_eq!(props.topic_alias, NonZeroU16::new(5));
        assert!(matches!(&props.kept, Kept::Block(block) if block.is_empty()));
    }
}
