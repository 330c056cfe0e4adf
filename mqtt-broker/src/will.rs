//! A will as the message it becomes.

use mqttkit_tokio::{LastWill, Message, PublishProperties};

/// The message `will` publishes, with the will's properties carried over
/// (v5 §3.1.3.2).
pub(crate) fn message(will: LastWill) -> Message {
    let w = will.properties;
    let mut properties = PublishProperties::default();
    properties.payload_format_indicator = w.payload_format_indicator;
    properties.message_expiry_interval = w.message_expiry_interval;
    properties.set_content_type(w.content_type);
    properties.set_response_topic(w.response_topic);
    properties.set_correlation_data(w.correlation_data);
    properties.set_user_properties(w.user_properties);
    let mut message = Message::new(will.topic, will.payload, will.qos);
    message.retain = will.retain;
    message.properties = properties;
    message
}
