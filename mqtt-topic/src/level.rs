//! A topic level stored inline when short, so that comparing a trie edge with a topic
//! level reads the node's own cache line instead of following a pointer.

use alloc::boxed::Box;
use core::hash::BuildHasher;
use hashbrown::DefaultHashBuilder;

/// Levels up to this many bytes are stored inline; most real levels (`device`, ids,
/// numbers, `temp`) are shorter.
const INLINE: usize = 22;

/// One topic level's bytes (UTF-8, already validated as part of a name or filter).
#[derive(Clone, Debug)]
pub(crate) enum LevelKey {
    /// `len` bytes at the start of `bytes`.
    Inline { len: u8, bytes: [u8; INLINE] },
    /// A longer level.
    Heap(Box<[u8]>),
}

impl LevelKey {
    /// Copies `level`.
    pub(crate) fn new(level: &[u8]) -> Self {
        match u8::try_from(level.len()) {
            Ok(len) if level.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                for (dst, src) in bytes.iter_mut().zip(level) {
                    *dst = *src;
                }
                Self::Inline { len, bytes }
            }
            _ => Self::Heap(level.into()),
        }
    }

    /// The level's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline { len, bytes } => bytes.get(..usize::from(*len)).unwrap_or(&[]),
            Self::Heap(bytes) => bytes,
        }
    }

    /// True when this key holds exactly `level`.
    ///
    /// Short levels are compared with an inline loop: a `memcmp` call costs more than
    /// the comparison itself for the few bytes of a typical level, and this sits on
    /// the hottest path of matching.
    #[inline]
    pub(crate) fn is(&self, level: &[u8]) -> bool {
        match self {
            Self::Inline { len, bytes } => {
                usize::from(*len) == level.len() && bytes.iter().zip(level).all(|(a, b)| a == b)
            }
            Self::Heap(bytes) => **bytes == *level,
        }
    }

    /// [`LevelKey::is`] for a level whose [`word_of`] is `word`: short levels compare
    /// in one word comparison (inline bytes past the length are zero).
    #[inline]
    pub(crate) fn is_scanned(&self, level: &[u8], word: u64) -> bool {
        match self {
            Self::Inline { len, bytes } => {
                usize::from(*len) == level.len()
                    && bytes
                        .first_chunk::<8>()
                        .is_some_and(|b| u64::from_le_bytes(*b) == word)
                    && (level.len() <= 8 || bytes.get(8..usize::from(*len)) == level.get(8..))
            }
            Self::Heap(bytes) => **bytes == *level,
        }
    }

    /// The empty level, used for the root and for freed nodes.
    pub(crate) const EMPTY: Self = Self::Inline {
        len: 0,
        bytes: [0; INLINE],
    };
}

/// `/` in every byte of a word, for finding the level separator eight bytes at a time.
const SLASHES: u64 = 0x2f2f_2f2f_2f2f_2f2f;
const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The first (up to) eight bytes of `bytes`, little-endian, zero-padded: the form in
/// which the match path compares and hashes short levels with a few word operations.
#[inline]
pub(crate) fn word_of(bytes: &[u8]) -> u64 {
    if let Some(first) = bytes.first_chunk::<8>() {
        return u64::from_le_bytes(*first);
    }
    // Two overlapping loads, no byte loop: copying into a buffer and reading it back
    // as a word stalls on store forwarding, which doubled the retained lookups.
    let shift = |len: usize, width: usize| {
        u32::try_from(len.saturating_sub(width))
            .unwrap_or(0)
            .wrapping_mul(8)
    };
    let len = bytes.len();
    if let (Some(lo), Some(hi)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        let (lo, hi) = (u32::from_le_bytes(*lo), u32::from_le_bytes(*hi));
        return u64::from(lo) | u64::from(hi).wrapping_shl(shift(len, 4));
    }
    if let (Some(lo), Some(hi)) = (bytes.first_chunk::<2>(), bytes.last_chunk::<2>()) {
        let (lo, hi) = (u16::from_le_bytes(*lo), u16::from_le_bytes(*hi));
        return u64::from(lo) | u64::from(hi).wrapping_shl(shift(len, 2));
    }
    bytes.first().map_or(0, |&b| u64::from(b))
}

/// The 128-bit product of `x` and `y` folded to 64 bits (as in foldhash): one
/// multiplication mixes every input bit into the result.
#[inline]
fn folded_multiply(x: u64, y: u64) -> u64 {
    let full = u128::from(x).wrapping_mul(u128::from(y));
    let [lo, hi] = split_u128(full);
    lo ^ hi
}

#[inline]
fn split_u128(v: u128) -> [u64; 2] {
    let bytes = v.to_le_bytes();
    let (lo, hi) = bytes.split_at(8);
    [
        lo.first_chunk::<8>().map_or(0, |b| u64::from_le_bytes(*b)),
        hi.first_chunk::<8>().map_or(0, |b| u64::from_le_bytes(*b)),
    ]
}

