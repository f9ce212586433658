use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use kenali_server::app::{build_state, create_api_key, load_faces, serve};
use kenali_server::cli::{
    cli_scopes, init_logging, ApiKeyCommand, AuditCommand, BlobsCommand, Cli, Command, ModelsCommand, OauthCommand,
    RetentionCommand, UserCommand,
};
use kenali_server::config::Config;
use kenali_server::ledger::Actor;
use kenali_server::store::{orgs, Store};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load(cli.config.as_deref(), &cli.flags())?;
    init_logging(&config);
    match cli.command {
        Command::Serve(_) => {
            tracing::info!(config = ?config, "starting kenali {}", env!("CARGO_PKG_VERSION"));
            let listener =
                TcpListener::bind(&config.listen).await.with_context(|| format!("binding {}", config.listen))?;
            let metrics_listener = match &config.metrics_listen {
                Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?),
                None => None,
            };
            let faces = load_faces(&config).await?;
            let state = kenali_server::demo::enable(build_state(config, Some(faces)).await?).await?;
            tracing::info!(address = %listener.local_addr()?, "listening");
            if let Some(metrics) = &metrics_listener {
                tracing::info!(address = %metrics.local_addr()?, "metrics listening");
            }
            serve(listener, metrics_listener, state, shutdown_signal()).await?;
            tracing::info!("stopped");
        }
        Command::Migrate => {
            let store = Store::connect(&config.database_url(), 2, None).await?;
            store.migrate().await?;
            println!("migrations applied ({})", store.backend().name());
        }
        Command::ApiKey(ApiKeyCommand::Create { org, scopes, name }) => {
            let scopes = cli_scopes(&scopes)?;
            let state = build_state(config, None).await?;
            let (org_id, key_id, secret) = create_api_key(&state, &org, &name, &scopes).await?;
            eprintln!("created {key_id} in {org} ({org_id}); the secret is shown once:");
            println!("{secret}");
        }
        Command::User(UserCommand::Create { org, email, role }) => {
            let role = kenali_server::service::users::Role::parse(&role).context("--role must be analyst or admin")?;
            let password = std::env::var("KENALI_USER_PASSWORD").ok();
            let base = config.dashboard_base_url();
            let state = build_state(config, None).await?;
            let created =
                kenali_server::service::users::create(&state, &org, &email, role, password.as_deref(), "cli").await?;
            println!("{}", created.user.id);
            eprintln!("the link that enrolls a first passkey (one use, 72 hours; the token is after #token=):");
            println!("{base}/dashboard/enroll#token={}", created.enrollment_token);
        }
        Command::User(UserCommand::Disable { org, email }) => {
            let state = build_state(config, None).await?;
            let email = kenali_server::service::users::normalize_email(&email)?;
            let mut conn = state.store.reader().acquire().await?;
            let org_row = orgs::find_by_name(&mut conn, &org).await?.with_context(|| format!("no org named {org}"))?;
            let user = kenali_server::store::users::find_in_org_by_email(&mut conn, &org_row.id, &email)
                .await?
                .with_context(|| format!("no user {email} in {org}"))?;
            drop(conn);
            let actor = Actor {
                org_id: org_row.id.clone(),
                actor: "cli".into(),
                actor_user_id: None,
                request_id: "cli".into(),
            };
            let changed = kenali_server::service::users::disable(&state, &org_row.id, &user.id, &actor).await?;
            eprintln!("{}", if changed { "disabled; every session of theirs has ended" } else { "already disabled" });
            println!("{}", user.id);
        }
        Command::Models(ModelsCommand::Fetch) => {
            let dir = config.models_dir();
            eprintln!(
                "fetching the face model pack into {} (insightface models: non-commercial research use only)",
                dir.display()
            );
            kenali_vision::models::fetch(&dir, &kenali_vision::models::FACE_PACK, &mut |line| eprintln!("{line}"))?;
            eprintln!("fetching the OCR model pack (PaddleOCR PP-OCRv6, Apache-2.0)");
            kenali_vision::models::fetch(&dir, &kenali_vision::ocr::OCR_PACK, &mut |line| eprintln!("{line}"))?;
            println!("models ready in {}", dir.display());
        }
        Command::Retention(RetentionCommand::Run { now }) => {
            let now = match now.as_deref() {
                Some(text) => kenali_core::time_fmt::parse_timestamp(text)
                    .with_context(|| format!("--now {text:?} is not an RFC 3339 time (e.g. 2029-01-01T00:00:00Z)"))?,
                None => time::OffsetDateTime::now_utc(),
            };
            let state = build_state(config, None).await?;
            let report = kenali_server::retention::sweep(&state, now, "cli", true)
                .await
                .map_err(|e| anyhow::anyhow!("retention sweep failed: {e}"))?;
            println!("{}", serde_json::to_string_pretty(&serde_json::json!({"sweep": report}))?);
        }
        Command::Blobs(BlobsCommand::Migrate) => {
            let state = build_state(config, None).await?;
            let before = kenali_server::blobs::database_image_bytes(&state.store).await?;
            let bar = indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} images ({eta} left)")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let migrated = kenali_server::blobs::migrate_rows(&state.store, &state.blobs, &mut |done, total| {
                bar.set_length(total);
                bar.set_position(done);
            })
            .await?;
            bar.finish_and_clear();
            kenali_server::blobs::reclaim_space(&state.store).await?;
            let after = kenali_server::blobs::database_image_bytes(&state.store).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "moved": migrated,
                    "blobStore": state.blobs.location(),
                    "imageTableBytesBefore": before,
                    "imageTableBytesAfter": after,
                }))?
            );
        }
        Command::Oauth(OauthCommand::RotateKey { drop_retired }) => {
            let state = build_state(config, None).await?;
            let kid = kenali_server::oauth::rotate(&state, drop_retired).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({"signingKey": kid, "droppedRetired": drop_retired}))?
            );
        }
        Command::Audit(AuditCommand::Verify) => {
            let store = Store::connect(&config.database_url(), 2, None).await?;
            match kenali_server::service::audit_chain::verify(&store, None).await? {
                Ok(report) => {
                    for (org, count) in &report.orgs {
                        println!("{org}: {count} entries, chain intact");
                    }
                    println!("audit log verified");
                }
                Err(broken) => {
                    eprintln!("{broken}");
                    return Ok(ExitCode::from(2));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; draining requests");
}
