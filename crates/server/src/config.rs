//! Configuration, layered: embedded defaults → `kenali.toml` → `KENALI_*` environment →
//! command-line flags (SPEC §10). Secrets may come from `KENALI_<NAME>_FILE` and never print.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// A secret string: `Debug` and `Display` print a placeholder, so logging a config is safe.
#[derive(Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Config {
    /// Address to serve the API on; port 0 picks a free port.
    pub listen: String,
    /// Separate address for `/metrics`; when unset, metrics are served on `listen`.
    pub metrics_listen: Option<String>,
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`; defaults to SQLite in the data dir.
    pub database_url: Option<Secret>,
    pub database_url_file: Option<PathBuf>,
    /// `file:///path` (default `$KENALI_DATA_DIR/blobs`) or `s3://bucket` (see `blobs`).
    pub blob_url: Option<String>,
    /// An S3-compatible service's URL (e.g. `http://127.0.0.1:3900`); unset for AWS itself.
    pub s3_endpoint: Option<String>,
    /// The region requests to the bucket are signed for (else `AWS_REGION`).
    pub s3_region: Option<String>,
    pub s3_access_key_id: Option<Secret>,
    pub s3_access_key_id_file: Option<PathBuf>,
    pub s3_secret_access_key: Option<Secret>,
    pub s3_secret_access_key_file: Option<PathBuf>,
    /// Accept a bucket outside the regions allowed for `region` (seed 000's data residency).
    pub blob_region_override: bool,
    /// Base64 of 32 bytes.
    pub master_key: Option<Secret>,
    pub master_key_file: Option<PathBuf>,
    pub bootstrap_api_key: Option<Secret>,
    pub bootstrap_api_key_file: Option<PathBuf>,
    pub models_dir: Option<PathBuf>,
    pub log: String,
    pub log_format: LogFormat,
    /// Reported by `/api/healthz`; all data of this deployment lives there (seed 000).
    pub region: String,
    /// Largest JSON body accepted on ordinary routes.
    pub body_limit_bytes: usize,
    /// Largest body on routes that carry images (Dukcapil photo, capture bundles).
    pub image_body_limit_bytes: usize,
    pub webhook_allow_private: bool,
    /// Longest a request may run before it is abandoned with 503 (its transaction rolls back).
    pub request_timeout_secs: u64,
    /// Database connections per process.
    pub database_max_connections: u32,
    /// Lifetime of an OAuth access token, 60 to 3600 seconds.
    pub oauth_token_ttl_secs: u64,
    /// The URL partners reach this server at (e.g. `https://kenali.example.co.id`), for the
    /// upload URLs Kenali signs itself with a local blob store; the request's host when unset.
    pub public_url: Option<String>,
    /// A dashboard session ends after this long without a request (60 to 86400 seconds).
    pub session_idle_secs: u64,
    /// ... and this long after sign-in, however busy (300 to 604800 seconds).
    pub session_max_secs: u64,
    /// Reverse proxies whose `X-Forwarded-For` names the client: addresses or CIDR blocks,
    /// comma-separated (`10.0.0.0/8, 192.168.1.5`). Unset: the socket's peer is the client.
    pub trusted_proxies: Option<String>,
    /// Serve the demo page `/demo` (issue 20): an open page that creates customers in org
    /// `demo`. Off by default; refused on PostgreSQL unless `demo_force`.
    pub demo: bool,
    pub demo_force: bool,
    /// `trusted_proxies`, parsed when the configuration is loaded.
    #[serde(skip)]
    pub trusted_proxy_nets: Vec<ipnet::IpNet>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            metrics_listen: None,
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_url_file: None,
            blob_url: None,
            s3_endpoint: None,
            s3_region: None,
            s3_access_key_id: None,
            s3_access_key_id_file: None,
            s3_secret_access_key: None,
            s3_secret_access_key_file: None,
            blob_region_override: false,
            master_key: None,
            master_key_file: None,
            bootstrap_api_key: None,
            bootstrap_api_key_file: None,
            models_dir: None,
            log: "info".into(),
            log_format: LogFormat::Text,
            region: "id-jkt-1".into(),
            body_limit_bytes: 1024 * 1024,
            image_body_limit_bytes: 12 * 1024 * 1024,
            webhook_allow_private: false,
            request_timeout_secs: 60,
            database_max_connections: 10,
            oauth_token_ttl_secs: 900,
            public_url: None,
            session_idle_secs: 1800,
            session_max_secs: 12 * 3600,
            trusted_proxies: None,
            demo: false,
            demo_force: false,
            trusted_proxy_nets: Vec::new(),
        }
    }
}

