//! The analyst dashboard (issue 19): server-rendered pages under `/dashboard`, served by the
//! `kenali` binary itself. Templates are maud (escaped by construction: a customer's name or a
//! decision reason holding markup renders as text); the one script and style sheet are the
//! project's own, embedded in the binary. Pages call the same workflows as the API
//! (`service::*`) as the signed-in person.
//!
//! Every response carries a strict Content-Security-Policy (no inline script, nothing from
//! another origin), refuses framing, and is never cached; a state-changing form must carry the
//! session's CSRF token and come from this origin.

mod account;
mod api_keys;
mod audit;
mod charts;
mod customers;
mod exports;
pub mod i18n;
mod layout;
mod overview;
mod review;
mod settings;
mod tier_events;
mod webhooks;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::auth::Scope;
use crate::error::{current_request_id, ApiError, ErrorLogNote};
use crate::service::sign_in::{self, Purpose, Session};
use crate::state::AppState;
use i18n::{Lang, Msg};

/// Every page's Content-Security-Policy: this origin's script, style and images only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(|| async { Redirect::to("/dashboard/review") }))
        .route("/dashboard/assets/app.js", get(layout::script))
        .route("/dashboard/assets/app.css", get(layout::style))
        .route("/dashboard/login", get(account::login_page).post(account::login))
        .route("/dashboard/logout", post(account::logout))
        .route("/dashboard/enroll", get(account::enroll_page))
        .route("/dashboard/lang/{code}", get(account::choose_language))
        .route("/dashboard/passkeys", get(account::passkeys_page))
        .route("/dashboard/passkeys/{id}/remove", post(account::remove_passkey))
        .route("/dashboard/review", get(review::queue))
        .route("/dashboard/review/{id}", get(review::item))
        .route("/dashboard/review/{id}/captures/{capture_id}", get(review::capture))
        .route("/dashboard/review/{id}/card", get(review::card))
        .route("/dashboard/review/{id}/decision", post(review::decide))
        .route("/dashboard/overview", get(overview::show))
        .route("/dashboard/customers", get(customers::list))
        .route("/dashboard/customers/{id}", get(customers::show))
        .route("/dashboard/customers/{id}/erase", post(customers::erase))
        .route("/dashboard/customers/{id}/enrollments/{enrollment_id}/image", get(customers::enrollment_image))
        .route("/dashboard/tier-events", get(tier_events::list))
        .route("/dashboard/audit", get(audit::log))
        .route("/dashboard/audit/verify", post(audit::verify))
        .route("/dashboard/exports", get(exports::show))
        .route("/dashboard/exports/download", get(exports::download))
        .route("/dashboard/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/dashboard/webhooks/{id}", get(webhooks::show))
        .route("/dashboard/webhooks/{id}/{action}", post(webhooks::act))
        .route("/dashboard/webhooks/{id}/deliveries/{event_id}/redeliver", post(webhooks::redeliver))
        .route("/dashboard/api-keys", get(api_keys::list))
        .route("/dashboard/api-keys/create", post(api_keys::create_key))
        .route("/dashboard/api-keys/{id}/revoke", post(api_keys::revoke_key))
        .route("/dashboard/oauth-clients/create", post(api_keys::create_client))
        .route("/dashboard/oauth-clients/{id}/revoke", post(api_keys::revoke_client))
        .route("/dashboard/settings", get(settings::show).post(settings::save))
        .layer(from_fn_with_state(state.clone(), guard))
}

