//! The `CreateNetworkInterface` idempotency token: a value of its own, so that the
//! request types and the ownership rules that derive it both use it without importing
//! each other.

use std::fmt;

use sha2::{Digest, Sha256};

/// A `CreateNetworkInterface` idempotency token: at most 64 ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientToken(String);

/// Version prefix of derived tokens, so the derivation can change without collisions.
const TOKEN_PREFIX: &str = "neni1-";

impl ClientToken {
    /// The token text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Wraps a token made elsewhere (tests, examples). EC2 accepts up to 64 ASCII
    /// characters; longer or non-ASCII text is hashed into that shape.
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        if text.len() <= 64 && text.is_ascii() {
            ClientToken(text)
        } else {
            Self::derived(&[&text])
        }
    }

    /// The token derived from `parts` (a versioned SHA-256 of the length-prefixed parts,
    /// so that ("ab", "c") and ("a", "bc") differ).
    pub fn derived(parts: &[&str]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        let hex = hex::encode(hasher.finalize());
        ClientToken(format!("{TOKEN_PREFIX}{}", &hex[..64 - TOKEN_PREFIX.len()]))
    }
}

impl fmt::Display for ClientToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
