//! Loading the master key: from `KENALI_MASTER_KEY` (or its `_FILE`), else — for the embedded
//! SQLite deployment only — from `master.key` in the data dir, generated on first start.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use kenali_core::seal::{BlindIndexKey, DataKey, MasterKey};

use crate::config::Config;

/// The server's key material, derived once at start.
pub struct Keys {
    pub master: MasterKey,
    pub blind_index: BlindIndexKey,
    /// Seals stored idempotent responses, which may contain personal data.
    pub idempotency: DataKey,
    /// Seals flash-challenge HMAC secrets, which the server must read back to verify bundles.
    pub challenge: DataKey,
    /// Seals webhook signing secrets, which the server must read back to sign deliveries.
    pub webhook: DataKey,
    /// Seals the Ed25519 keys OAuth access tokens are signed with.
    pub oauth: DataKey,
    /// Seals vendor integrations' AES keys.
    pub integration: DataKey,
}

impl Keys {
    pub fn new(master: MasterKey) -> Self {
        Self {
            blind_index: master.blind_index_key(),
            idempotency: master.purpose_key("idempotency"),
            challenge: master.purpose_key("challenge"),
            webhook: master.purpose_key("webhook"),
            oauth: master.purpose_key("oauth-signing"),
            integration: master.purpose_key("vendor-integration"),
            master,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("KENALI_MASTER_KEY must be base64 of exactly 32 bytes")]
    BadMasterKey,
    #[error(
        "KENALI_MASTER_KEY is required when the database is not the embedded SQLite (every process must share one key)"
    )]
    MissingMasterKey,
    #[error("master key file {0}: {1}")]
    Io(String, std::io::Error),
}

fn decode(text: &str) -> Result<MasterKey, KeyError> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|_| KeyError::BadMasterKey)?;
    MasterKey::from_bytes(&bytes).map_err(|_| KeyError::BadMasterKey)
}

pub fn load_master_key(config: &Config) -> Result<MasterKey, KeyError> {
    if let Some(secret) = &config.master_key {
        return decode(secret.expose());
    }
    if !config.database_url().starts_with("sqlite:") {
        return Err(KeyError::MissingMasterKey);
    }
    let path = config.data_dir.join("master.key");
    if path.exists() {
        let text = std::fs::read_to_string(&path).map_err(|e| KeyError::Io(path.display().to_string(), e))?;
        return decode(&text);
    }
    let key = MasterKey::generate();
    write_private(&path, &base64::engine::general_purpose::STANDARD.encode(key.expose_bytes()))
        .map_err(|e| KeyError::Io(path.display().to_string(), e))?;
    tracing::warn!(
        path = %path.display(),
        "generated a new master key for this embedded install; back it up, and in production supply KENALI_MASTER_KEY or KENALI_MASTER_KEY_FILE instead: losing it makes every sealed record unreadable"
    );
    Ok(key)
}

/// Creates the file readable by its owner only (mode 0600), refusing to overwrite.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn embedded_install_generates_a_private_key_once() {
        let dir = std::env::temp_dir().join(format!("kenali-keys-{}", ulid::Ulid::new()));
        let config = Config { data_dir: dir.clone(), ..Config::default() };
        let first = load_master_key(&config).unwrap();
        let second = load_master_key(&config).unwrap();
        assert_eq!(first.expose_bytes(), second.expose_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("master.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn postgres_without_a_key_is_refused_and_bad_keys_are_named() {
        let config =
            Config { database_url: Some(crate::config::Secret::new("postgres://localhost/x")), ..Config::default() };
        assert!(matches!(load_master_key(&config), Err(KeyError::MissingMasterKey)));
        let config = Config { master_key: Some(crate::config::Secret::new("c2hvcnQ=")), ..Config::default() };
        assert!(matches!(load_master_key(&config), Err(KeyError::BadMasterKey)));
    }
}
