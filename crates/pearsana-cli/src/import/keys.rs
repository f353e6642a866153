//! Compact row identities: 128-bit hashes of journal keys and of the identities that must be
//! unique in a roster, so the import keeps 16 bytes per row instead of the row itself.
//!
//! The hash keys are random per process (hashes are never stored), so a roster cannot be
//! crafted to collide; two random 64-bit SipHash halves make a collision between distinct
//! values of a million-row roster about as likely as guessing a 128-bit secret.

use std::hash::{BuildHasher, Hasher};

/// Hashes journal keys and row identities the same way for the whole run.
#[derive(Debug, Clone)]
pub struct KeyHasher {
    high: std::collections::hash_map::RandomState,
    low: std::collections::hash_map::RandomState,
}

impl Default for KeyHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyHasher {
    /// A hasher with fresh random keys.
    pub fn new() -> Self {
        Self {
            high: std::collections::hash_map::RandomState::new(),
            low: std::collections::hash_map::RandomState::new(),
        }
    }

    fn hash(&self, domain: &[u8], value: &str) -> u128 {
        let half = |state: &std::collections::hash_map::RandomState| {
            let mut hasher = state.build_hasher();
            hasher.write(domain);
            hasher.write_u8(0xff);
            hasher.write(value.as_bytes());
            hasher.finish()
        };
        (u128::from(half(&self.high)) << 64) | u128::from(half(&self.low))
    }

    /// The hash of a row's journal key (its first identity); the lowest bit is 1.
    pub fn key(&self, key: &str) -> u128 {
        self.hash(b"key", key) | 1
    }

    /// The hash of another identity, under its label; the lowest bit is 0.
    pub fn identity(&self, label: &str, value: &str) -> u128 {
        self.hash(label.as_bytes(), value) & !1
    }

    /// Whether `hash` came from [`KeyHasher::key`].
    pub fn is_key(hash: u128) -> bool {
        hash & 1 == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_identities_are_stable_within_a_run_and_kept_apart() {
        let hasher = KeyHasher::new();
        assert_eq!(hasher.key("a@x.org"), hasher.clone().key("a@x.org"));
        assert_ne!(hasher.key("a@x.org"), hasher.key("b@x.org"));
        assert!(KeyHasher::is_key(hasher.key("a@x.org")));
        assert!(!KeyHasher::is_key(hasher.identity("email", "a@x.org")));
        assert_ne!(
            hasher.identity("email", "a"),
            hasher.identity("namespace:externalId", "a")
        );
    }
}
