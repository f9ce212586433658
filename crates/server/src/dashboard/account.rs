//! Signing in and out, the first-passkey enrollment page, the person's passkeys and their
//! language. The passkey ceremonies run in the page's script against `/api/auth/webauthn/...`.

use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::i18n::{Lang, Msg, LANG_COOKIE};
use super::layout::{bare, page, when};
use super::{PageError, Viewer};
use crate::error::ApiError;
use crate::extract::ClientAddress;
use crate::service::passkeys;
use crate::service::sign_in::{self, PasswordSignIn, Purpose};
use crate::state::AppState;

fn login_form(lang: Lang, email: &str, error: Option<&str>) -> Markup {
    let body = html! {
        h1 { "Kenali · " (Msg::SignIn.text(lang)) }
        @if let Some(error) = error {
            p.error #sign-in-error role="alert" { (error) }
        }
        form #password-sign-in method="post" action="/dashboard/login" {
            label for="email" { (Msg::Email.text(lang)) }
            input #email name="email" type="email" autocomplete="username webauthn" required value=(email);
            label for="password" { (Msg::Password.text(lang)) }
            input #password name="password" type="password" autocomplete="current-password" required;
            label for="org" { (Msg::Organization.text(lang)) }
            input #org name="org" type="text" autocomplete="organization";
            button #password-submit type="submit" { (Msg::SignIn.text(lang)) }
        }
        p.or { (Msg::Or.text(lang)) }
        button #passkey-sign-in type="button" data-failed=(Msg::PasskeyFailed.text(lang))
            data-unsupported=(Msg::PasskeyUnsupported.text(lang)) { (Msg::SignInWithPasskey.text(lang)) }
        p #passkey-status role="status" aria-live="polite" {}
        p.lang { a href=(format!("/dashboard/lang/{}?back=/dashboard/login", lang.other().code())) { (Msg::Language.text(lang)) } }
    };
    bare(lang, Msg::SignIn, body)
}

pub async fn login_page(headers: HeaderMap) -> Html<String> {
    Html(login_form(Lang::of_request(&headers), "", None).into_string())
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    org: String,
}

/// A password sign-in from the form: the session cookie and on to the queue (or to register
/// a passkey, where the org requires one). A refusal shows the form again with the API's
/// uniform message and status.
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let lang = Lang::of_request(&headers);
    let Ok(Form(form)) = form else {
        return PageError::new(StatusCode::BAD_REQUEST, "invalid_form", "the sign-in form is incomplete")
            .with_lang(lang)
            .into_response();
    };
    let org = form.org.trim();
    let input = PasswordSignIn {
        org: (!org.is_empty()).then_some(org),
        email: &form.email,
        password: &form.password,
        address: &address,
    };
    match sign_in::with_password(&state, input).await {
        Ok(opened) => {
            let next = match opened.session.purpose {
                Purpose::Full => "/dashboard/review",
                Purpose::Enroll => "/dashboard/passkeys",
            };
            with_cookie(sign_in::set_cookie(&state.config, &opened.cookie_value), Redirect::to(next))
        }
        Err(err) => {
            let api = ApiError::from(err);
            if api.status.is_server_error() {
                return PageError::from(api).with_lang(lang).into_response();
            }
            let page = login_form(lang, &form.email, Some(&api.message));
            let mut response = (api.status, Html(page.into_string())).into_response();
            if let Some(secs) = api.retry_after_secs {
                if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                    response.headers_mut().insert(axum::http::header::RETRY_AFTER, value);
                }
            }
            response
        }
    }
}