/// Hash of the trie edge `(parent id, level)`, seeded per index.
///
/// A level of up to eight bytes (most real levels: `device`, ids, numbers, `temp`) is
/// hashed with a single folded multiplication of its zero-padded word and of the parent
/// id and length, so the match path hashes the word it already loaded while looking
/// for the next `/` instead of feeding bytes through a general-purpose hasher. The seeds
/// come from hashbrown's default (randomly seeded) hasher, so filters chosen by a
/// client cannot be made to collide without knowing them.
#[derive(Clone, Debug)]
pub(crate) struct EdgeHasher {
    seeds: [u64; 2],
}

impl EdgeHasher {
    /// A hasher with fresh seeds.
    pub(crate) fn new() -> Self {
        let random = DefaultHashBuilder::default();
        Self {
            seeds: [
                random.hash_one(0x243f_6a88_85a3_08d3_u64),
                random.hash_one(0x1319_8a2e_0370_7344_u64),
            ],
        }
    }

    /// Hash of the edge from `parent` to `level`.
    #[inline]
    pub(crate) fn hash(&self, parent: u32, level: &[u8]) -> u64 {
        self.hash_with_word(parent, level, word_of(level))
    }

    /// [`EdgeHasher::hash`] when `word` is already known to be [`word_of`]`(level)`.
    #[inline]
    pub(crate) fn hash_with_word(&self, parent: u32, level: &[u8], word: u64) -> u64 {
        // A level of up to eight bytes is its prefix hash; a longer one mixes in the rest.
        let first = self.hash_prefix(parent, level.len(), word);
        match level.get(8..) {
            None | Some([]) => first,
            Some(rest) => Self::hash_rest(first, self.seeds[1], rest),
        }
    }

    /// A hash of `key`, `len` and the first word of a level only: one multiplication,
    /// for summaries that may confuse levels sharing their first eight bytes and length.
    #[inline]
    pub(crate) fn hash_prefix(&self, key: u32, len: usize, word: u64) -> u64 {
        let [s0, s1] = self.seeds;
        // Lengths beyond `u32` cannot occur (topics are at most 65,535 bytes).
        let len = u64::try_from(len).unwrap_or(u64::MAX);
        folded_multiply(word ^ s0, (u64::from(key) | (len << 32)) ^ s1)
    }

    /// Folds the bytes after the first eight into `acc`, eight at a time.
    #[cold]
    fn hash_rest(mut acc: u64, seed: u64, rest: &[u8]) -> u64 {
        for chunk in rest.chunks(8) {
            acc = folded_multiply(acc ^ word_of(chunk), seed);
        }
        acc
    }
}

/// Where a topic level sits in its topic, as the match path sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScannedLevel<'t> {
    /// The level's bytes.
    pub(crate) bytes: &'t [u8],
    /// [`word_of`] the level.
    pub(crate) word: u64,
    /// Start of the next level; `topic.len() + 1` after the last one.
    pub(crate) next: usize,
}

/// [`level_at`] that also returns the level's first word, finding the `/` eight bytes
/// at a time: on short levels this is a few word operations instead of a byte loop.
#[inline]
pub(crate) fn scan_level(topic: &[u8], pos: usize) -> Option<ScannedLevel<'_>> {
    let rest = topic.get(pos..)?;
    let end = topic.len().checked_add(1)?;
    let Some(first) = rest.first_chunk::<8>() else {
        return Some(scan_short_tail(topic, rest, end));
    };
    let word = u64::from_le_bytes(*first);
    let x = word ^ SLASHES;
    // The lowest flagged byte is the first `/` (borrows only flag bytes above it).
    let found = x.wrapping_sub(LOW_BITS) & !x & HIGH_BITS;
    if found != 0 {
        let i = usize::try_from(found.trailing_zeros() / 8).unwrap_or(0);
        let bytes = rest.get(..i)?;
        let bits = u32::try_from(i).unwrap_or(0).wrapping_mul(8);
        let word = word & !u64::MAX.checked_shl(bits).unwrap_or(0);
        return Some(ScannedLevel {
            bytes,
            word,
            next: pos.checked_add(i)?.checked_add(1)?,
        });
    }
    // A level of eight bytes or more.
    match rest.iter().skip(8).position(|&b| b == b'/') {
        Some(i) => {
            let len = i.checked_add(8)?;
            Some(ScannedLevel {
                bytes: rest.get(..len)?,
                word,
                next: pos.checked_add(len)?.checked_add(1)?,
            })
        }
        None => Some(ScannedLevel {
            bytes: rest,
            word,
            next: end,
        }),
    }
}

/// The end of a topic when fewer than eight bytes remain.
#[inline]
fn scan_short_tail<'t>(topic: &'t [u8], rest: &'t [u8], end: usize) -> ScannedLevel<'t> {
    match rest.iter().position(|&b| b == b'/') {
        Some(i) => {
            let bytes = rest.get(..i).unwrap_or(&[]);
            ScannedLevel {
                bytes,
                word: word_of(bytes),
                next: end.saturating_sub(rest.len()).saturating_add(i),
            }
        }
        None => {
            // Read the topic's last eight bytes in one load when it has them.
            let word = match topic.last_chunk::<8>() {
                Some(last) => {
                    let shift = u32::try_from(8usize.saturating_sub(rest.len()))
                        .unwrap_or(8)
                        .wrapping_mul(8);
                    u64::from_le_bytes(*last).checked_shr(shift).unwrap_or(0)
                }
                None => word_of(rest),
            };
            ScannedLevel {
                bytes: rest,
                word,
                next: end,
            }
        }
    }
}

