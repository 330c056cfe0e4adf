//! Arbitrary bytes read as a `FileStore` file (`FileStore::read_bytes`,
//! what `FileStore::open` does with the file's content). The oracle: no
//! panic, and no single allocation larger than a small multiple of the
//! input, whatever its length fields and counts say (the in-memory state
//! is larger than its encoding, hence the multiple rather than the size).
//!
//! `data[0]` picks the layout, so that the fuzzer reaches past the
//! checksums it cannot forge:
//! - `0`: the rest is the whole file;
//! - `1`: a valid header for the client, then the rest as raw frames;
//! - `2`: a valid header, then the rest as bodies (`u8` length, bytes),
//!   each framed with correct checksums; a body of length 255 ends the
//!   list and the bytes after it are appended raw, as a damaged tail.
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use libfuzzer_sys::fuzz_target;
use mqttkit_tokio::{FileStore, FileStoreOptions, StoreError};

/// The largest single allocation since the last reset.
static LARGEST: AtomicUsize = AtomicUsize::new(0);

struct Counting;

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counter only records the size asked for.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const CLIENT: &str = "fuzz-client";

/// CRC-32 (IEEE), as the store computes it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

/// The file header for `CLIENT`, format version 1.
fn header(file: &mut Vec<u8>) {
    file.extend_from_slice(b"MQTKSTOR");
    file.push(1);
    file.extend_from_slice(&(CLIENT.len() as u16).to_be_bytes());
    file.extend_from_slice(CLIENT.as_bytes());
    let crc = crc32(file);
    file.extend_from_slice(&crc.to_be_bytes());
}

fn frame(file: &mut Vec<u8>, body: &[u8]) {
    let len = (body.len() as u32).to_be_bytes();
    file.extend_from_slice(&len);
    file.extend_from_slice(&crc32(&len).to_be_bytes());
    file.extend_from_slice(&crc32(body).to_be_bytes());
    file.extend_from_slice(body);
}

fn file_of(data: &[u8]) -> Vec<u8> {
    let Some((&mode, rest)) = data.split_first() else {
        return Vec::new();
    };
    let mut file = Vec::new();
    match mode % 3 {
        0 => file.extend_from_slice(rest),
        1 => {
            header(&mut file);
            file.extend_from_slice(rest);
        }
        _ => {
            header(&mut file);
            let mut rest = rest;
            while let Some((&len, after)) = rest.split_first() {
                if len == 255 {
                    file.extend_from_slice(after);
                    break;
                }
                let (body, after) = after.split_at(usize::from(len).min(after.len()));
                frame(&mut file, body);
                rest = after;
            }
        }
    }
    file
}

fuzz_target!(|data: &[u8]| {
    let file = file_of(data);
    let options = FileStoreOptions::default().max_record_size(4096);
    LARGEST.store(0, Ordering::Relaxed);
    let result = FileStore::read_bytes(&file, CLIENT, &options);
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest <= 64 * file.len() + 4096,
        "an allocation of {largest} bytes for a file of {}",
        file.len()
    );
    if let Err(StoreError::Io(e)) = result {
        panic!("reading bytes does no I/O, yet: {e}");
    }
});
