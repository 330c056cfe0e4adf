//! Arbitrary bytes decoded with a V5 decoder, whole and streamed; see
//! `mqttkit_fuzz::check_decode` for the oracle and `mqttkit_fuzz::StreamInput` for
//! the input layout.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqttkit_codec::ProtocolVersion;

fuzz_target!(|data: &[u8]| {
    mqttkit_fuzz::check_decode(data, ProtocolVersion::V5);
});
