//! The helpers the workflows share (capture, liveness, step-up, KTP, Dukcapil, review), kept out
//! of the HTTP handlers so that no handler reaches into a sibling for them.

pub mod devices;
pub mod faces;
pub mod nik;
pub mod review;
