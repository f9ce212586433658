//! Prometheus metrics, one registry per server (no global recorder, so several servers can
//! live in one test process).

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    /// Face pipeline stages: per frame (decode, detect, embed, antispoof, photometry), per bundle
    /// (`bundle`: all frames' wall time) and per decision (`db`: the transaction that records it).
    pub face_stage: HistogramVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("kenali".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency by route")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            &["method", "route"],
        )?;
        let face_stage = HistogramVec::new(
            HistogramOpts::new("face_stage_seconds", "Face pipeline time by stage")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]),
            &["stage"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(face_stage.clone()))?;
        Ok(Self { registry, requests, latency, face_stage })
    }

    pub fn observe_face_stage(&self, stage: &str, took: std::time::Duration) {
        self.face_stage.with_label_values(&[stage]).observe(took.as_secs_f64());
    }

    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        // Text encoding into a Vec cannot fail for well-formed metric families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}