/// Security headers on every dashboard answer, and a refusal of any state-changing request
/// another site sent (its `Origin` or `Sec-Fetch-Site` gives it away; the CSRF token is the
/// second lock).
async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state && !same_origin(&req, state.config.public_url.as_deref()) {
        let lang = Lang::of_request(req.headers());
        return PageError::new(StatusCode::FORBIDDEN, "cross_site_request", "this form was sent from another site")
            .with_lang(lang)
            .into_response();
    }
    let is_asset = req.uri().path().starts_with("/dashboard/assets/");
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Not `no-referrer`: under it browsers send `Origin: null` with the dashboard's own forms,
    // which the same-origin check above must then refuse. Nothing leaves for another site.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    headers.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    headers.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=()"));
    if !is_asset {
        // Pages and frames hold personal data: never kept by the browser or a proxy.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Whether a request came from a page of this server: its `Origin` (when sent) is the public
/// URL's origin or names the host it was sent to, and the browser does not call it cross-site.
fn same_origin(req: &Request, public_url: Option<&str>) -> bool {
    let headers = req.headers();
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()).is_some_and(|site| site == "cross-site") {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let origin = origin.to_str().unwrap_or("");
    let public_origin =
        public_url.and_then(|url| reqwest::Url::parse(url).ok()).map(|url| url.origin().ascii_serialization());
    if public_origin.as_deref() == Some(origin) {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    !host.is_empty() && origin_host == host
}

/// The signed-in person a page is for, with the language they read and their CSRF token.
pub struct Viewer {
    pub session: Session,
    pub lang: Lang,
    pub csrf: String,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let lang = Lang::of_request(&parts.headers);
        let to_sign_in = || Redirect::to("/dashboard/login").into_response();
        let Some(cookie) = sign_in::presented_cookie(&parts.headers, &state.config) else {
            return Err(to_sign_in());
        };
        match sign_in::resume(state, &cookie).await {
            Ok(session) => {
                let csrf = sign_in::csrf_token(state, &session.id_hash);
                Ok(Viewer { session, lang, csrf })
            }
            Err(crate::service::Error::Unauthenticated { .. }) => Err(to_sign_in()),
            Err(e) => Err(PageError::from(e).with_lang(lang).into_response()),
        }
    }
}

impl Viewer {
    /// A page of the dashboard proper: an enroll-only session goes to register its passkey,
    /// and a role without `scope` is refused.
    pub fn require(&self, scope: Scope) -> Result<(), Refused> {
        if self.session.purpose == Purpose::Enroll {
            return Err(Refused::new(Redirect::to("/dashboard/passkeys")));
        }
        if !self.session.role.scopes().contains(&scope) {
            let forbidden = PageError::from(ApiError::forbidden_scope(scope.as_str())).with_lang(self.lang);
            return Err(Refused::new(forbidden));
        }
        Ok(())
    }

    /// `scope`, then this form's CSRF token: what every state-changing page checks first.
    pub fn may_submit(&self, state: &AppState, scope: Scope, form: &FormFields) -> Result<(), Refused> {
        self.require(scope)?;
        self.check_csrf(state, form.get("csrf"))
    }

    /// The form's CSRF token is this session's.
    pub fn check_csrf(&self, state: &AppState, presented: &str) -> Result<(), Refused> {
        if sign_in::csrf_matches(state, &self.session.id_hash, presented) {
            return Ok(());
        }
        Err(Refused::new(
            PageError::new(StatusCode::FORBIDDEN, "csrf_token_invalid", "the form's CSRF token is missing or wrong")
                .with_lang(self.lang),
        ))
    }
}

/// A submitted form's fields in order, repeated names kept (a group of checkboxes). A body
/// that is not a form reads as no fields, which the CSRF check then refuses.
#[derive(Debug, Default)]
pub struct FormFields(Vec<(String, String)>);

impl FormFields {
    /// The first value of `name`, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(key, _)| key == name).map_or("", |(_, value)| value.trim())
    }

    /// Every value of `name`, trimmed, in the order sent.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0.iter().filter(|(key, _)| key == name).map(|(_, value)| value.trim().to_string()).collect()
    }

    /// Whether a checkbox named `name` was ticked.
    pub fn ticked(&self, name: &str) -> bool {
        self.0.iter().any(|(key, _)| key == name)
    }
}