/// Splits the level that starts at byte `pos` of `topic` off the rest.
///
/// Returns the level and the start of the next level; after the last level the next
/// start is `topic.len() + 1`, which callers use as "all levels consumed". `None` when
/// `pos` is already past the end.
pub(crate) fn level_at(topic: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = topic.get(pos..)?;
    match rest.iter().position(|&b| b == b'/') {
        Some(i) => Some((rest.get(..i)?, pos.checked_add(i)?.checked_add(1)?)),
        None => Some((rest, topic.len().checked_add(1)?)),
    }
}

/// The start of the level that ends just before `next` (the inverse of [`level_at`]).
pub(crate) fn level_start_before(topic: &[u8], next: usize) -> usize {
    let end = next.saturating_sub(1);
    topic
        .get(..end)
        .and_then(|before| before.iter().rposition(|&b| b == b'/'))
        .map_or(0, |slash| slash.saturating_add(1))
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::panic,
        clippy::cast_possible_truncation
    )]
    use super::*;

    #[test]
    fn level_keys_hold_short_and_long_levels() {
        for len in [0, 1, 21, 22, 23, 300] {
            let level: alloc::vec::Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let key = LevelKey::new(&level);
            assert_eq!(key.as_bytes(), &level[..]);
            assert!(key.is(&level));
            assert!(!key.is(b"zz"));
        }
    }

    /// Every topic over `a`, `b`, `/` up to 18 bytes (so every position of `/` around
    /// the 8-byte words), at every position: the word-at-a-time scan agrees with the
    /// byte loop, and its word is the level's.
    #[test]
    fn scan_level_agrees_with_level_at() {
        let hasher = EdgeHasher::new();
        let alphabet = [b'a', b'/', b'b'];
        for len in 0..=18u32 {
            // Sample long topics to keep the test fast: 3^18 is too many.
            let count = 3u64.pow(len.min(9));
            for n in 0..count {
                let mut x = n.wrapping_mul(if len > 9 { 2_654_435_761 } else { 1 });
                let topic: alloc::vec::Vec<u8> = (0..len)
                    .map(|_| {
                        let c = alphabet[(x % 3) as usize];
                        x /= 3;
                        c
                    })
                    .collect();
                for pos in 0..=topic.len() + 1 {
                    let scanned = scan_level(&topic, pos);
                    let expected = level_at(&topic, pos);
                    match (scanned, expected) {
                        (None, None) => {}
                        (Some(s), Some((bytes, next))) => {
                            assert_eq!((s.bytes, s.next), (bytes, next), "{topic:?} at {pos}");
                            assert_eq!(s.word, word_of(bytes), "{topic:?} at {pos}");
                            let key = LevelKey::new(bytes);
                            assert!(key.is_scanned(s.bytes, s.word));
                            assert_eq!(
                                hasher.hash_with_word(7, s.bytes, s.word),
                                hasher.hash(7, bytes)
                            );
                        }
                        other => panic!("{topic:?} at {pos}: {other:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn word_of_is_the_zero_padded_little_endian_prefix() {
        let bytes = *b"abcdefghij";
        for len in 0..=bytes.len() {
            let mut expected = [0u8; 8];
            for (i, b) in bytes[..len.min(8)].iter().enumerate() {
                expected[i] = *b;
            }
            assert_eq!(
                word_of(&bytes[..len]),
                u64::from_le_bytes(expected),
                "{len}"
            );
        }
    }

    #[test]
    fn edge_hashes_tell_lengths_and_parents_apart() {
        let hasher = EdgeHasher::new();
        let levels: [&[u8]; 6] = [b"", b"a", b"aa", b"a\0", b"abcdefgh", b"abcdefghi"];
        for (i, a) in levels.iter().enumerate() {
            for b in &levels[i + 1..] {
                assert_ne!(hasher.hash(1, a), hasher.hash(1, b), "{a:?} {b:?}");
            }
            assert_ne!(hasher.hash(1, a), hasher.hash(2, a));
            let key = LevelKey::new(a);
            for b in &levels {
                assert_eq!(key.is_scanned(b, word_of(b)), a == b);
            }
        }
    }

    #[test]
    fn level_at_and_back() {
        let t = b"a//bc/";
        assert_eq!(level_at(t, 0), Some((&b"a"[..], 2)));
        assert_eq!(level_at(t, 2), Some((&b""[..], 3)));
        assert_eq!(level_at(t, 3), Some((&b"bc"[..], 6)));
        assert_eq!(level_at(t, 6), Some((&b""[..], 7)));
        assert_eq!(level_at(t, 7), None);
        assert_eq!(level_start_before(t, 7), 6);
        assert_eq!(level_start_before(t, 6), 3);
        assert_eq!(level_start_before(t, 3), 2);
        assert_eq!(level_start_before(t, 2), 0);
    }
}
