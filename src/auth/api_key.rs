//! The API key format and its crypto: generation, parsing with a checksum, the peppered HMAC
//! that is the only lookup, and the sealed copy kept for the Show link.
//!
//! A key is `kf_` + 26 random base62 characters (about 154 bits from the OS generator) + a
//! 6-character base62 CRC32 of everything before it. The checksum turns away typos and
//! garbage without touching storage and lets secret scanners recognise leaked keys.

use std::fmt;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;

use crate::domain::Digest;

/// What every key starts with.
pub const PREFIX: &str = "kf_";
const RANDOM_CHARS: usize = 26;
const CHECKSUM_CHARS: usize = 6;
/// The length of a key in characters (all ASCII).
pub const KEY_LEN: usize = PREFIX.len() + RANDOM_CHARS + CHECKSUM_CHARS;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A well-formed key whose checksum holds. `Debug` prints nothing of the value.
#[derive(Clone)]
pub struct ApiKey(SecretString);

/// Why a presented key was turned away before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("the API key is not in keyflow's format")]
    Shape,
    #[error("the API key's checksum does not match")]
    Checksum,
}

impl ApiKey {
    /// A new key from the OS random generator.
    pub fn generate() -> Self {
        let mut body = String::with_capacity(KEY_LEN);
        body.push_str(PREFIX);
        let mut rng = OsRng;
        let mut buffer = [0u8; 64];
        while body.len() < PREFIX.len() + RANDOM_CHARS {
            rng.fill_bytes(&mut buffer);
            // 248 = 4 × 62: taking only bytes below it keeps every character equally likely.
            for &byte in buffer.iter().filter(|&&b| b < 248) {
                if body.len() == PREFIX.len() + RANDOM_CHARS {
                    break;
                }
                body.push(BASE62[usize::from(byte % 62)] as char);
            }
        }
        let checksum = checksum_of(&body);
        body.extend(checksum.iter().map(|&b| char::from(b)));
        Self(SecretString::from(body))
    }

    /// Accepts exactly the keys [`ApiKey::generate`] makes; anything else is refused here,
    /// before a digest is computed or storage is asked.
    pub fn parse(text: &str) -> Result<Self, KeyFormatError> {
        Self::check(text)?;
        Ok(Self(SecretString::from(text)))
    }

    /// Whether `text` is a key [`ApiKey::parse`] would accept, without copying it: the hot
    /// path digests the presented text as it is.
    pub fn check(text: &str) -> Result<(), KeyFormatError> {
        if text.len() != KEY_LEN || !text.starts_with(PREFIX) {
            return Err(KeyFormatError::Shape);
        }
        let rest = &text.as_bytes()[PREFIX.len()..];
        if !rest.iter().all(u8::is_ascii_alphanumeric) {
            return Err(KeyFormatError::Shape);
        }
        let (body, checksum) = text.split_at(KEY_LEN - CHECKSUM_CHARS);
        if checksum_of(body) != checksum.as_bytes() {
            return Err(KeyFormatError::Checksum);
        }
        Ok(())
    }

    /// The value, for the one answer that carries it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// `kf_…` and the last four characters: enough to tell keys apart, useless to an attacker.
    pub fn preview(&self) -> String {
        let value = self.expose();
        format!("{PREFIX}…{}", &value[KEY_LEN - 4..])
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(…)")
    }
}

/// Base62 of the CRC32, left-padded to six characters (62^6 > 2^32).
fn checksum_of(body: &str) -> [u8; CHECKSUM_CHARS] {
    let mut value = crc32fast::hash(body.as_bytes());
    let mut out = [b'0'; CHECKSUM_CHARS];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out
}

/// Computes digests under the server's pepper: the only way a stored secret is looked up.
#[derive(Clone)]
pub struct Hasher {
    // Keyed once; each digest clones the keyed state instead of re-deriving it.
    mac: Hmac<Sha256>,
}

impl Hasher {
    pub fn new(pepper: &SecretBox<[u8; 32]>) -> Self {
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(pepper.expose_secret())
            .expect("HMAC accepts any key length");
        Self { mac }
    }

    pub fn digest(&self, secret: &str) -> Digest {
        let mut mac = self.mac.clone();
        mac.update(secret.as_bytes());
        Digest::from_bytes(mac.finalize().into_bytes().into())
    }
}

/// Seals key values for the Show link with XChaCha20-Poly1305 under the master key. The
/// key's id is the associated data, so a sealed value moved to another row fails to open.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

/// A sealed value could not be opened: wrong master key, or a row tampered with.
#[derive(Debug, thiserror::Error)]
#[error("a sealed key value could not be opened")]
pub struct UnsealError;

impl Sealer {
    pub fn new(master_key: &SecretBox<[u8; 32]>) -> Self {
        let cipher = XChaCha20Poly1305::new(master_key.expose_secret().into());
        Self { cipher }
    }

