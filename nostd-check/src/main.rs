//! Proves that `mqttkit-codec` and `mqttkit-topic` build without `std`.
//!
//! Built for a bare-metal target on its own (`-p`, so that no other
//! workspace member can switch `std` features on):
//!
//! ```sh
//! rustup target add thumbv7em-none-eabihf
//! cargo build -p nostd-check --target thumbv7em-none-eabihf --release
//! ```
//!
//! That target has no `std` at all, so any dependency that links `std`
//! fails the build. There the binary is `#![no_std] #![no_main]` with its own
//! panic handler and a bump allocator; on a hosted target it is an ordinary
//! program running the same checks, so that the workspace-wide `cargo
//! clippy` and `cargo test` keep working.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use bytes::{Bytes, BytesMut};
use mqttkit_codec::{Decoded, Decoder, Packet, ProtocolVersion};
use mqttkit_topic::{QoS, SubscriptionIndex, SubscriptionOptions, TopicFilterRef, TopicNameRef};

/// A v5 SUBSCRIBE (`sensors/+/temp`, QoS 1) followed by a v5 QoS 0 PUBLISH
/// to `sensors/kitchen/temp` with a Content Type property.
const WIRE: &[u8] = &[
    0x82, 0x14, 0x00, 0x01, 0x00, 0x00, 0x0e, b's', b'e', b'n', b's', b'o', b'r', b's', b'/', b'+',
    b'/', b't', b'e', b'm', b'p', 0x01, //
    0x30, 0x22, 0x00, 0x14, b's', b'e', b'n', b's', b'o', b'r', b's', b'/', b'k', b'i', b't', b'c',
    b'h', b'e', b'n', b'/', b't', b'e', b'm', b'p', 0x07, 0x03, 0x00, 0x04, b't', b'e', b'x', b't',
    b'2', b'1', b'.', b'5',
];

/// What [`exercise`] found; any other value is a bug in the crates.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// The PUBLISH was decoded, re-encoded byte for byte and matched the
    /// subscription decoded before it.
    Delivered,
    /// Something went wrong; the label says what.
    Failed(&'static str),
}

/// Decodes the stream, re-encodes every packet, and routes the PUBLISH
/// through a subscription index built from the SUBSCRIBE.
fn exercise() -> Outcome {
    let mut decoder = Decoder::new(ProtocolVersion::V5);
    let mut received = BytesMut::from(Bytes::from_static(WIRE));
    let mut index = SubscriptionIndex::new();
    let mut reencoded = BytesMut::new();
    let mut delivered = 0_usize;
    loop {
        let packet = match decoder.decode(&mut received) {
            Ok(Decoded::Packet(packet)) => packet,
            Ok(_) => break,
            Err(_) => return Outcome::Failed("decode"),
        };
        if packet.encode(ProtocolVersion::V5, &mut reencoded).is_err() {
            return Outcome::Failed("encode");
        }
        match packet {
            Packet::Subscribe(subscribe) => {
                for (filter, _) in &subscribe.filters {
                    let options = SubscriptionOptions::new(QoS::AtLeastOnce);
                    if index
                        .subscribe(filter.as_filter_ref(), 1_u32, options)
                        .is_err()
                    {
                        return Outcome::Failed("subscribe");
                    }
                }
            }
            Packet::Publish(publish) => {
                let Ok(topic) = TopicNameRef::new(publish.topic_str()) else {
                    return Outcome::Failed("topic");
                };
                index.match_topic(topic, |_| delivered = delivered.saturating_add(1));
            }
            _ => return Outcome::Failed("unexpected packet"),
        }
    }
    let filter_matches = TopicFilterRef::new("sensors/#")
        .is_ok_and(|f| TopicNameRef::new("sensors/kitchen/temp").is_ok_and(|t| f.matches(t)));
    match (reencoded.as_ref() == WIRE, delivered, filter_matches) {
        (true, 1, true) => Outcome::Delivered,
        (false, _, _) => Outcome::Failed("re-encoded bytes differ"),
        _ => Outcome::Failed("matching"),
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    let outcome = exercise();
    println!("{outcome:?}");
    if outcome != Outcome::Delivered {
        std::process::exit(1);
    }
}

#[cfg(target_os = "none")]
mod bare_metal {
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;
    use core::ptr;
    use core::sync::atomic::{AtomicUsize, Ordering};

    /// The reset entry point a linker script would name; it runs the checks
    /// and parks, keeping the result observable to a debugger.
    #[allow(unsafe_code)] // `no_mangle` is an unsafe attribute in edition 2024.
    #[unsafe(no_mangle)]
    pub extern "C" fn _start() -> ! {
        let outcome = super::exercise();
        core::hint::black_box(&outcome);
        loop {
            core::hint::spin_loop();
        }
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        loop {
            core::hint::spin_loop();
        }
    }

    const HEAP_BYTES: usize = 64 * 1024;

    /// A bump allocator over a static arena: it never frees, which is enough
    /// for one run of [`super::exercise`].
    struct BumpHeap {
        arena: UnsafeCell<[u8; HEAP_BYTES]>,
        next: AtomicUsize,
    }

    // SAFETY: the arena is only handed out in disjoint pieces, reserved
    // through the atomic `next`.
    #[allow(unsafe_code)]
    unsafe impl Sync for BumpHeap {}

    // SAFETY: every returned block lies inside the arena, is aligned as
    // asked, and is never returned twice (`next` only grows).
    #[allow(unsafe_code)]
    unsafe impl GlobalAlloc for BumpHeap {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let base = self.arena.get().cast::<u8>();
            let mut current = self.next.load(Ordering::Relaxed);
            loop {
                let address = (base as usize).saturating_add(current);
                let padding = address.wrapping_neg() & (layout.align() - 1);
                let Some(end) = current
                    .checked_add(padding)
                    .and_then(|start| start.checked_add(layout.size()))
                else {
                    return ptr::null_mut();
                };
                if end > HEAP_BYTES {
                    return ptr::null_mut();
                }
                match self.next.compare_exchange_weak(
                    current,
                    end,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return base.wrapping_add(current + padding),
                    Err(seen) => current = seen,
                }
            }
        }

        unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
    }

    #[global_allocator]
    static HEAP: BumpHeap = BumpHeap {
        arena: UnsafeCell::new([0; HEAP_BYTES]),
        next: AtomicUsize::new(0),
    };
}
