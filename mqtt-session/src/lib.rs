//! Sans-IO MQTT session state machines.
//!
//! This crate is reserved for the client and server session cores built on
//! `mqtt-codec` and `mqtt-topic`. It has no public API yet: the session work is
//! tracked in its own issues, and nothing here should be depended on.
#![no_std]