fn with_cookie(cookie: String, response: impl IntoResponse) -> Response {
    match HeaderValue::from_str(&cookie) {
        Ok(value) => ([(SET_COOKIE, value)], response).into_response(),
        Err(e) => PageError::from(ApiError::internal(e)).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub(super) csrf: String,
}

pub async fn logout(State(state): State<AppState>, viewer: Viewer, Form(form): Form<CsrfForm>) -> Response {
    if let Err(refused) = viewer.check_csrf(&state, &form.csrf) {
        return refused.into_response();
    }
    if let Err(e) = sign_in::sign_out(&state, &viewer.session).await {
        return PageError::from(e).with_lang(viewer.lang).into_response();
    }
    with_cookie(sign_in::clear_cookie(&state.config), Redirect::to("/dashboard/login"))
}

/// The page an enrollment link opens. The token stays in the link's fragment, which browsers
/// never send; the page's script exchanges it and registers the passkey.
pub async fn enroll_page(headers: HeaderMap) -> Html<String> {
    let lang = Lang::of_request(&headers);
    let body = html! {
        h1 { (Msg::Enroll.text(lang)) }
        p { (Msg::EnrollIntro.text(lang)) }
        label for="passkey-name" { (Msg::PasskeyName.text(lang)) }
        input #passkey-name type="text" maxlength="64";
        button #enroll-start type="button" data-done=(Msg::EnrollDone.text(lang))
            data-failed=(Msg::EnrollFailed.text(lang)) data-unsupported=(Msg::PasskeyUnsupported.text(lang)) {
            (Msg::AddPasskey.text(lang))
        }
        p #enroll-status role="status" aria-live="polite" {}
        p { a #to-sign-in href="/dashboard/login" { (Msg::SignIn.text(lang)) } }
    };
    Html(bare(lang, Msg::Enroll, body).into_string())
}

pub async fn passkeys_page(State(state): State<AppState>, viewer: Viewer) -> Response {
    let lang = viewer.lang;
    let rows = match passkeys::list(&state, &viewer.session).await {
        Ok(rows) => rows,
        Err(e) => return PageError::from(e).with_lang(lang).into_response(),
    };
    let enrolling = viewer.session.purpose == Purpose::Enroll;
    let body = html! {
        @if enrolling {
            p.notice role="alert" { (Msg::EnrollFirst.text(lang)) }
        }
        h2 { (Msg::YourPasskeys.text(lang)) }
        @if rows.is_empty() {
            p.muted { (Msg::NothingHere.text(lang)) }
        } @else {
            table #passkeys {
                thead { tr { th { (Msg::PasskeyName.text(lang)) } th { (Msg::Created.text(lang)) }
                    th { (Msg::LastUsed.text(lang)) } th { (Msg::Actions.text(lang)) } } }
                tbody {
                    @for row in &rows {
                        tr {
                            td { (row.name) }
                            td { (when(&row.created_at)) }
                            td { @match &row.last_used_at { Some(at) => (when(at)), None => (Msg::Never.text(lang)) } }
                            td {
                                form method="post" action=(format!("/dashboard/passkeys/{}/remove", row.id)) {
                                    input type="hidden" name="csrf" value=(viewer.csrf);
                                    button type="submit" { (Msg::Remove.text(lang)) }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { (Msg::AddPasskey.text(lang)) }
        label for="passkey-name" { (Msg::PasskeyName.text(lang)) }
        input #passkey-name type="text" maxlength="64";
        button #passkey-add type="button" data-enrolling=(enrolling) data-failed=(Msg::PasskeyFailed.text(lang))
            data-unsupported=(Msg::PasskeyUnsupported.text(lang)) { (Msg::AddPasskey.text(lang)) }
        p #passkey-status role="status" aria-live="polite" {}
    };
    Html(page(&viewer, "/dashboard/passkeys", Msg::Passkeys, body).into_string()).into_response()
}

pub async fn remove_passkey(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(refused) = viewer.check_csrf(&state, &form.csrf) {
        return refused.into_response();
    }
    match passkeys::remove(&state, &viewer.session, &id).await {
        Ok(()) => Redirect::to("/dashboard/passkeys").into_response(),
        Err(e) => PageError::from(e).with_lang(viewer.lang).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct Back {
    back: Option<String>,
}

/// Keeps the person's language in a cookie and returns to the page they were on (a dashboard
/// path only: never a redirect elsewhere).
pub async fn choose_language(Path(code): Path<String>, Query(back): Query<Back>) -> Response {
    let Some(lang) = Lang::parse(&code) else {
        return PageError::new(StatusCode::NOT_FOUND, "not_found", "no such language").into_response();
    };
    let back = back.back.filter(|b| is_dashboard_path(b)).unwrap_or_else(|| "/dashboard/review".into());
    let cookie = format!("{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax", lang.code());
    with_cookie(cookie, Redirect::to(&back))
}

fn is_dashboard_path(path: &str) -> bool {
    path.starts_with("/dashboard")
        && !path.contains("//")
        && !path.contains('\\')
        && path.chars().all(|c| c.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::is_dashboard_path;

    #[test]
    fn only_dashboard_paths_are_returned_to() {
        assert!(is_dashboard_path("/dashboard/review"));
        assert!(is_dashboard_path("/dashboard/audit?action=review.decided"));
        for bad in
            ["https://evil.example/", "//evil.example", "/dashboard//evil", "/dashboard\\x", "/api/x", "/dashboard\n"]
        {
            assert!(!is_dashboard_path(bad), "{bad}");
        }
    }
}
