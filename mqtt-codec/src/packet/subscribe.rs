//! SUBSCRIBE (v5 §3.8, v3.1.1 §3.8).

use alloc::vec::Vec;

use bytes::{BufMut, Bytes};
use mqttkit_topic::{SharedSubscription, TopicError, TopicFilter};

use super::{
    Body, PacketDecoder, decode_topic_filter, id_and_properties_len, put_id_and_properties,
};
use crate::coding::{byte, length_prefixed, put_length_prefixed, sum};
use crate::error::{DecodeError, EncodeError, InvalidPacket, VersionFeature};
use crate::header::PacketType;
use crate::property::SubscribeProperties;
pub use mqttkit_topic::RetainHandling;

use crate::types::{PacketId, QoS};
use crate::version::ProtocolVersion;

/// The options byte of one subscription (v5 §3.8.3.1; only `qos` in 3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS the server may deliver with.
    pub qos: QoS,
    /// Do not deliver the client's own messages back to it (5.0).
    pub no_local: bool,
    /// Keep the RETAIN flag of forwarded messages (5.0).
    pub retain_as_published: bool,
    /// When to send retained messages (5.0).
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// Options with `qos` and every 5.0 option at its default.
    pub const fn new(qos: QoS) -> Self {
        Self {
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::SendAtSubscribe,
        }
    }

    /// What a subscription index stores for this request: these options
    /// and the SUBSCRIBE's Subscription Identifier, if any.
    pub const fn for_index(
        self,
        subscription_identifier: Option<core::num::NonZeroU32>,
    ) -> mqttkit_topic::SubscriptionOptions {
        mqttkit_topic::SubscriptionOptions {
            qos: self.qos,
            no_local: self.no_local,
            retain_as_published: self.retain_as_published,
            retain_handling: self.retain_handling,
            subscription_identifier,
        }
    }

    fn to_byte(self) -> u8 {
        self.qos.bits()
            | (u8::from(self.no_local) << 2)
            | (u8::from(self.retain_as_published) << 3)
            | ((self.retain_handling as u8) << 4)
    }

    fn from_byte(byte: u8, version: ProtocolVersion) -> Result<Self, DecodeError> {
        // v5 [MQTT-3.8.3-5]: bits 7-6 reserved; v3.1.1 [MQTT-3.8.3-4]: bits 7-2.
        let reserved = if version.is_v5() {
            0b1100_0000
        } else {
            0b1111_1100
        };
        if byte & reserved != 0 {
            return Err(DecodeError::SubscriptionOptionsReserved);
        }
        let retain_handling = match (byte >> 4) & 0b11 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendAtSubscribeIfNew,
            2 => RetainHandling::DoNotSend,
            // v5 §3.8.3.1: "It is a Protocol Error to send a Retain Handling value of 3."
            _ => return Err(DecodeError::InvalidRetainHandling),
        };
        Ok(Self {
            qos: QoS::from_bits(byte & 0b11).ok_or(DecodeError::InvalidQoS)?,
            no_local: byte & 0b0100 != 0,
            retain_as_published: byte & 0b1000 != 0,
            retain_handling,
        })
    }
}

/// A SUBSCRIBE packet: at least one filter with its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// The packet identifier.
    pub packet_id: PacketId,
    /// Filters and options, in order. In 5.0 a `$share/{ShareName}/{filter}`
    /// filter is a validated shared subscription.
    pub filters: Vec<(TopicFilter, SubscriptionOptions)>,
    /// MQTT 5.0 properties.
    pub properties: SubscribeProperties,
}

impl Subscribe {
    /// A SUBSCRIBE of one filter.
    pub fn new(packet_id: PacketId, filter: TopicFilter, options: SubscriptionOptions) -> Self {
        Self {
            packet_id,
            filters: alloc::vec![(filter, options)],
            properties: SubscribeProperties::default(),
        }
    }
}

/// Checks the v5 shared-subscription rules of a filter (v5 §4.8.2).
pub(crate) fn check_shared(filter: &TopicFilter) -> Result<bool, TopicError> {
    SharedSubscription::parse(filter).map(|shared| shared.is_some())
}

impl Body for Subscribe {
    const TYPE: PacketType = PacketType::Subscribe;

    fn decode(_: u8, body: &Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let mut p = PacketDecoder::new(Self::TYPE, body);
        let packet_id = p.packet_id()?;
        let properties = p.properties(version)?;
        let mut filters = Vec::new();
        while !p.is_empty() {
            // v5 [MQTT-3.8.3-1], v3.1.1 [MQTT-3.8.3-1]: UTF-8 topic filters.
            let filter = decode_topic_filter(body, p.run(length_prefixed)?)?;
            let options = SubscriptionOptions::from_byte(p.run(byte)?, version)?;
            // v5 [MQTT-3.8.3-4]: No Local on a shared subscription is a Protocol Error.
            if version.is_v5()
                && check_shared(&filter).map_err(DecodeError::TopicFilter)?
                && options.no_local
            {
                return Err(DecodeError::NoLocalOnSharedSubscription);
            }
            filters.push((filter, options));
        }
        // v5 [MQTT-3.8.3-2], v3.1.1 [MQTT-3.8.3-3].
        if filters.is_empty() {
            return Err(DecodeError::EmptySubscribe);
        }
        Ok(Self {
            packet_id,
            filters,
            properties,
        })
    }

