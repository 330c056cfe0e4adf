//! Topic Alias tables, one per direction and per connection, in both roles
//! (v5 §3.3.2.3.4): aliases never outlive their connection.

use alloc::collections::BTreeMap;
use core::num::NonZeroU16;

use bytes::Bytes;
use mqttkit_codec::Publish;
use mqttkit_topic::TopicName;

use crate::error::ProtocolViolation;
use crate::violation::PeerMisbehaved;

/// Our outbound Topic Alias table: the first `max` topics used on this
/// connection get an alias; it is never carried to another connection
/// (v5 [MQTT-3.3.2-7]).
#[derive(Debug, Clone, Default)]
pub(crate) struct OutAliases {
    max: u16,
    map: BTreeMap<Bytes, NonZeroU16>,
}

impl OutAliases {
    pub(crate) fn new(max: u16) -> Self {
        Self {
            max,
            map: BTreeMap::new(),
        }
    }

    /// Whether no alias is mapped.
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Replaces the topic by an alias when one is mapped, or maps one.
    pub(crate) fn apply(&mut self, publish: &mut Publish) {
        let Some(topic) = &publish.topic else { return };
        if let Some(alias) = self.map.get(topic.as_bytes()) {
            publish.properties.topic_alias = Some(*alias);
            publish.topic = None;
            return;
        }
        let next = u16::try_from(self.map.len().saturating_add(1)).unwrap_or(u16::MAX);
        if next <= self.max
            && let Some(alias) = NonZeroU16::new(next)
        {
            self.map.insert(topic.clone().into_bytes(), alias);
            publish.properties.topic_alias = Some(alias);
        }
    }
}

/// The server's aliases for this connection, bounded by the Topic Alias
/// Maximum we sent.
#[derive(Debug, Clone, Default)]
pub(crate) struct InAliases {
    pub(crate) max: u16,
    pub(crate) map: BTreeMap<u16, TopicName>,
}

impl InAliases {
    /// Resolves the Topic Alias of a received PUBLISH (v5 §3.3.2.3.4): a
    /// topic with an alias sets the mapping, an empty topic takes it. The
    /// alias is taken out of the properties. `above_maximum` is the rule the
    /// peer breaks with an alias above our maximum (the two roles cite
    /// different statements).
    pub(crate) fn resolve(
        &mut self,
        publish: &mut Publish,
        above_maximum: PeerMisbehaved,
    ) -> Result<(), ProtocolViolation> {
        let Some(alias) = publish.properties.topic_alias.take() else {
            return Ok(());
        };
        if alias.get() > self.max {
            return Err(ProtocolViolation::rule(above_maximum));
        }
        match publish.topic.as_ref().filter(|t| !t.is_empty()) {
            Some(topic) => {
                self.map.insert(alias.get(), topic.clone());
            }
            None => match self.map.get(&alias.get()) {
                Some(topic) => publish.topic = Some(topic.clone()),
                None => {
                    return Err(ProtocolViolation::rule(PeerMisbehaved::UnknownTopicAlias));
                }
            },
        }
        Ok(())
    }
}
