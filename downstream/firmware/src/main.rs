//! A firmware-style `#![no_std]` `#![no_main]` binary for
//! `thumbv7em-none-eabihf` on `mqttkit-codec` and `mqttkit-session` without
//! their `std` feature: it encodes a CONNECT and a PUBLISH into a buffer and
//! decodes them back, as a device's MQTT layer would, then lets a session
//! `Client` send the same two packets. A bump allocator is the heap. No
//! `std` exists for that target, so a dependency that links it fails the
//! build. Built only: the outcome is left for a debugger.
#![no_std]
#![no_main]

use mqttkit_codec::bytes::BytesMut;
use mqttkit_codec::{
    ConnAck, Connect, ConnectReasonCode, Decoded, Decoder, MqttString, Packet, PacketId,
    ProtocolVersion, Publish, PublishQoS, QoS, TopicName,
};
use mqttkit_session::{Client, ClientConfig, Instant, Message, Session};

const VERSION: ProtocolVersion = ProtocolVersion::V5;

/// What [`run`] found; anything but `Ok(())` is a bug in the crates.
fn run() -> Result<(), &'static str> {
    let id = MqttString::try_from("device-1").map_err(|_| "client id")?;
    let topic = TopicName::from_static("plant/line1/temp").map_err(|_| "topic")?;
    let connect = Connect::new(VERSION, id.clone());
    let packet_id = PacketId::new(1).ok_or("packet id")?;
    let publish = Publish::new(topic.clone(), &b"21.5"[..])
        .with_qos(PublishQoS::new(QoS::AtLeastOnce, packet_id));

    // Encode both into one buffer, as they would leave for the socket, and decode them back.
    let mut wire = BytesMut::with_capacity(128);
    for packet in [Packet::from(connect.clone()), Packet::from(publish.clone())] {
        packet.encode(VERSION, &mut wire).map_err(|_| "encode")?;
    }
    if read_two(&mut wire)? != (connect.clone(), publish.clone()) {
        return Err("the round trip changed a packet");
    }

    // A session client sends the same: CONNECT, then the PUBLISH once CONNACK is in.
    let now = Instant::ZERO;
    let mut client = Client::new(Session::new(id.clone()), ClientConfig::default());
    client.connect(now, connect).map_err(|_| "connect")?;
    let message = Message::new(topic, &b"21.5"[..], QoS::AtLeastOnce);
    client.publish(now, message).map_err(|_| "publish")?;
    let mut reply = BytesMut::new();
    Packet::from(ConnAck::new(false, ConnectReasonCode::Success))
        .encode(VERSION, &mut reply)
        .map_err(|_| "encode CONNACK")?;
    let mut out = BytesMut::new();
    while client.poll_transmit(&mut out).is_some() {}
    client.handle_bytes(now, &reply);
    if client.violation().is_some() {
        return Err("CONNACK");
    }
    while client.poll_persist().is_some() {} // flash storage would take these first
    while client.poll_transmit(&mut out).is_some() {}
    let (sent_connect, sent_publish) = read_two(&mut out)?;
    if sent_connect.client_id != id || sent_publish != publish {
        return Err("the client sent other packets");
    }
    Ok(())
}

/// Decodes a CONNECT and a PUBLISH, which must be all of `wire`.
fn read_two(wire: &mut BytesMut) -> Result<(Connect, Publish), &'static str> {
    let mut decoder = Decoder::new(VERSION);
    let Ok(Decoded::Packet(Packet::Connect(connect))) = decoder.decode(wire) else {
        return Err("no CONNECT");
    };
    let Ok(Decoded::Packet(Packet::Publish(publish))) = decoder.decode(wire) else {
        return Err("no PUBLISH");
    };
    if !wire.is_empty() {
        return Err("bytes left over");
    }
    Ok((*connect, publish))
}

/// The reset entry point a linker script would name: runs the checks and
/// parks, the result left where a debugger can read it.
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    let outcome = run();
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

mod heap {
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;
    use core::ptr;
    use core::sync::atomic::{AtomicUsize, Ordering};

    const HEAP_BYTES: usize = 64 * 1024;

    /// A bump allocator over a static arena: it never frees, which is
    /// enough for one run.
    struct BumpHeap {
        arena: UnsafeCell<[u8; HEAP_BYTES]>,
        next: AtomicUsize,
    }

    // SAFETY: the arena is only handed out in disjoint pieces, reserved
    // through the atomic `next`.
    unsafe impl Sync for BumpHeap {}

    // SAFETY: every returned block lies inside the arena, is aligned as
    // asked, and is never returned twice (`next` only grows).
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