    fn remaining_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::InvalidPacket(InvalidPacket::EmptySubscribe));
        }
        let mut len = id_and_properties_len(version, &self.properties)?;
        for (filter, options) in &self.filters {
            if version.is_v5() {
                let shared = check_shared(filter).map_err(|e| {
                    EncodeError::InvalidPacket(InvalidPacket::SharedSubscription(e))
                })?;
                if shared && options.no_local {
                    return Err(EncodeError::InvalidPacket(
                        InvalidPacket::NoLocalOnSharedSubscription,
                    ));
                }
            } else if *options != SubscriptionOptions::new(options.qos) {
                return Err(EncodeError::NotInVersion(
                    VersionFeature::SubscriptionOptions,
                ));
            }
            len = sum([len, 3, filter.len()]);
        }
        Ok(len)
    }

    fn put_body(&self, version: ProtocolVersion, buf: &mut impl BufMut) {
        put_id_and_properties(buf, self.packet_id, version, &self.properties);
        for (filter, options) in &self.filters {
            put_length_prefixed(buf, filter.as_bytes());
            buf.put_u8(options.to_byte());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::packet::Packet;
    use crate::packet::tests::{decode_hex, roundtrip};

    fn filter(s: &'static str) -> TopicFilter {
        TopicFilter::from_static(s).unwrap()
    }

    /// v3.1.1 §3.8 layout: two filters.
    #[test]
    fn v3_1_1_subscribe_bytes() {
        let mut sub = Subscribe::new(
            PacketId::new(10).unwrap(),
            filter("a/b"),
            SubscriptionOptions::new(QoS::AtLeastOnce),
        );
        sub.filters
            .push((filter("c/+"), SubscriptionOptions::new(QoS::ExactlyOnce)));
        let bytes = decode_hex("82 0e 000a 0003 612f62 01 0003 632f2b 02");
        roundtrip(&sub.into(), ProtocolVersion::V3_1_1, &bytes);
    }

    /// v5 §3.8 layout with a Subscription Identifier and all options.
    #[test]
    fn v5_subscribe_bytes_with_options_and_identifier() {
        let mut sub = Subscribe::new(
            PacketId::new(1).unwrap(),
            filter("a/#"),
            SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                no_local: true,
                retain_as_published: true,
                retain_handling: RetainHandling::DoNotSend,
            },
        );
        sub.properties.subscription_identifier = core::num::NonZeroU32::new(300);
        let bytes = decode_hex("82 0c 0001 03 0bac02 0003 612f23 2d");
        roundtrip(&sub.into(), ProtocolVersion::V5, &bytes);
    }

    /// v5 [MQTT-3.8.3-2], v3.1.1 [MQTT-3.8.3-3]: no filter is a protocol violation.
    #[test]
    fn v5_mqtt_3_8_3_2_empty_subscribe_is_rejected() {
        assert_eq!(
            Packet::decode(&decode_hex("82 02 0001"), ProtocolVersion::V3_1_1),
            Err(DecodeError::EmptySubscribe)
        );
        assert_eq!(
            Packet::decode(&decode_hex("82 03 0001 00"), ProtocolVersion::V5),
            Err(DecodeError::EmptySubscribe)
        );
    }

    /// v5 [MQTT-3.8.3-5], v3.1.1 [MQTT-3.8.3-4]: reserved option bits.
    #[test]
    fn v5_mqtt_3_8_3_5_reserved_option_bits_are_rejected() {
        assert_eq!(
            Packet::decode(&decode_hex("82 07 0001 00 0001 61 c1"), ProtocolVersion::V5),
            Err(DecodeError::SubscriptionOptionsReserved)
        );
        assert_eq!(
            Packet::decode(
                &decode_hex("82 06 0001 0001 61 04"),
                ProtocolVersion::V3_1_1
            ),
            Err(DecodeError::SubscriptionOptionsReserved)
        );
    }

    /// v5 §3.8.3.1: Retain Handling 3.
    #[test]
    fn v5_retain_handling_3_is_rejected() {
        assert_eq!(
            Packet::decode(&decode_hex("82 07 0001 00 0001 61 30"), ProtocolVersion::V5),
            Err(DecodeError::InvalidRetainHandling)
        );
    }

    /// v5 [MQTT-4.7.1-2] / v3.1.1 [MQTT-4.7.1-2]: `#` must be the last level.
    #[test]
    fn v5_mqtt_4_7_1_2_filter_a_hash_b_is_rejected() {
        for (hex, version) in [
            ("82 0a 0001 0005 612f232f62 00", ProtocolVersion::V3_1_1),
            ("82 0b 0001 00 0005 612f232f62 00", ProtocolVersion::V5),
        ] {
            assert!(matches!(
                Packet::decode(&decode_hex(hex), version),
                Err(DecodeError::TopicFilter(_))
            ));
        }
    }

    /// v5 [MQTT-4.8.2-1]: `$share//a` has an empty ShareName; in 3.1.1 `$share/g/a`
    /// is an ordinary filter.
    #[test]
    fn v5_mqtt_4_8_2_1_empty_share_name_is_rejected() {
        let bytes = decode_hex("82 0f 0001 00 0009 2473686172652f2f61 00");
        assert!(matches!(
            Packet::decode(&bytes, ProtocolVersion::V5),
            Err(DecodeError::TopicFilter(_))
        ));
    }

    /// v5 [MQTT-3.8.3-4]: No Local on a shared subscription.
    #[test]
    fn v5_mqtt_3_8_3_4_no_local_on_shared_is_rejected() {
        let bytes = decode_hex("82 10 0001 00 000a 2473686172652f672f61 04");
        assert_eq!(
            Packet::decode(&bytes, ProtocolVersion::V5),
            Err(DecodeError::NoLocalOnSharedSubscription)
        );
    }
}
