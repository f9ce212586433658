//! The review queue: items oldest first, and one item's evidence (frames, the card beside the
//! claims, every voter) with the approve / reject form.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use kenali_core::document::thresholds::{Passes, SingleThreshold};
use kenali_core::verification::ReviewVerdict;
use maud::{html, Markup};
use serde::Deserialize;

use super::i18n::{Lang, Msg};
use super::layout::{measure, page, when};
use super::{content_type, PageError, Viewer};
use crate::auth::Scope;
use crate::error::ApiError;
use crate::extract::PageQuery;
use crate::ledger::Pii;
use crate::service::review::{self, DecisionRequest, MAX_REASON_CHARS};
use crate::service::review_evidence::{self, PortraitComparison, ReadField, ReviewEvidence, VoterLine};
use crate::state::AppState;
use crate::store::ktp as ktp_store;

#[derive(Debug, Deserialize)]
pub struct QueueQuery {
    status: Option<String>,
    cursor: Option<String>,
}

const STATUSES: [(&str, Msg); 3] = [("open", Msg::Open), ("approved", Msg::Approved), ("rejected", Msg::Rejected)];

pub async fn queue(State(state): State<AppState>, viewer: Viewer, Query(query): Query<QueueQuery>) -> Response {
    if let Err(refused) = viewer.require(Scope::Internal) {
        return refused.into_response();
    }
    let lang = viewer.lang;
    let status = query.status.as_deref().filter(|s| STATUSES.iter().any(|(k, _)| k == s)).unwrap_or("open");
    let listed = async {
        let page = PageQuery { limit: Some("50".into()), cursor: query.cursor.clone() }.page()?;
        let mut conn = state.store.reader().acquire().await.map_err(ApiError::from)?;
        let org_id = &viewer.session.user.org_id;
        let listed = ktp_store::list_review_items(&mut conn, org_id, status, page.cursor.as_deref(), page.limit)
            .await
            .map_err(ApiError::from)?;
        Ok::<_, PageError>(listed)
    };
    let (rows, next_cursor) = match listed.await {
        Ok(found) => found,
        Err(e) => return e.with_lang(lang).into_response(),
    };
    let body = html! {
        nav.tabs aria-label=(Msg::Status.text(lang)) {
            @for (key, label) in STATUSES {
                a href=(format!("/dashboard/review?status={key}")) aria-current=[(key == status).then_some("page")] {
                    (label.text(lang))
                }
            }
        }
        @if rows.is_empty() {
            p.muted #queue-empty { (Msg::NothingHere.text(lang)) }
        } @else {
            table #review-queue {
                thead { tr { th { (Msg::Opened.text(lang)) } th { (Msg::Kind.text(lang)) } th { (Msg::Customer.text(lang)) }
                    th { (Msg::Reasons.text(lang)) } th { (Msg::Actions.text(lang)) } } }
                tbody {
                    @for row in &rows {
                        tr {
                            td { (when(&row.created_at)) }
                            td { (row.kind) }
                            td { code { (row.customer_id) } }
                            td { @for reason in serde_json::from_str::<Vec<String>>(&row.reasons).unwrap_or_default() {
                                span.chip { (reason) } " " } }
                            td { a.review-link href=(format!("/dashboard/review/{}", row.id)) { (Msg::View.text(lang)) } }
                        }
                    }
                }
            }
        }
        @if let Some(cursor) = next_cursor {
            p { a href=(format!("/dashboard/review?status={status}&cursor={cursor}")) { (Msg::NextPage.text(lang)) } }
        }
    };
    Html(page(&viewer, "/dashboard/review", Msg::ReviewQueue, body).into_string()).into_response()
}

pub async fn item(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    if let Err(refused) = viewer.require(Scope::Internal) {
        return refused.into_response();
    }
    match review_evidence::evidence(&state, &viewer.session.actor(), &id).await {
        Ok(evidence) => item_page(&viewer, &evidence, None).into_response(),
        Err(e) => PageError::from(e).with_lang(viewer.lang).into_response(),
    }
}

