//! The Kenali server: HTTP API, storage and command line.

pub mod api;
pub mod app;
pub mod auth;
pub mod blobs;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod demo;
pub mod error;
pub mod extract;
pub mod faces;
pub mod keys;
pub mod ledger;
pub mod metrics;
pub mod middleware;
pub mod oauth;
pub mod openapi;
pub mod ratelimit;
pub mod retention;
pub mod search_index;
pub mod service;
pub mod state;
pub mod store;
pub mod submission_worker;
pub mod views;
pub mod webhooks;
