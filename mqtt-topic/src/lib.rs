//! MQTT topic names, topic filters and shared subscriptions.
//!
//! This crate owns every topic rule of MQTT 5.0 and 3.1.1 (§4.7, §4.8.2): the codec
//! decodes straight into its validated types, and brokers match with them.
//!
//! - [`TopicName`] / [`TopicNameRef`]: validated topic names (no wildcards).
//! - [`TopicFilter`] / [`TopicFilterRef`]: validated topic filters.
//! - [`SharedSubscription`] / [`SharedSubscriptionRef`]: `$share/{ShareName}/{filter}`.
//!
//! Every constructor validates; every error names the statement it enforces
//! ([`TopicError::rule`]). Owned types wrap [`bytes::Bytes`] and never copy.
//!
//! ```
//! use mqtt_topic::{TopicFilter, TopicName, TopicError};
//!
//! let name = TopicName::try_from("sport/tennis/player1")?;
//! assert_eq!(name.len(), 20);
//! let err = TopicFilter::try_from("sport/tennis#").unwrap_err();
//! assert_eq!(err, TopicError::HashNotWholeLastLevel);
//! assert_eq!(err.rule(), "v5 [MQTT-4.7.1-1], v3.1.1 [MQTT-4.7.1-2]");
//! # Ok::<(), TopicError>(())
//! ```
//!
//! The crate is `#![no_std]` with `alloc`; the default `std` feature only adds
//! `std::error::Error` integration through `thiserror`.
#![no_std]

extern crate alloc;

mod covers;
mod delivery;
mod error;
mod filter;
mod index;
mod level;
mod matching;
mod name;
mod options;
mod retained;
mod shared;
mod validate;

pub use covers::covers;
pub use delivery::{Deliveries, Delivery};
pub use error::TopicError;
pub use filter::{TopicFilter, TopicFilterRef};
pub use index::{IndexFull, Matched, SharedGroupRef, SubscriptionIndex};
pub use matching::{matches, matches_str};
pub use name::{TopicName, TopicNameRef};
pub use options::{QoS, RetainHandling, SubscriptionOptions};
pub use retained::RetainedIndex;
pub use shared::{SharedSubscription, SharedSubscriptionRef};
pub use validate::MAX_TOPIC_LEN;