fn item_page(viewer: &Viewer, evidence: &ReviewEvidence, form_error: Option<&str>) -> Html<String> {
    let lang = viewer.lang;
    let item = &evidence.item;
    let body = html! {
        dl.facts {
            dt { "ID" } dd { code #review-item-id { (item.id) } }
            dt { (Msg::Kind.text(lang)) } dd { (item.kind) }
            dt { (Msg::Customer.text(lang)) } dd { code { (item.customer_id) }
                @if let Some(external) = &evidence.external_ref { " · " (external) } }
            dt { (Msg::Status.text(lang)) } dd #review-status { (item.status) }
            dt { (Msg::Opened.text(lang)) } dd { (when(&item.created_at)) }
            @if let Some((verdict, assurance)) = &evidence.bundle {
                dt { (Msg::CaptureVerdict.text(lang)) } dd { (verdict) }
                dt { (Msg::Assurance.text(lang)) } dd { (assurance) }
            }
            dt { (Msg::Reasons.text(lang)) }
            dd { @for reason in serde_json::from_str::<Vec<String>>(&item.reasons).unwrap_or_default() {
                span.chip.failed { (reason) } " " } }
        }
        @if evidence.claims.is_none() {
            p.notice role="note" { (Msg::Erased.text(lang)) }
        }
        section aria-labelledby="frames-title" {
            h2 #frames-title { (Msg::Frames.text(lang)) }
            @if evidence.captures.is_empty() {
                p.muted { (Msg::NoFrames.text(lang)) }
            } @else {
                div.frames #frames {
                    @for (n, capture) in evidence.captures.iter().enumerate() {
                        figure {
                            img src=(format!("/dashboard/review/{}/captures/{}", item.id, capture.id))
                                alt=(format!("{} {}", Msg::Frame.text(lang), n + 1)) loading="lazy";
                            figcaption { (Msg::Frame.text(lang)) " " (n + 1) " · " (capture.kind) }
                        }
                    }
                }
            }
        }
        @if !evidence.reading.is_empty() {
            section aria-labelledby="card-title" {
                h2 #card-title { (Msg::CardAndClaims.text(lang)) }
                div.card-and-fields {
                    @if evidence.portrait.is_some() {
                        figure #rectified-card {
                            img src=(format!("/dashboard/review/{}/card", item.id)) alt=(Msg::RectifiedCard.text(lang)) loading="lazy";
                            figcaption { (Msg::RectifiedCard.text(lang)) }
                        }
                    }
                    (card_table(lang, &evidence.reading, evidence.claims.as_ref()))
                }
            }
        }
        @if let Some(comparison) = &evidence.portrait {
            section aria-labelledby="faces-title" {
                h2 #faces-title { (Msg::PortraitAgainstFaces.text(lang)) }
                (faces_table(lang, &item.customer_id, comparison))
            }
        }
        section aria-labelledby="voters-title" {
            h2 #voters-title { (Msg::Voters.text(lang)) }
            (voter_table(lang, &evidence.voters))
        }
        section aria-labelledby="decision-title" {
            h2 #decision-title { (Msg::Decision.text(lang)) }
            @if item.status == "open" {
                (decision_form(viewer, &item.id, form_error))
            } @else {
                dl.facts #decision {
                    dt { (Msg::Decision.text(lang)) } dd { (item.status) }
                    dt { (Msg::DecidedBy.text(lang)) } dd { code #decided-by { (item.decided_by.as_deref().unwrap_or("")) } }
                    dt { (Msg::DecidedAt.text(lang)) } dd { (when(item.decided_at.as_deref().unwrap_or(""))) }
                    dt { (Msg::Reason.text(lang)) } dd #decision-reason { (item.decision_reason.as_deref().unwrap_or("")) }
                }
            }
        }
    };
    Html(page(viewer, "/dashboard/review", Msg::ReviewItem, body).into_string())
}

