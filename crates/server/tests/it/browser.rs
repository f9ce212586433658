//! A real browser for the dashboard tests: Debian's `chromium`, headless, driven through
//! `chromedriver` (WebDriver) with fantoccini, and Chromium's virtual authenticator for
//! passkeys. `.ci/run` installs both packages; a machine without them fails these tests with
//! a message saying so, rather than skipping them.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::Method;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::Url;
use serde_json::{json, Value};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A chromedriver process and one browser session on it; both end on drop.
pub struct Browser {
    pub client: Client,
    driver: Child,
    screenshots: PathBuf,
    shot: std::sync::atomic::AtomicUsize,
}

impl Drop for Browser {
    /// Ends chromedriver and the Chromium it started: they share a process group of their own.
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Where a test's screenshots go: `target/dashboard-screenshots/<name>/`.
fn screenshot_dir(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("dashboard-screenshots").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; `name` names the screenshot folder.
    pub async fn start(name: &str) -> Browser {
        Self::start_with(name, &[]).await
    }

    /// [`Browser::start`] with more Chromium switches (a fake camera, a permission answer).
    pub async fn start_with(name: &str, switches: &[&str]) -> Browser {
        assert!(
            Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
            "the dashboard tests need Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        );
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..100 {
            if http.get(format!("{url}/status")).send().await.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut capabilities = serde_json::Map::new();
        let mut args = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1280,1100",
            "--lang=en-US",
        ];
        args.extend_from_slice(switches);
        capabilities.insert("goog:chromeOptions".into(), json!({"binary": CHROMIUM, "args": args}));
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&url)
            .await
            .expect("a chromium session");
        Browser { client, driver, screenshots: screenshot_dir(name), shot: Default::default() }
    }

    /// Adds a CTAP2 platform authenticator that holds discoverable credentials and verifies
    /// its user without asking (Chromium's virtual authenticator, WebDriver's WebAuthn extension).
    pub async fn add_virtual_authenticator(&self) -> String {
        let answer = self.client.issue_cmd(AddVirtualAuthenticator).await.expect("a virtual authenticator");
        answer.as_str().unwrap_or_default().to_string()
    }

    /// The credentials the virtual authenticator holds.
    pub async fn credentials(&self, authenticator: &str) -> Vec<Value> {
        let answer = self
            .client
            .issue_cmd(Credentials(authenticator.to_string()))
            .await
            .expect("the authenticator's credentials");
        answer.as_array().cloned().unwrap_or_default()
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
    }

    pub async fn text(&self, css: &str) -> String {
        self.wait_for(css).await.text().await.unwrap()
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.unwrap();
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self.wait_for(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_string()
    }

    /// Waits until the page's path is `path`.
    pub async fn wait_for_path(&self, path: &str) {
        for _ in 0..200 {
            if self.path().await == path {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.screenshot("stuck").await;
        let text = self.script("return document.body.innerText").await;
        panic!("the page stayed at {} instead of {path}; it reads: {text}", self.path().await);
    }

    pub async fn script(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Runs `script` with `arguments[0]` = `argument`.
    pub async fn script_with(&self, script: &str, argument: Value) -> Value {
        self.client.execute(script, vec![argument]).await.unwrap()
    }

    /// Saves the page as `NN-name.png` under the test's screenshot folder.
    pub async fn screenshot(&self, name: &str) {
        let shot = self.shot.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.screenshots.join(format!("{shot:02}-{name}.png")), png).unwrap();
    }
}

#[derive(Debug)]
struct AddVirtualAuthenticator;

impl WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(&self, base_url: &Url, session_id: Option<&str>) -> Result<Url, <Url as std::str::FromStr>::Err> {
        base_url.join(&format!("session/{}/webauthn/authenticator", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &Url) -> (Method, Option<String>) {
        let body = json!({"protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
            "hasUserVerification": true, "isUserConsenting": true, "isUserVerified": true});
        (Method::POST, Some(body.to_string()))
    }
}

#[derive(Debug)]
struct Credentials(String);

impl WebDriverCompatibleCommand for Credentials {
    fn endpoint(&self, base_url: &Url, session_id: Option<&str>) -> Result<Url, <Url as std::str::FromStr>::Err> {
        base_url.join(&format!(
            "session/{}/webauthn/authenticator/{}/credentials",
            session_id.unwrap_or_default(),
            self.0
        ))
    }

    fn method_and_body(&self, _request_url: &Url) -> (Method, Option<String>) {
        (Method::GET, None)
    }
}
