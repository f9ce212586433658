//! Exports: customers and verifications as CSV between two days picked on the page. The
//! download itself is the API's streamed export (`/api/identity/export/*.csv`), which the
//! session's cookie authorises and which audits the export as the signed-in person.

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;

use super::i18n::Msg;
use super::layout::page;
use super::Viewer;
use crate::auth::Scope;
use crate::service::validate;

#[derive(Debug, Default, Deserialize)]
pub struct ExportForm {
    #[serde(default)]
    what: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

fn page_of(viewer: &Viewer, form: &ExportForm, error: Option<&str>) -> Html<String> {
    let lang = viewer.lang;
    let body = html! {
        p { (Msg::ExportsIntro.text(lang)) }
        @if let Some(error) = error { p.error #export-error role="alert" { (error) } }
        form #export-form method="get" action="/dashboard/exports/download" {
            p.muted { (Msg::ExportDates.text(lang)) }
            label for="export-from" { (Msg::Since.text(lang)) }
            input #export-from name="from" type="date" value=(form.from);
            label for="export-to" { (Msg::Until.text(lang)) }
            input #export-to name="to" type="date" value=(form.to);
            div.buttons {
                button #export-customers type="submit" name="what" value="customers" { (Msg::ExportCustomers.text(lang)) }
                " "
                button #export-verifications type="submit" name="what" value="verifications" {
                    (Msg::ExportVerifications.text(lang))
                }
            }
        }
    };
    Html(page(viewer, "/dashboard/exports", Msg::Exports, body).into_string())
}

pub async fn show(viewer: Viewer) -> Response {
    if let Err(refused) = viewer.require(Scope::Internal) {
        return refused.into_response();
    }
    page_of(&viewer, &ExportForm::default(), None).into_response()
}

/// Checks the picked days, then hands over to the API's export with only the bounds given.
pub async fn download(viewer: Viewer, Query(form): Query<ExportForm>) -> Response {
    if let Err(refused) = viewer.require(Scope::Internal) {
        return refused.into_response();
    }
    match export_url(&form) {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(message) => (StatusCode::BAD_REQUEST, page_of(&viewer, &form, Some(&message))).into_response(),
    }
}

/// The API export for the form: which file, and each day given, checked.
fn export_url(form: &ExportForm) -> Result<String, String> {
    let file = match form.what.as_str() {
        "customers" => "customers.csv",
        "verifications" => "verifications.csv",
        _ => return Err("what: must be customers or verifications".into()),
    };
    let mut bounds = Vec::new();
    for (field, value) in [("from", form.from.trim()), ("to", form.to.trim())] {
        if !value.is_empty() {
            let day = validate::date(field, value).map_err(|e| e.to_string())?;
            bounds.push((field, day));
        }
    }
    if let [(_, from), (_, to)] = bounds.as_slice() {
        if from > to {
            return Err("to: must not be before `from`".into());
        }
    }
    let query: Vec<(&str, String)> = bounds.iter().map(|(field, day)| (*field, day.to_string())).collect();
    let query = serde_urlencoded::to_string(query).map_err(|e| e.to_string())?;
    Ok(if query.is_empty() {
        format!("/api/identity/export/{file}")
    } else {
        format!("/api/identity/export/{file}?{query}")
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn form(what: &str, from: &str, to: &str) -> ExportForm {
        ExportForm { what: what.into(), from: from.into(), to: to.into() }
    }

    #[test]
    fn the_picked_days_become_the_exports_bounds() {
        assert_eq!(export_url(&form("customers", "", "")).unwrap(), "/api/identity/export/customers.csv");
        assert_eq!(
            export_url(&form("verifications", "2026-12-01", "2026-12-07")).unwrap(),
            "/api/identity/export/verifications.csv?from=2026-12-01&to=2026-12-07"
        );
        assert_eq!(
            export_url(&form("customers", "", "2026-12-07")).unwrap(),
            "/api/identity/export/customers.csv?to=2026-12-07"
        );
        assert_eq!(
            export_url(&form("customers", "2026-12-07", "2026-12-07")).unwrap(),
            "/api/identity/export/customers.csv?from=2026-12-07&to=2026-12-07",
            "one day, both bounds the same"
        );
        assert!(export_url(&form("customers", "2026-12-08", "2026-12-07")).unwrap_err().contains("before"));
        assert!(export_url(&form("customers", "2026-02-30", "")).unwrap_err().starts_with("from:"));
        assert!(export_url(&form("audit", "", "")).is_err());
    }
}