/// A threshold as the side a measure passes on: `≥ 0.5`, `≤ 7.5`, `|x| ≤ 0.0203`.
fn threshold(bound: &SingleThreshold) -> Markup {
    let value = measure(Some(f64::from(bound.threshold)));
    html! {
        @match bound.passes {
            Passes::AtLeast => { "≥ " (value) }
            Passes::AtMost => { "≤ " (value) }
            Passes::WithinEither => { "|x| ≤ " (value) }
        }
    }
}

/// The portrait beside each enrolled face, with their similarity and the org's threshold.
fn faces_table(lang: Lang, customer_id: &str, comparison: &PortraitComparison) -> Markup {
    let image = |enrollment_id: &str| format!("/dashboard/customers/{customer_id}/enrollments/{enrollment_id}/image");
    html! {
        @if !comparison.has_face {
            p.muted #no-portrait-face { (Msg::NoPortraitFace.text(lang)) }
        } @else {
            p { (Msg::MatchThresholdIs.text(lang)) " " strong #match-threshold { (measure(Some(f64::from(comparison.threshold)))) } "." }
            div.faces {
                figure #portrait {
                    img.thumb.card src=(image(&comparison.portrait.id)) alt=(Msg::CardPortrait.text(lang)) loading="lazy";
                    figcaption { (Msg::CardPortrait.text(lang)) br; code { (comparison.portrait.id) } }
                }
                @if comparison.others.is_empty() {
                    p.muted #no-other-faces { (Msg::NoOtherFaces.text(lang)) }
                }
                @for other in &comparison.others {
                    @let same = other.score.map(|score| score >= comparison.threshold);
                    figure.face data-enrollment=(other.enrollment.id) {
                        @if other.enrollment.image_sha256.is_some() && other.enrollment.retired_at.is_none() {
                            img.thumb.card[other.enrollment.source == "ktp_extract"] src=(image(&other.enrollment.id))
                                alt=(other.enrollment.source) loading="lazy";
                        }
                        figcaption {
                            (other.enrollment.source) " · " (other.enrollment.status) br;
                            (Msg::Similarity.text(lang)) ": " strong.similarity { (measure(other.score.map(f64::from))) }
                            @match same {
                                Some(true) => { " " span.chip.passed { (Msg::SamePerson.text(lang)) } }
                                Some(false) => { " " span.chip.failed { (Msg::AnotherPerson.text(lang)) } }
                                None => {}
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The customer's claim for a reading's field, where the customer states one.
fn claim_for<'a>(claims: &'a Pii, field: &str) -> Option<&'a str> {
    match field {
        "fullName" => Some(claims.full_name.as_str()),
        "nik" => claims.nik.as_deref(),
        "dateOfBirth" => claims.date_of_birth.as_deref(),
        "gender" => claims.gender.as_ref().map(|g| g.as_str()),
        _ => None,
    }
}

fn card_table(lang: Lang, reading: &[ReadField], claims: Option<&Pii>) -> Markup {
    html! {
        table #card-fields {
            thead { tr { th { (Msg::Field.text(lang)) } th { (Msg::ReadOffCard.text(lang)) }
                th { (Msg::Confidence.text(lang)) } th { (Msg::Claimed.text(lang)) } } }
            tbody {
                @for field in reading {
                    @let claim = claims.and_then(|c| claim_for(c, &field.name));
                    @let differs = matches!((claim, &field.value), (Some(c), Some(v)) if !c.eq_ignore_ascii_case(v));
                    tr.differs[differs] {
                        th scope="row" { (field.name) }
                        td { (field.value.as_deref().unwrap_or("–")) }
                        td { (measure(field.confidence)) }
                        td { (claim.unwrap_or("")) @if differs { " " span.chip.failed { (Msg::Differs.text(lang)) } } }
                    }
                }
            }
        }
    }
}

fn voter_table(lang: Lang, voters: &[VoterLine]) -> Markup {
    html! {
        table #voters {
            thead { tr { th { (Msg::Check.text(lang)) } th { (Msg::Voter.text(lang)) } th { (Msg::Role.text(lang)) }
                th { (Msg::Verdict.text(lang)) } th { (Msg::Measure.text(lang)) } th { (Msg::Threshold.text(lang)) }
                th { (Msg::Reason.text(lang)) } } }
            tbody {
                @for voter in voters {
                    @let (class, verdict) = match voter.passed {
                        Some(true) => ("passed", Msg::Passed),
                        Some(false) => ("failed", Msg::Failed),
                        None => ("abstained", Msg::Abstained),
                    };
                    tr class=(class) data-voter=(voter.name) {
                        td { (voter.check) }
                        th scope="row" { (voter.name) }
                        td { (voter.role) }
                        td { span class=(format!("chip {class}")) { (verdict.text(lang)) } }
                        td { (measure(voter.score)) }
                        td.threshold { @if let Some(bound) = &voter.threshold { (threshold(bound)) } }
                        td { (voter.reason) }
                    }
                }
            }
        }
    }
}

fn decision_form(viewer: &Viewer, id: &str, error: Option<&str>) -> Markup {
    let lang = viewer.lang;
    html! {
        @if let Some(error) = error {
            p.error #decision-error role="alert" { (error) }
        }
        form #decision-form method="post" action=(format!("/dashboard/review/{id}/decision")) {
            input type="hidden" name="csrf" value=(viewer.csrf);
            fieldset {
                legend { (Msg::Decision.text(lang)) }
                label { input #decision-approve type="radio" name="decision" value="approve" required; " " (Msg::Approve.text(lang)) }
                label { input #decision-reject type="radio" name="decision" value="reject"; " " (Msg::Reject.text(lang)) }
            }
            label for="reason" { (Msg::DecisionReason.text(lang)) }
            textarea #reason name="reason" required maxlength=(MAX_REASON_CHARS) rows="3" {}
            button #decision-submit type="submit" { (Msg::Submit.text(lang)) }
        }
    }
}

/// One frame of the item, decrypted for this response only (`no-store` from the guard).
/// The card rectified from the frame it was read from.
pub async fn card(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    if let Err(refused) = viewer.require(Scope::Internal) {
        return refused.into_response();
    }
    match review_evidence::rectified_card(&state, &viewer.session.actor(), &id).await {
        Ok(jpeg) => ([content_type("image/jpeg")], jpeg).into_response(),
        Err(e) => PageError::from(e).with_lang(viewer.lang).into_response(),
    }
}

pub async fn capture(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, capture_id)): Path<(String, String)>,
) -> Response {
    if let Err(refused) = viewer.require(Scope::Internal) {
        return refused.into_response();
    }
    match review_evidence::capture_image(&state, &viewer.session.actor(), &id, &capture_id).await {
        Ok((media_type, bytes)) => ([content_type(media_type)], bytes).into_response(),
        Err(e) => PageError::from(e).with_lang(viewer.lang).into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

/// Records the decision as the signed-in person; a refused form shows the item again with why.
pub async fn decide(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> Response {
    if let Err(refused) = viewer.require(Scope::Internal) {
        return refused.into_response();
    }
    let form = form.map(|Form(form)| form).unwrap_or_default();
    if let Err(refused) = viewer.check_csrf(&state, &form.csrf) {
        return refused.into_response();
    }
    let decided = match form.decision.as_str() {
        "approve" => Ok(ReviewVerdict::Approve),
        "reject" => Ok(ReviewVerdict::Reject),
        _ => Err(crate::service::Error::invalid_field("decision", "choose approve or reject")),
    };
    let outcome = match decided {
        Ok(verdict) => review::decide(&state, viewer.session.actor(), &id, DecisionRequest::new(verdict, form.reason))
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => Redirect::to(&format!("/dashboard/review/{id}")).into_response(),
        Err(err) => {
            let api = ApiError::from(err);
            if api.status != StatusCode::BAD_REQUEST && api.status != StatusCode::CONFLICT {
                return PageError::from(api).with_lang(viewer.lang).into_response();
            }
            match review_evidence::evidence(&state, &viewer.session.actor(), &id).await {
                Ok(evidence) => (api.status, item_page(&viewer, &evidence, Some(&api.message))).into_response(),
                Err(e) => PageError::from(e).with_lang(viewer.lang).into_response(),
            }
        }
    }
}
