//! Kenali's pure domain: identifiers, NIK rules, the KYC tier ladder, envelope sealing and
//! the audit hash chain. Nothing here performs I/O; every rule is a plain function.

pub mod audit;
pub mod challenge;
pub mod document;
pub mod face;
pub mod face_index;
pub mod id;
pub mod ktp;
pub mod liveness;
pub mod nik;
pub mod seal;
pub mod search;
pub mod settings;
pub mod tier;
pub mod time_fmt;
pub mod typeface;
pub mod vendor;
pub mod verification;
pub mod vote;
pub mod webhook;