/// Values given as command-line flags; each set one wins over every other layer.
#[derive(Debug, Default, Clone, Serialize)]
pub struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
    #[error("reading secret file {path}: {source}")]
    SecretFile { path: PathBuf, source: std::io::Error },
}

impl Config {
    /// Builds the configuration from every layer. `file` is the TOML path given by
    /// `--config`; without it, `./kenali.toml` is read when present.
    pub fn load(file: Option<&Path>, flags: &FlagOverrides) -> Result<Config, ConfigError> {
        Self::layered(file, Env::prefixed("KENALI_").ignore(&["test_database_url"]), flags)
    }

    /// The layers in order, with `env` standing for the environment (tests give their own
    /// rather than changing the process's).
    fn layered(file: Option<&Path>, env: impl figment::Provider, flags: &FlagOverrides) -> Result<Config, ConfigError> {
        let toml_path = file.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("kenali.toml"));
        if file.is_some() && !toml_path.exists() {
            return Err(ConfigError::Invalid(format!("config file {} does not exist", toml_path.display())));
        }
        let figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(&toml_path))
            .merge(env)
            .merge(Serialized::defaults(flags));
        let mut config: Config = figment.extract().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        config.resolve_secret_files()?;
        if let Some(url) = &config.public_url {
            let parsed = reqwest::Url::parse(url)
                .map_err(|_| ConfigError::Invalid(format!("public_url {url:?} is not an absolute URL")))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() {
                return Err(ConfigError::Invalid(format!("public_url {url:?} must be an http(s) URL without a query")));
            }
        }
        if !(60..=3600).contains(&config.oauth_token_ttl_secs) {
            return Err(ConfigError::Invalid("oauth_token_ttl_secs must be from 60 to 3600 seconds".into()));
        }
        if !(60..=86_400).contains(&config.session_idle_secs) {
            return Err(ConfigError::Invalid("session_idle_secs must be from 60 to 86400 seconds".into()));
        }
        if !(300..=604_800).contains(&config.session_max_secs) {
            return Err(ConfigError::Invalid("session_max_secs must be from 300 to 604800 seconds".into()));
        }
        if config.demo && config.database_url().starts_with("postgres") && !config.demo_force {
            return Err(ConfigError::Invalid(
                "demo (KENALI_DEMO) serves an open page that creates customers; it is refused on PostgreSQL, \
                 which is for real deployments (set KENALI_DEMO_FORCE=true to serve it anyway)"
                    .into(),
            ));
        }
        config.trusted_proxy_nets = parse_trusted_proxies(config.trusted_proxies.as_deref().unwrap_or(""))?;
        Ok(config)
    }

    /// Where people reach the dashboard: `public_url`, else this machine at the listen port
    /// (`localhost`, the name passkeys are bound to when no public URL is set).
    pub fn dashboard_base_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => {
                let port = self.listen.rsplit_once(':').map_or("8080", |(_, port)| port);
                format!("http://localhost:{port}")
            }
        }
    }

    /// Whether browsers reach this server over TLS (its `public_url` is https): session
    /// cookies are then `Secure` and take the `__Host-` prefix.
    pub fn served_over_tls(&self) -> bool {
        self.public_url.as_deref().is_some_and(|url| url.starts_with("https://"))
    }

    fn resolve_secret_files(&mut self) -> Result<(), ConfigError> {
        fill_from_file(&mut self.master_key, &self.master_key_file)?;
        fill_from_file(&mut self.bootstrap_api_key, &self.bootstrap_api_key_file)?;
        fill_from_file(&mut self.database_url, &self.database_url_file)?;
        fill_from_file(&mut self.s3_access_key_id, &self.s3_access_key_id_file)?;
        fill_from_file(&mut self.s3_secret_access_key, &self.s3_secret_access_key_file)?;
        Ok(())
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_string(),
            None => format!("sqlite://{}", self.data_dir.join("kenali.db").display()),
        }
    }

    pub fn models_dir(&self) -> PathBuf {
        self.models_dir.clone().unwrap_or_else(|| self.data_dir.join("models"))
    }
}

