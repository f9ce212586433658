//! HTTP handlers, one module per resource. A handler checks the caller's scope, parses the
//! request, calls a workflow in `crate::service` (or the store, for plain reads and settings)
//! and shapes the answer; rules live in kenali-core.

pub mod api_keys;
pub mod audit_log;
pub mod auth;
pub mod b2b;
pub mod customers;
pub mod devices;
pub mod export;
pub mod faces;
pub mod health;
pub mod integrations;
pub mod ktp;
pub mod kyc;
pub mod liveness;
pub mod nik;
pub mod oauth;
pub mod review;
pub mod search;
pub mod settings;
pub mod webhooks;

pub use crate::service::customers::{load_customer, lock_customer, org_settings, tier_policy};
