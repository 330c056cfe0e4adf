//! A topic level stored inline when short, so that comparing a trie edge with a topic
//! level reads the node's own cache line instead of following a pointer.

use alloc::boxed::Box;
use core::hash::{BuildHasher, Hasher};
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

    /// The empty level, used for the root and for freed nodes.
    pub(crate) const EMPTY: Self = Self::Inline {
        len: 0,
        bytes: [0; INLINE],
    };
}

/// Hash of the trie edge `(parent id, level)`.
///
/// The level is written without the length prefix that `Hash for [u8]` adds: the
/// parent id has a fixed width and the level comes last, so nothing is ambiguous, and
/// one mixing round fewer is measurable on the match path.
#[inline]
pub(crate) fn edge_hash(hasher: &DefaultHashBuilder, parent: u32, level: &[u8]) -> u64 {
    let mut h = hasher.build_hasher();
    h.write_u32(parent);
    h.write(level);
    h.finish()
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
        clippy::arithmetic_side_effects
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
