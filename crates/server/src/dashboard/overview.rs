//! The overview: where people would rather look than read. Captures per day by verdict, the
//! step-up allow rate and latency, and the review queue's age.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use maud::html;

use super::charts::{lines, stacked_bars, Series};
use super::i18n::Msg;
use super::layout::page;
use super::{PageError, Viewer};
use crate::auth::Scope;
use crate::service::overview::{self, AGE_BUCKETS};
use crate::state::AppState;

pub async fn show(State(state): State<AppState>, viewer: Viewer) -> Response {
    if let Err(refused) = viewer.require(Scope::Internal) {
        return refused.into_response();
    }
    let lang = viewer.lang;
    let figures = match overview::overview(&state, &viewer.session.user.org_id).await {
        Ok(figures) => figures,
        Err(e) => return PageError::from(e).with_lang(lang).into_response(),
    };
    let days: Vec<String> = figures.captures.iter().map(|d| d.day.clone()).collect();
    let captures = [
        Series {
            name: Msg::Passed.text(lang),
            class: "s-passed",
            values: figures.captures.iter().map(|d| d.passed).collect(),
        },
        Series {
            name: Msg::Failed.text(lang),
            class: "s-failed",
            values: figures.captures.iter().map(|d| d.failed).collect(),
        },
        Series {
            name: Msg::Refused.text(lang),
            class: "s-refused",
            values: figures.captures.iter().map(|d| d.refused).collect(),
        },
    ];
    let allow = [Series {
        name: Msg::AllowRate.text(lang),
        class: "s-passed",
        values: figures.step_ups.iter().map(|d| d.allow_rate().map(|r| r * 100.0)).collect(),
    }];
    let latency = [
        Series {
            name: "p50",
            class: "s-p50",
            values: figures.step_ups.iter().map(|d| d.p50_ms.map(|v| v as f64)).collect(),
        },
        Series {
            name: "p99",
            class: "s-p99",
            values: figures.step_ups.iter().map(|d| d.p99_ms.map(|v| v as f64)).collect(),
        },
    ];
    let ages: Vec<String> = AGE_BUCKETS.iter().map(|(label, _)| (*label).to_string()).collect();
    let queue = [Series { name: Msg::Open.text(lang), class: "s-refused", values: figures.queue_age.to_vec() }];
    let no_step_ups = Msg::NoStepUps.text(lang);
    let body = html! {
        p.muted { (Msg::OverviewIntro.text(lang)) }
        div.charts {
            (stacked_bars("captures-chart", Msg::CapturesPerDay.text(lang), &days, &captures))
            (lines("allow-chart", Msg::StepUpAllowRate.text(lang), &days, &allow, (Some(100.0), no_step_ups), &|v| format!("{v:.0} %")))
            (lines("latency-chart", Msg::StepUpLatency.text(lang), &days, &latency, (None, no_step_ups), &|v| format!("{v:.0} ms")))
            (stacked_bars("queue-age-chart", Msg::QueueAge.text(lang), &ages, &queue))
        }
    };
    Html(page(&viewer, "/dashboard/overview", Msg::Overview, body).into_string()).into_response()
}
