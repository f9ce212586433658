//! Envelope encryption (SPEC §5, §8). A master key wraps one data key per customer; the data
//! key seals that customer's PII, frames and selfies with AES-256-GCM. Destroying the wrapped
//! data key makes everything sealed under it unreadable (crypto-shredding on erasure).
//!
//! Sealed format: `VERSION (1 byte) || nonce (12 bytes) || ciphertext+tag`. The caller passes
//! associated data naming what the bytes are and whose they are, so a sealed value cannot be
//! moved to another customer or field without failing to open.

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
/// Length in bytes of master and data keys (AES-256).
pub const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("key must be {KEY_LEN} bytes")]
    BadKeyLength,
    #[error("sealed value is malformed or of an unknown version")]
    Malformed,
    #[error("sealed value failed authentication (wrong key, wrong context, or altered)")]
    Unauthentic,
}

fn seal_with(key: &[u8; KEY_LEN], plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    // Encryption with a valid key and nonce cannot fail for in-memory buffers of sane size.
    let ciphertext = cipher.encrypt(&nonce, Payload { msg: plaintext, aad }).unwrap_or_default();
    let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    out
}

fn open_with(key: &[u8; KEY_LEN], sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, SealError> {
    if sealed.len() < 1 + NONCE_LEN + 16 || sealed[0] != VERSION {
        return Err(SealError::Malformed);
    }
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let nonce = Nonce::from_slice(&sealed[1..1 + NONCE_LEN]);
    cipher.decrypt(nonce, Payload { msg: &sealed[1 + NONCE_LEN..], aad }).map_err(|_| SealError::Unauthentic)
}

fn key_from_slice(bytes: &[u8]) -> Result<Zeroizing<[u8; KEY_LEN]>, SealError> {
    let array: [u8; KEY_LEN] = bytes.try_into().map_err(|_| SealError::BadKeyLength)?;
    Ok(Zeroizing::new(array))
}

/// The operator's root key. Never logged: `Debug` prints a placeholder.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        key_from_slice(bytes).map(Self)
    }

    /// A fresh random key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        OsRng.fill_bytes(key.as_mut());
        Self(key)
    }

    pub fn expose_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Wraps a data key; `owner` (e.g. the customer id) is bound as associated data.
    pub fn wrap(&self, data_key: &DataKey, owner: &str) -> Vec<u8> {
        seal_with(&self.0, data_key.0.as_ref(), &aad("data-key", owner))
    }

    pub fn unwrap_key(&self, wrapped: &[u8], owner: &str) -> Result<DataKey, SealError> {
        let bytes = Zeroizing::new(open_with(&self.0, wrapped, &aad("data-key", owner))?);
        key_from_slice(&bytes).map(DataKey)
    }

    /// The key for blind indexes, derived so that it is never the sealing key itself.
    pub fn blind_index_key(&self) -> BlindIndexKey {
        BlindIndexKey(self.derive(b"blind index"))
    }

    /// A server-wide sealing key for one purpose (e.g. stored idempotent responses), for data
    /// that belongs to no single customer's data key.
    pub fn purpose_key(&self, purpose: &str) -> DataKey {
        DataKey(self.derive(format!("purpose/{purpose}").as_bytes()))
    }

    /// A server-wide HMAC key for one purpose (e.g. signing upload URLs), derived apart from
    /// every sealing key.
    pub fn mac_key(&self, purpose: &str) -> MacKey {
        MacKey(self.derive(format!("mac/{purpose}").as_bytes()))
    }

    fn derive(&self, info: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
        let mut okm = Zeroizing::new([0u8; KEY_LEN]);
        let hkdf = Hkdf::<Sha256>::new(Some(b"kenali/derived/v1"), self.0.as_ref());
        // 32 bytes is far below HKDF-SHA256's output limit, so expand cannot fail.
        let _ = hkdf.expand(info, okm.as_mut());
        okm
    }
}

/// A customer's own key. Destroying its wrapped form shreds everything sealed with it.
pub struct DataKey(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

impl DataKey {
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        OsRng.fill_bytes(key.as_mut());
        Self(key)
    }

    /// Seals `plaintext`; `context` names the field or object (e.g. `customer/pii`).
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        seal_with(&self.0, plaintext, &aad("value", context))
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, SealError> {
        open_with(&self.0, sealed, &aad("value", context))
    }
}

fn aad(kind: &str, context: &str) -> Vec<u8> {
    format!("kenali/v1/{kind}/{context}").into_bytes()
}

/// Keyed hash for finding encrypted values by equality (a blind index), never by pattern.
pub struct BlindIndexKey(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for BlindIndexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlindIndexKey([redacted])")
    }
}

