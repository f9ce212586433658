//! A real S3 server for the tests: Garage (crates.io package `garage`, installed by `.ci/run`),
//! started once per test process on free loopback ports with one node, one bucket and one key,
//! and stopped when the process ends. The PostgreSQL servers of [`crate::testkit::servers`]
//! keep their images in it; the SQLite ones in `file://`.
//!
//! The binary is `$KENALI_GARAGE_BIN`, else `garage` on the `PATH` or in
//! `~/.local/garage/bin`. Without it the tests fail, saying how to install it, unless
//! `KENALI_TEST_S3=off` (then every server uses `file://`).

use std::path::{Path, PathBuf};
use std::process::Command;

use tokio::sync::OnceCell;

/// What a server needs to use the test bucket.
#[derive(Debug, Clone)]
pub struct S3Target {
    pub endpoint: String,
    pub region: &'static str,
    pub bucket: &'static str,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// The region Garage answers in: Jakarta's, so that residency checks pass for `id-jkt-1`.
pub const REGION: &str = "ap-southeast-3";
const BUCKET: &str = "kenali-it";

fn garage_binary() -> Option<PathBuf> {
    if let Ok(bin) = std::env::var("KENALI_GARAGE_BIN") {
        return Some(PathBuf::from(bin));
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let path = std::env::var("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([Path::new(&home).join(".local/garage/bin")])
        .map(|dir| dir.join("garage"))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The shared Garage, started on first use; `None` when `KENALI_TEST_S3=off`.
pub async fn s3() -> Option<&'static S3Target> {
    static GARAGE: OnceCell<Option<S3Target>> = OnceCell::const_new();
    GARAGE
        .get_or_init(|| async {
            if std::env::var("KENALI_TEST_S3").is_ok_and(|v| v == "off") {
                return None;
            }
            let bin = garage_binary().expect(
                "the tests need Garage (a real S3 server): `cargo install garage --version 2.5.0 --locked --root ~/.local/garage` \
                 (about 15 minutes on 2 cores), or set KENALI_GARAGE_BIN; KENALI_TEST_S3=off runs without it",
            );
            Some(tokio::task::spawn_blocking(move || start(&bin)).await.unwrap())
        })
        .await
        .as_ref()
}

fn start(bin: &Path) -> S3Target {
    let dir = std::env::temp_dir().join(format!("kenali-garage-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).unwrap();
    let (s3_port, rpc_port) = (free_port(), free_port());
    let secret: [u8; 32] = rand::random();
    let config = dir.join("garage.toml");
    std::fs::write(
        &config,
        format!(
            "metadata_dir = \"{meta}\"\ndata_dir = \"{data}\"\ndb_engine = \"sqlite\"\nreplication_factor = 1\n\
             rpc_bind_addr = \"127.0.0.1:{rpc_port}\"\nrpc_public_addr = \"127.0.0.1:{rpc_port}\"\nrpc_secret = \"{secret}\"\n\
             [s3_api]\ns3_region = \"{REGION}\"\napi_bind_addr = \"127.0.0.1:{s3_port}\"\nroot_domain = \".s3.garage.localhost\"\n",
            meta = dir.join("meta").display(),
            data = dir.join("data").display(),
            secret = hex::encode(secret),
        ),
    )
    .unwrap();
    // The server lives as long as this test process: a shell watches our pid and stops it.
    let script = format!(
        "\"$0\" -c \"$1\" server >\"$2\" 2>&1 & g=$!; while kill -0 {pid} 2>/dev/null; do sleep 1; done; kill $g; rm -rf \"$3\"",
        pid = std::process::id()
    );
    let mut watcher = Command::new("sh")
        .args(["-c", &script])
        .arg(bin)
        .arg(&config)
        .arg(dir.join("server.log"))
        .arg(&dir)
        .spawn()
        .expect("starting garage");
    std::thread::spawn(move || watcher.wait());
    let garage = |args: &[&str]| -> String {
        let out = Command::new(bin).arg("-c").arg(&config).args(args).output().expect("running garage");
        assert!(out.status.success(), "garage {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // Wait for the node to answer, then give it a role and a bucket.
    let mut node = String::new();
    for _ in 0..100 {
        let out = Command::new(bin).arg("-c").arg(&config).args(["node", "id", "-q"]).output().unwrap();
        if out.status.success() {
            node = String::from_utf8_lossy(&out.stdout).split('@').next().unwrap_or_default().trim().to_string();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        !node.is_empty(),
        "garage did not start: {}",
        std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
    );
    // `node id` reads the node's key from disk; the server may not listen yet. `status` talks
    // to it, so wait for that to answer before changing the layout.
    let listening = (0..200).any(|_| {
        let up = Command::new(bin).arg("-c").arg(&config).arg("status").output().is_ok_and(|out| out.status.success());
        if !up {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        up
    });
    assert!(
        listening,
        "garage did not answer: {}",
        std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
    );
    garage(&["layout", "assign", "-z", "dc1", "-c", "1G", &node]);
    garage(&["layout", "apply", "--version", "1"]);
    garage(&["bucket", "create", BUCKET]);
    let key = garage(&["key", "create", "kenali-it"]);
    let field = |name: &str| {
        key.lines()
            .find_map(|line| line.strip_prefix(name).map(|rest| rest.trim().to_string()))
            .unwrap_or_else(|| panic!("no {name} in garage's answer: {key}"))
    };
    let (access_key_id, secret_access_key) = (field("Key ID:"), field("Secret key:"));
    garage(&["bucket", "allow", "--read", "--write", "--owner", BUCKET, "--key", "kenali-it"]);
    S3Target {
        endpoint: format!("http://127.0.0.1:{s3_port}"),
        region: REGION,
        bucket: BUCKET,
        access_key_id,
        secret_access_key,
    }
}

/// Points a server's configuration at the test bucket.
pub fn configure(config: &mut kenali_server::config::Config, target: &S3Target) {
    use kenali_server::config::Secret;
    config.blob_url = Some(format!("s3://{}", target.bucket));
    config.s3_endpoint = Some(target.endpoint.clone());
    config.s3_region = Some(target.region.to_string());
    config.s3_access_key_id = Some(Secret::new(target.access_key_id.clone()));
    config.s3_secret_access_key = Some(Secret::new(target.secret_access_key.clone()));
}
