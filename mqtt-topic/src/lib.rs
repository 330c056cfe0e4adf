#![doc = include_str!("../README.md")]
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
#[doc(hidden)]
pub use validate::or_over_words;