/// `10.0.0.0/8, 192.168.1.5, fd00::/8`: each an address (a block of one) or a CIDR block.
fn parse_trusted_proxies(list: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    list.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    ConfigError::Invalid(format!("trusted_proxies: {entry:?} is not an IP address or a CIDR block"))
                })
        })
        .collect()
}

/// A value set directly wins over its `_FILE` twin; the file's trailing newline is dropped.
fn fill_from_file(value: &mut Option<Secret>, file: &Option<PathBuf>) -> Result<(), ConfigError> {
    if value.is_some() {
        return Ok(());
    }
    if let Some(path) = file {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile { path: path.clone(), source })?;
        *value = Some(Secret::new(text.trim_end_matches(['\r', '\n'])));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn trusted_proxies_are_addresses_or_blocks() {
        let nets = parse_trusted_proxies(" 10.0.0.0/8, 192.168.1.5,fd00::/8 ,").unwrap();
        assert_eq!(nets.len(), 3);
        assert!(nets[1].contains(&"192.168.1.5".parse::<std::net::IpAddr>().unwrap()));
        assert!(parse_trusted_proxies("").unwrap().is_empty());
        assert!(parse_trusted_proxies("10.0.0.0/8, proxy.internal").is_err());
        assert!(parse_trusted_proxies("10.0.0.0/33").is_err());
    }

    #[test]
    fn layers_apply_in_order_and_secrets_stay_hidden() {
        let dir = std::env::temp_dir().join(format!("kenali-config-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir).unwrap();
        let toml = dir.join("kenali.toml");
        std::fs::write(&toml, "listen = \"0.0.0.0:9000\"\nregion = \"file\"\nlog = \"debug\"").unwrap();
        let key_file = dir.join("mk");
        std::fs::write(&key_file, "c2VjcmV0\n").unwrap();
        // What `KENALI_REGION`, `KENALI_LOG` and `KENALI_MASTER_KEY_FILE` would give.
        let env = Serialized::defaults(serde_json::json!({
            "region": "env", "log": "warn", "master_key_file": key_file,
        }));
        let flags = FlagOverrides { listen: Some("127.0.0.1:1".into()), ..Default::default() };
        let config = Config::layered(Some(&toml), env, &flags).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(config.listen, "127.0.0.1:1");
        assert_eq!(config.region, "env");
        assert_eq!(config.log, "warn");
        assert_eq!(config.master_key.as_ref().unwrap().expose(), "c2VjcmV0");
        assert!(!format!("{config:?}").contains("c2VjcmV0"));
        assert_eq!(config.database_url(), "sqlite://./data/kenali.db");
    }

    #[test]
    fn the_demo_is_refused_on_postgresql_unless_forced() {
        let layered =
            |env: serde_json::Value| Config::layered(None, Serialized::defaults(env), &FlagOverrides::default());
        assert!(layered(serde_json::json!({"demo": true})).unwrap().demo);
        let postgres = "postgres://postgres@127.0.0.1:5432/test";
        let refused = layered(serde_json::json!({"demo": true, "database_url": postgres})).unwrap_err();
        assert!(refused.to_string().contains("KENALI_DEMO_FORCE"), "{refused}");
        assert!(layered(serde_json::json!({"demo": true, "demo_force": true, "database_url": postgres})).is_ok());
        assert!(layered(serde_json::json!({"database_url": postgres})).is_ok());
    }

    #[test]
    fn a_missing_config_file_named_on_the_command_line_is_an_error() {
        let err = Config::load(Some(Path::new("/nonexistent/kenali.toml")), &FlagOverrides::default());
        assert!(err.is_err());
    }
}
