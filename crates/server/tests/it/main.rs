//! One integration-test binary: every test starts the real router on 127.0.0.1:0, against
//! SQLite always and against PostgreSQL too when `KENALI_TEST_DATABASE_URL` is set (each
//! server in a schema of its own, so runs cannot collide).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod auth;
mod b2b;
mod blobs;
mod browser;
mod cli;
mod customers;
mod dashboard;
mod dashboard_admin;
mod decisions;
mod erasure;
mod export;
mod face_search;
mod faces;
mod garage;
mod idempotency;
mod ktp;
mod kyc;
mod limits;
mod liveness;
mod oauth;
mod openapi;
mod retention;
mod sdk;
mod search;
mod settings;
mod sign_in;
mod testkit;
mod vendor_kyc;
mod webhooks;
