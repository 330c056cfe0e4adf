//! MQTT topic names, topic filters and shared subscriptions: validation, matching and
//! the indexes a broker routes with.
//!
//! This crate owns every topic rule of MQTT 5.0 and 3.1.1 (§4.7, §4.8.2): the codec
//! decodes straight into its validated types, and brokers match with them.
//!
//! - [`TopicName`] / [`TopicNameRef`]: validated topic names (no wildcards).
//! - [`TopicFilter`] / [`TopicFilterRef`]: validated topic filters.
//! - [`SharedSubscription`] / [`SharedSubscriptionRef`]: `$share/{ShareName}/{filter}`.
//! - [`matches()`]: one filter against one topic; [`covers`]: one filter against another.
//! - [`SubscriptionIndex`]: which subscriptions match a topic, through `&self`, without
//!   allocating; [`Deliveries`] merges them into one delivery per client (v5 §3.3.4).
//! - [`RetainedIndex`]: which retained topics a new subscription's filter matches.
//!
//! Every constructor validates; every error names the statement it enforces
//! ([`TopicError::rule`]). Owned types wrap [`bytes::Bytes`] and never copy.
//!
//! ```
//! use mqtt_topic::{
//!     Matched, QoS, SubscriptionIndex, SubscriptionOptions, TopicError, TopicFilter,
//!     TopicFilterRef, TopicName,
//! };
//!
//! let name = TopicName::try_from("sport/tennis/player1")?;
//! let err = TopicFilter::try_from("sport/tennis#").unwrap_err();
//! assert_eq!(err, TopicError::HashNotWholeLastLevel);
//! assert_eq!(err.rule(), "v5 [MQTT-4.7.1-1], v3.1.1 [MQTT-4.7.1-2]");
//!
//! let mut index = SubscriptionIndex::new();
//! let options = SubscriptionOptions::new(QoS::AtLeastOnce);
//! index.subscribe(TopicFilterRef::new("sport/#")?, "alice", options).unwrap();
//! index.subscribe(TopicFilterRef::new("sport/+/player1")?, "bob", options).unwrap();
//! index.subscribe(TopicFilterRef::new("#")?, "carol", options).unwrap();
//!
//! let mut clients = Vec::new();
//! index.match_name(&name, |m| {
//!     if let Matched::Subscriber { key, .. } = m {
//!         clients.push(*key);
//!     }
//! });
//! clients.sort();
//! assert_eq!(clients, ["alice", "bob", "carol"]);
//!
//! // `#` never matches a topic starting with `$` (v5 [MQTT-4.7.2-1]).
//! assert!(!index.has_match(TopicName::try_from("$SYS/uptime")?.as_topic_ref()));
//! # Ok::<(), TopicError>(())
//! ```
//!
//! The crate is `#![no_std]` with `alloc` (the indexes use `hashbrown`); the default
//! `std` feature only adds `std::error::Error` integration through `thiserror`.
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
mod slab;
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