    /// `nonce || ciphertext`, the nonce random per value.
    pub fn seal(&self, plaintext: &[u8], associated: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 24];
        OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: associated,
                },
            )
            .expect("XChaCha20-Poly1305 encryption of a short value cannot fail");
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    pub fn open(&self, sealed: &[u8], associated: &[u8]) -> Result<Vec<u8>, UnsealError> {
        if sealed.len() < 24 {
            return Err(UnsealError);
        }
        let (nonce, ciphertext) = sealed.split_at(24);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: associated,
                },
            )
            .map_err(|_| UnsealError)
    }

    /// Seals an API key under its row id.
    pub fn seal_key(&self, key: &ApiKey, key_id: uuid::Uuid) -> Vec<u8> {
        self.seal(key.expose().as_bytes(), key_id.as_bytes())
    }

    /// Opens a sealed API key and checks it is still a well-formed key.
    pub fn open_key(&self, sealed: &[u8], key_id: uuid::Uuid) -> Result<ApiKey, UnsealError> {
        let bytes = self.open(sealed, key_id.as_bytes())?;
        let text = String::from_utf8(bytes).map_err(|_| UnsealError)?;
        ApiKey::parse(&text).map_err(|_| UnsealError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secret(byte: u8) -> SecretBox<[u8; 32]> {
        SecretBox::new(Box::new([byte; 32]))
    }

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let key = ApiKey::generate();
        let value = key.expose();
        assert_eq!(value.len(), 35);
        assert!(value.starts_with("kf_"));
        assert!(value[3..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(key.preview(), format!("kf_…{}", &value[31..]));
        assert_eq!(format!("{key:?}"), "ApiKey(…)");
    }

    /// Two keys comparing unequal proves little; this catches a generator that repeats, uses
    /// part of the alphabet, or favours some characters (taking every byte modulo 62 would
    /// make the first eight a fifth more likely: about ten standard deviations here).
    #[test]
    fn generated_keys_never_repeat_and_use_the_alphabet_evenly() {
        const KEYS: usize = 5_000;
        let mut seen = std::collections::HashSet::new();
        let mut counts = [0u32; 62];
        for _ in 0..KEYS {
            let key = ApiKey::generate();
            let random = &key.expose()[PREFIX.len()..PREFIX.len() + RANDOM_CHARS];
            for byte in random.bytes() {
                let at = BASE62.iter().position(|&b| b == byte).expect("base62");
                counts[at] += 1;
            }
            assert!(seen.insert(key.expose().to_string()), "a repeated key");
        }
        // Each character's count is binomial: n = 130,000 draws, p = 1/62, mean 2097, standard
        // deviation 45. Six deviations either way: a false alarm about once in 10^7 runs.
        let draws = (KEYS * RANDOM_CHARS) as f64;
        let mean = draws / 62.0;
        let deviation = (draws * (1.0 / 62.0) * (61.0 / 62.0)).sqrt();
        for (at, &count) in counts.iter().enumerate() {
            let off = (f64::from(count) - mean).abs() / deviation;
            assert!(
                off < 6.0,
                "{} appears {count} times, {off:.1} deviations from {mean:.0}",
                BASE62[at] as char
            );
        }
    }

    #[test]
    fn sealed_values_open_only_with_their_key_id() {
        let sealer = Sealer::new(&secret(7));
        let key = ApiKey::generate();
        let id = uuid::Uuid::now_v7();
        let sealed = sealer.seal_key(&key, id);
        assert_eq!(sealer.open_key(&sealed, id).unwrap().expose(), key.expose());
        assert!(sealer.open_key(&sealed, uuid::Uuid::now_v7()).is_err());
        assert!(Sealer::new(&secret(8)).open_key(&sealed, id).is_err());
    }

    #[test]
    fn digests_depend_on_the_pepper() {
        let key = ApiKey::generate();
        let a = Hasher::new(&secret(1)).digest(key.expose());
        let b = Hasher::new(&secret(2)).digest(key.expose());
        assert_ne!(a, b);
        assert_eq!(a, Hasher::new(&secret(1)).digest(key.expose()));
    }

    fn any_key() -> impl Strategy<Value = ApiKey> {
        // Keys from the real generator; proptest drives how many are tried.
        any::<u64>().prop_map(|_| ApiKey::generate())
    }

    proptest! {
        #[test]
        fn a_generated_key_parses_back(key in any_key()) {
            let parsed = ApiKey::parse(key.expose()).unwrap();
            prop_assert_eq!(parsed.expose(), key.expose());
        }

        #[test]
        fn every_single_character_change_is_rejected(
            key in any_key(),
            position in 0usize..KEY_LEN,
            replacement in proptest::char::any(),
        ) {
            let original = key.expose();
            let mut chars: Vec<char> = original.chars().collect();
            prop_assume!(chars[position] != replacement);
            chars[position] = replacement;
            let changed: String = chars.into_iter().collect();
            prop_assert!(ApiKey::parse(&changed).is_err());
        }

        #[test]
        fn every_base62_substitution_fails_the_checksum(
            key in any_key(),
            position in 3usize..KEY_LEN,
            replacement in 0usize..62,
        ) {
            let mut bytes = key.expose().as_bytes().to_vec();
            let new = BASE62[replacement];
            prop_assume!(bytes[position] != new);
            bytes[position] = new;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert_eq!(ApiKey::parse(&changed).unwrap_err(), KeyFormatError::Checksum);
        }
    }

    #[test]
    fn exhaustive_single_substitutions_of_one_key_all_fail() {
        let key = ApiKey::generate();
        let original = key.expose().as_bytes().to_vec();
        for position in 0..KEY_LEN {
            for &new in BASE62.iter().chain(b"_-+/= ") {
                if original[position] == new {
                    continue;
                }
                let mut changed = original.clone();
                changed[position] = new;
                let text = String::from_utf8(changed).unwrap();
                assert!(ApiKey::parse(&text).is_err(), "{position} {new}");
            }
        }
    }
}