impl BlindIndexKey {
    /// Hex HMAC-SHA256 of `field` and an already-normalised value; the field name keeps equal
    /// values of different fields (a phone that looks like a NIK) from sharing an index entry.
    pub fn index(&self, field: &str, normalized_value: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_ref()).unwrap_or_else(|_| unreachable_hmac());
        mac.update(field.as_bytes());
        mac.update(&[0]);
        mac.update(normalized_value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// An HMAC-SHA256 key for authenticating values the server hands out and later takes back.
pub struct MacKey(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey([redacted])")
    }
}

impl MacKey {
    fn mac(&self, message: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_ref()).unwrap_or_else(|_| unreachable_hmac());
        mac.update(message);
        mac
    }

    /// Hex HMAC-SHA256 of `message`.
    pub fn tag(&self, message: &[u8]) -> String {
        hex::encode(self.mac(message).finalize().into_bytes())
    }

    /// Whether `tag` (hex) is `message`'s, compared in constant time.
    pub fn verify(&self, message: &[u8], tag: &str) -> bool {
        match hex::decode(tag) {
            Ok(bytes) => self.mac(message).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }
}

// HMAC accepts keys of any length; this only documents that the branch cannot occur.
fn unreachable_hmac() -> Hmac<Sha256> {
    unreachable!("HMAC-SHA256 accepts any key length")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn data_key_round_trips_through_the_master_key() {
        let master = MasterKey::generate();
        let data_key = DataKey::generate();
        let wrapped = master.wrap(&data_key, "cus_1");
        let unwrapped = master.unwrap_key(&wrapped, "cus_1").unwrap();
        let sealed = data_key.seal(b"Budi Santoso", "customer/pii");
        assert_eq!(unwrapped.open(&sealed, "customer/pii").unwrap(), b"Budi Santoso");
        assert!(!sealed.windows(4).any(|w| w == b"Budi"));
    }

    #[test]
    fn wrong_owner_context_or_key_fails_to_open() {
        let master = MasterKey::generate();
        let data_key = DataKey::generate();
        let wrapped = master.wrap(&data_key, "cus_1");
        assert_eq!(master.unwrap_key(&wrapped, "cus_2").unwrap_err(), SealError::Unauthentic);
        assert_eq!(MasterKey::generate().unwrap_key(&wrapped, "cus_1").unwrap_err(), SealError::Unauthentic);
        let sealed = data_key.seal(b"x", "customer/pii");
        assert_eq!(data_key.open(&sealed, "dukcapil/raw").unwrap_err(), SealError::Unauthentic);
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert_eq!(data_key.open(&altered, "customer/pii").unwrap_err(), SealError::Unauthentic);
        assert_eq!(data_key.open(&[9, 9], "customer/pii").unwrap_err(), SealError::Malformed);
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let data_key = DataKey::generate();
        assert_ne!(data_key.seal(b"same", "c"), data_key.seal(b"same", "c"));
    }

    #[test]
    fn blind_index_is_keyed_deterministic_and_field_separated() {
        let master = MasterKey::from_bytes(&[7u8; 32]).unwrap();
        let key = master.blind_index_key();
        assert_eq!(key.index("nik", "3201"), key.index("nik", "3201"));
        assert_ne!(key.index("nik", "3201"), key.index("phone", "3201"));
        let other = MasterKey::from_bytes(&[8u8; 32]).unwrap().blind_index_key();
        assert_ne!(key.index("nik", "3201"), other.index("nik", "3201"));
    }

    #[test]
    fn mac_tags_verify_only_for_their_message_and_key() {
        let master = MasterKey::from_bytes(&[7u8; 32]).unwrap();
        let key = master.mac_key("upload");
        let tag = key.tag(b"PUT sub_1/selfie 1700000000");
        assert!(key.verify(b"PUT sub_1/selfie 1700000000", &tag));
        assert!(!key.verify(b"PUT sub_2/selfie 1700000000", &tag));
        assert!(!master.mac_key("other").verify(b"PUT sub_1/selfie 1700000000", &tag));
        assert!(!key.verify(b"PUT sub_1/selfie 1700000000", "not hex"));
        assert!(!key.verify(b"PUT sub_1/selfie 1700000000", &tag[..10]));
        assert_eq!(format!("{key:?}"), "MacKey([redacted])");
    }

    #[test]
    fn keys_never_print() {
        let master = MasterKey::from_bytes(&[0x41u8; 32]).unwrap();
        assert_eq!(format!("{master:?}"), "MasterKey([redacted])");
        assert_eq!(MasterKey::from_bytes(&[1u8; 31]).unwrap_err(), SealError::BadKeyLength);
    }
}
