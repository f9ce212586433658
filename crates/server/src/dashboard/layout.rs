//! The page shell (head, navigation, language switch, sign-out) and the embedded assets.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use maud::{html, Markup, DOCTYPE};

use super::i18n::{Lang, Msg};
use super::Viewer;
use crate::auth::Scope;
use crate::service::sign_in::Purpose;

const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/app.css");

pub async fn script() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/javascript; charset=utf-8"), (CACHE_CONTROL, "no-cache")], SCRIPT)
}

pub async fn style() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, "no-cache")], STYLE)
}

fn head(lang: Lang, title: Msg, csrf: Option<&str>) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title.text(lang)) " · Kenali" }
            link rel="stylesheet" href="/dashboard/assets/app.css";
            @if let Some(csrf) = csrf {
                meta name="csrf-token" content=(csrf);
            }
            script src="/dashboard/assets/app.js" defer {}
        }
    }
}

/// A page without navigation (sign-in, enrollment, errors).
pub fn bare(lang: Lang, title: Msg, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head(lang, title, None))
            body.bare data-lang=(lang.code()) {
                main #main { (body) }
            }
        }
    }
}

/// A page for a signed-in person: navigation by what their role may see, their name, the
/// language switch and sign-out.
pub fn page(viewer: &Viewer, current: &str, title: Msg, body: Markup) -> Markup {
    let lang = viewer.lang;
    let full = viewer.session.purpose == Purpose::Full;
    let internal = full && viewer.session.role.scopes().contains(&Scope::Internal);
    let admin = full && viewer.session.role.scopes().contains(&Scope::Admin);
    let nav_link = |href: &'static str, label: Msg| {
        html! {
            a href=(href) aria-current=[(current == href).then_some("page")] { (label.text(lang)) }
        }
    };
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            (head(lang, title, Some(&viewer.csrf)))
            body data-lang=(lang.code()) {
                a.skip href="#main" { (Msg::SkipToContent.text(lang)) }
                header {
                    nav aria-label="Kenali" {
                        span.brand { "Kenali" }
                        @if internal {
                            (nav_link("/dashboard/overview", Msg::Overview))
                            (nav_link("/dashboard/review", Msg::ReviewQueue))
                            (nav_link("/dashboard/customers", Msg::Customers))
                            (nav_link("/dashboard/tier-events", Msg::TierEvents))
                            (nav_link("/dashboard/audit", Msg::AuditLog))
                            (nav_link("/dashboard/exports", Msg::Exports))
                        }
                        @if admin {
                            (nav_link("/dashboard/webhooks", Msg::Webhooks))
                            (nav_link("/dashboard/api-keys", Msg::ApiKeys))
                            (nav_link("/dashboard/settings", Msg::Settings))
                        }
                        (nav_link("/dashboard/passkeys", Msg::Passkeys))
                    }
                    div.who {
                        span { (Msg::SignedInAs.text(lang)) " " strong #signed-in-as { (viewer.session.user.email) }
                            " (" (viewer.session.role.as_str()) ")" }
                        a href=(format!("/dashboard/lang/{}?back={current}", lang.other().code())) lang=(lang.other().code()) {
                            (Msg::Language.text(lang))
                        }
                        form method="post" action="/dashboard/logout" {
                            input type="hidden" name="csrf" value=(viewer.csrf);
                            button #sign-out type="submit" { (Msg::SignOut.text(lang)) }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title.text(lang)) }
                    (body)
                }
            }
        }
    }
}

/// A measure as people read it: four significant places at most.
pub fn measure(value: Option<f64>) -> Markup {
    match value {
        Some(v) => html! { (format!("{:.4}", v).trim_end_matches('0').trim_end_matches('.')) },
        None => html! { "–" },
    }
}

/// A timestamp shortened to the minute, the full value on hover.
pub fn when(timestamp: &str) -> Markup {
    let short = timestamp.get(..16).unwrap_or(timestamp).replace('T', " ");
    html! { time datetime=(timestamp) title=(timestamp) { (short) } }
}

/// Text that came from JSON, shown as code (escaped like everything else).
pub fn json_code(value: &serde_json::Value) -> Markup {
    html! { code.json { (value.to_string()) } }
}
