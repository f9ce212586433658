//! The workflows (capture, liveness, step-up, face match, Dukcapil ingest, review decisions,
//! erasure) and the helpers they share, kept out of the HTTP handlers: a handler parses, calls
//! one of these and maps the answer. Each returns [`Error`], the domain's own error type.

pub mod api_keys;
pub mod audit_chain;
pub mod bundle;
pub mod customers;
pub mod devices;
pub mod dukcapil;
pub mod erasure;
pub mod error;
pub mod face_match;
pub mod face_match_job;
pub mod face_search;
pub mod faces;
pub mod integrations;
pub mod ktp;
pub mod liveness;
pub mod nik;
pub mod oauth;
pub mod overview;
pub mod passkeys;
pub mod review;
pub mod review_evidence;
pub mod search;
pub mod settings;
pub mod sign_in;
pub mod submissions;
pub mod users;
pub mod validate;
pub mod vendor_push;
pub mod webhooks;

pub use error::{Error, ImageProblem, Result};