impl<S: Send + Sync> axum::extract::FromRequest<S> for FormFields {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let body = axum::body::Bytes::from_request(req, state).await.map_err(IntoResponse::into_response)?;
        if !is_form {
            return Ok(FormFields::default());
        }
        Ok(FormFields(serde_urlencoded::from_bytes(&body).unwrap_or_default()))
    }
}

/// Why a page is not shown, as the answer to send instead (boxed: a response is large).
pub struct Refused(Box<Response>);

impl Refused {
    fn new(answer: impl IntoResponse) -> Self {
        Refused(Box::new(answer.into_response()))
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// An error as a page: the status, the code and message the API would give, the request id.
#[derive(Debug)]
pub struct PageError {
    api: ApiError,
    lang: Lang,
}

impl PageError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        PageError { api: ApiError::new(status, code, message), lang: Lang::En }
    }

    pub fn with_lang(mut self, lang: Lang) -> Self {
        self.lang = lang;
        self
    }
}

impl From<ApiError> for PageError {
    fn from(api: ApiError) -> Self {
        PageError { api, lang: Lang::En }
    }
}

impl From<crate::service::Error> for PageError {
    fn from(err: crate::service::Error) -> Self {
        PageError::from(ApiError::from(err))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let lang = self.lang;
        let request_id = current_request_id();
        let body = maud::html! {
            h1 { (Msg::Error.text(lang)) }
            p.error-code { code { (self.api.code) } }
            p { (self.api.message) }
            p.muted { (Msg::RequestId.text(lang)) ": " code { (request_id) } }
            p { a href="/dashboard/review" { (Msg::BackToQueue.text(lang)) } }
        };
        let page = layout::bare(lang, Msg::Error, body);
        let mut response = (self.api.status, Html(page.into_string())).into_response();
        response.extensions_mut().insert(ErrorLogNote { code: self.api.code, internal: self.api.internal });
        response
    }
}

/// A form's own mistake, to show above the form with nothing changed; any other failure as
/// the error page.
pub(crate) fn form_mistake(error: crate::service::Error) -> Result<String, PageError> {
    match error {
        crate::service::Error::InvalidField { field, message } => Ok(format!("{field}: {message}")),
        crate::service::Error::InvalidSettings(_) => Ok(error.to_string()),
        other => Err(PageError::from(other)),
    }
}

/// A date picker's day (`YYYY-MM-DD`) as the start or the end of that day in UTC, for a
/// filter; an empty field is no bound.
pub(crate) fn day_bound(field: &str, day: &str, end: bool) -> Result<Option<String>, ApiError> {
    let day = day.trim();
    if day.is_empty() {
        return Ok(None);
    }
    let time = if end { "T23:59:59Z" } else { "T00:00:00Z" };
    Ok(crate::service::validate::timestamp_param(field, Some(&format!("{day}{time}")))?)
}

/// `Content-Type` for an image the dashboard serves.
pub(crate) fn content_type(media_type: &'static str) -> (header::HeaderName, HeaderValue) {
    (header::CONTENT_TYPE, HeaderValue::from_static(media_type))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut builder = axum::http::Request::builder().method(Method::POST).uri("/dashboard/logout");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn only_this_servers_pages_may_post() {
        let host = ("host", "kenali.example:8080");
        assert!(same_origin(&request(&[host]), None), "no Origin: a same-origin form in an older browser");
        assert!(same_origin(&request(&[host, ("origin", "http://kenali.example:8080")]), None));
        assert!(!same_origin(&request(&[host, ("origin", "https://evil.example")]), None));
        assert!(!same_origin(&request(&[host, ("origin", "null")]), None));
        assert!(!same_origin(&request(&[host, ("sec-fetch-site", "cross-site")]), None));
        // Behind a proxy that rewrites Host, the public URL's origin is this server's.
        let proxied = [("host", "10.0.0.5:8080"), ("origin", "https://kyc.bank.example")];
        assert!(same_origin(&request(&proxied), Some("https://kyc.bank.example/")));
        assert!(!same_origin(&request(&proxied), Some("https://other.example")));
    }
}
