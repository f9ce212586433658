use kenali_server::service::audit_chain;
use serde_json::json;

use crate::testkit::{servers, TestServer, NIK_MALE};

async fn make_history(server: &TestServer) {
    for i in 0..3 {
        let customer = server.create_customer(json!({"fullName": format!("Person {i}"), "nik": NIK_MALE})).await;
        let (status, _) =
            server.post("/api/identity/nik/dukcapil", json!({"customerId": customer["id"], "valid": true})).await;
        assert!(status.is_success());
    }
}

#[tokio::test]
async fn the_chain_verifies_and_names_an_edited_or_removed_row() {
    for server in servers().await {
        make_history(&server).await;
        let report = audit_chain::verify(&server.state.store, None).await.unwrap().expect("intact chain");
        assert!(report.orgs.iter().any(|(_, n)| *n > 10));

        let mut writer = server.state.store.write().await.unwrap();
        sqlx::query("UPDATE audit_log SET target = 'cus_forged' WHERE seq = 4").execute(&mut *writer).await.unwrap();
        drop(writer);
        let broken = audit_chain::verify(&server.state.store, None).await.unwrap().expect_err("edited row");
        assert_eq!(broken.seq, 4);
        assert!(broken.reason.contains("altered"), "{broken}");
    }
    for server in servers().await {
        make_history(&server).await;
        let mut writer = server.state.store.write().await.unwrap();
        sqlx::query("DELETE FROM audit_log WHERE seq = 3").execute(&mut *writer).await.unwrap();
        drop(writer);
        let broken = audit_chain::verify(&server.state.store, None).await.unwrap().expect_err("removed row");
        assert_eq!(broken.seq, 4);
    }
    for server in servers().await {
        make_history(&server).await;
        let mut writer = server.state.store.write().await.unwrap();
        sqlx::query("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)")
            .execute(&mut *writer)
            .await
            .unwrap();
        drop(writer);
        audit_chain::verify(&server.state.store, None).await.unwrap().expect_err("removed newest row");
    }
}

#[tokio::test]
async fn concurrent_writes_keep_the_chain_whole() {
    for server in servers().await {
        let mut tasks = Vec::new();
        for i in 0..16 {
            let client = server.client.clone();
            let url = format!("{}/api/customers", server.base);
            let key = server.key.clone();
            tasks.push(tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth(key)
                    .json(&json!({"fullName": format!("C{i}"), "nik": NIK_MALE}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            }));
        }
        for task in tasks {
            assert!(task.await.unwrap().is_success());
        }
        let report = audit_chain::verify(&server.state.store, None).await.unwrap().expect("intact chain");
        // 16 customers × (created + verification + tier change) plus the bootstrap key.
        assert_eq!(report.orgs.iter().map(|(_, n)| n).sum::<u64>(), 16 * 3 + 1);
    }
}

#[tokio::test]
async fn the_cli_verifies_and_exits_non_zero_on_tampering() {
    let server = TestServer::start(None).await;
    make_history(&server).await;
    let kenali = env!("CARGO_BIN_EXE_kenali");
    let run = |dir: &std::path::Path| {
        std::process::Command::new(kenali)
            .args(["--data-dir", dir.to_str().unwrap(), "audit", "verify"])
            .env_remove("KENALI_DATABASE_URL")
            .output()
            .unwrap()
    };
    let ok = run(&server.data_dir);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("chain intact"));
    sqlx::query("UPDATE audit_log SET action = 'nothing.happened' WHERE seq = 2")
        .execute(&mut *server.state.store.write().await.unwrap())
        .await
        .unwrap();
    let bad = run(&server.data_dir);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("seq 2"), "{}", String::from_utf8_lossy(&bad.stderr));
}
