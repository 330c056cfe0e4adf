//! Arbitrary bytes decoded with a V3_1 decoder, whole and streamed; see
//! `mqtt_fuzz::check_decode` for the oracle and `mqtt_fuzz::StreamInput` for
//! the input layout.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_codec::ProtocolVersion;

fuzz_target!(|data: &[u8]| {
    mqtt_fuzz::check_decode(data, ProtocolVersion::V3_1);
});
