//! API keys and OAuth clients (admins): list, create (the secret shown once, on the answer to
//! the form) and revoke, through the same workflows as the API.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{html, Markup};

use super::i18n::{Lang, Msg};
use super::layout::{page, when};
use super::{form_mistake, FormFields, PageError, Viewer};
use crate::auth::Scope;
use crate::service::{self, api_keys, oauth};
use crate::state::AppState;
use crate::store::Page;

/// Rows shown of each list (newest first).
const LISTED: i64 = 200;

/// What the page shows above the lists after a form: a secret to copy, or why nothing changed.
enum Outcome {
    None,
    Secret { what: &'static str, id: String, secret: String },
    Refused(String),
}

/// One credential as the lists show it (an API key and an OAuth client share these columns).
struct Listed<'a> {
    id: &'a str,
    name: &'a str,
    prefix: &'a str,
    scopes: &'a str,
    created_by: &'a str,
    created_at: &'a str,
    revoked_at: Option<&'a str>,
}

pub async fn list(State(state): State<AppState>, viewer: Viewer) -> Response {
    if let Err(refused) = viewer.require(Scope::Admin) {
        return refused.into_response();
    }
    render(&state, &viewer, Outcome::None).await
}

async fn render(state: &AppState, viewer: &Viewer, outcome: Outcome) -> Response {
    let lang = viewer.lang;
    let org_id = &viewer.session.user.org_id;
    let listed = Page { limit: LISTED, cursor: None };
    let lists = async {
        let (keys, _) = api_keys::list(state, org_id, &listed).await?;
        let (clients, _) = oauth::list_clients(state, org_id, &listed).await?;
        Ok::<_, service::Error>((keys, clients))
    };
    let (keys, clients) = match lists.await {
        Ok(lists) => lists,
        Err(e) => return PageError::from(e).with_lang(lang).into_response(),
    };
    let keys: Vec<Listed> = keys
        .iter()
        .map(|k| Listed {
            id: &k.id,
            name: &k.name,
            prefix: &k.prefix,
            scopes: &k.scopes,
            created_by: &k.created_by,
            created_at: &k.created_at,
            revoked_at: k.revoked_at.as_deref(),
        })
        .collect();
    let clients: Vec<Listed> = clients
        .iter()
        .map(|c| Listed {
            id: &c.id,
            name: &c.name,
            prefix: &c.prefix,
            scopes: &c.scopes,
            created_by: &c.created_by,
            created_at: &c.created_at,
            revoked_at: c.revoked_at.as_deref(),
        })
        .collect();
    let status = if matches!(outcome, Outcome::Refused(_)) { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let body = html! {
        p { (Msg::ApiKeysIntro.text(lang)) }
        @match &outcome {
            Outcome::None => {}
            Outcome::Secret { what, id, secret } => {
                section.notice #new-secret role="status" {
                    p { strong { (Msg::NewSecret.text(lang)) } " · " (what) " " code { (id) } }
                    p { code #new-secret-value { (secret) } }
                    p { (Msg::SecretOnce.text(lang)) }
                }
            }
            Outcome::Refused(message) => { p.error #credential-error role="alert" { (message) } }
        }
        h2 { (Msg::ApiKeys.text(lang)) }
        (credentials(viewer, "api-keys", "/dashboard/api-keys", &keys))
        (create_form(viewer, "create-key", "/dashboard/api-keys/create", Msg::CreateKey))
        h2 { (Msg::OAuthClients.text(lang)) }
        (credentials(viewer, "oauth-clients", "/dashboard/oauth-clients", &clients))
        (create_form(viewer, "create-client", "/dashboard/oauth-clients/create", Msg::CreateClient))
    };
    (status, Html(page(viewer, "/dashboard/api-keys", Msg::ApiKeys, body).into_string())).into_response()
}

fn credentials(viewer: &Viewer, table_id: &str, base: &str, rows: &[Listed]) -> Markup {
    let lang = viewer.lang;
    html! {
        @if rows.is_empty() { p.muted { (Msg::NothingHere.text(lang)) } } @else {
            table id=(table_id) {
                thead { tr { th { (Msg::Name.text(lang)) } th { "ID" } th { (Msg::Prefix.text(lang)) }
                    th { (Msg::Scopes.text(lang)) } th { (Msg::CreatedBy.text(lang)) } th { (Msg::Created.text(lang)) }
                    th { (Msg::Status.text(lang)) } } }
                tbody {
                    @for row in rows {
                        tr data-id=(row.id) {
                            td { (row.name) } td { code { (row.id) } } td { code { (row.prefix) "…" } }
                            td { @for scope in row.scopes.split(',') { span.chip { (scope) } " " } }
                            td { code { (row.created_by) } } td { (when(row.created_at)) }
                            td {
                                @if let Some(revoked_at) = row.revoked_at {
                                    span.chip.failed { (Msg::Revoked.text(lang)) } " " (when(revoked_at))
                                } @else {
                                    form method="post" action=(format!("{base}/{}/revoke", row.id)) {
                                        input type="hidden" name="csrf" value=(viewer.csrf);
                                        button.revoke type="submit" aria-label=(format!("{} {}", Msg::Revoke.text(lang), row.name)) {
                                            (Msg::Revoke.text(lang))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn create_form(viewer: &Viewer, id: &str, action: &str, title: Msg) -> Markup {
    let lang = viewer.lang;
    html! {
        form.inline-form id=(id) method="post" action=(action) {
            input type="hidden" name="csrf" value=(viewer.csrf);
            fieldset {
                legend { (title.text(lang)) }
                label for=(format!("{id}-name")) { (Msg::Name.text(lang)) }
                input id=(format!("{id}-name")) name="name" type="text" maxlength="100" required;
                (scope_boxes(lang, id))
                button type="submit" { (title.text(lang)) }
            }
        }
    }
}

fn scope_boxes(lang: Lang, id: &str) -> Markup {
    html! {
        p.muted { (Msg::Scopes.text(lang)) ": "
            @for scope in Scope::ALL {
                label { input type="checkbox" name="scope" value=(scope.as_str()) id=(format!("{id}-{}", scope.as_str()));
                    " " (scope.as_str()) }
            }
        }
    }
}

/// Which credential a form is about.
#[derive(Clone, Copy)]
enum Kind {
    ApiKey,
    OAuthClient,
}

pub async fn create_key(state: State<AppState>, viewer: Viewer, form: FormFields) -> Response {
    create(state, viewer, form, Kind::ApiKey).await
}

pub async fn create_client(state: State<AppState>, viewer: Viewer, form: FormFields) -> Response {
    create(state, viewer, form, Kind::OAuthClient).await
}

pub async fn revoke_key(state: State<AppState>, viewer: Viewer, id: Path<String>, form: FormFields) -> Response {
    revoke(state, viewer, id, form, Kind::ApiKey).await
}

pub async fn revoke_client(state: State<AppState>, viewer: Viewer, id: Path<String>, form: FormFields) -> Response {
    revoke(state, viewer, id, form, Kind::OAuthClient).await
}

/// Creates the credential the form names; the page again, with its secret or why not.
async fn create(State(state): State<AppState>, viewer: Viewer, form: FormFields, kind: Kind) -> Response {
    if let Err(refused) = viewer.may_submit(&state, Scope::Admin, &form) {
        return refused.into_response();
    }
    let (actor, name, scopes) = (viewer.session.actor(), form.get("name"), form.all("scope"));
    let created = match kind {
        Kind::ApiKey => {
            api_keys::create(&state, &actor, name, &scopes).await.map(|new| ("API key", new.key.id, new.secret))
        }
        Kind::OAuthClient => oauth::create_client(&state, &actor, name, &scopes)
            .await
            .map(|new| ("OAuth client", new.client.id, new.secret)),
    };
    let outcome = match created {
        Ok((what, id, secret)) => Outcome::Secret { what, id, secret },
        Err(e) => match form_mistake(e) {
            Ok(message) => Outcome::Refused(message),
            Err(page_error) => return page_error.with_lang(viewer.lang).into_response(),
        },
    };
    render(&state, &viewer, outcome).await
}

async fn revoke(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    form: FormFields,
    kind: Kind,
) -> Response {
    if let Err(refused) = viewer.may_submit(&state, Scope::Admin, &form) {
        return refused.into_response();
    }
    let actor = viewer.session.actor();
    let revoked = match kind {
        Kind::ApiKey => api_keys::revoke(&state, &actor, &id).await.map(|_| ()),
        Kind::OAuthClient => oauth::revoke_client(&state, &actor, &id).await.map(|_| ()),
    };
    match revoked {
        Ok(()) => Redirect::to("/dashboard/api-keys").into_response(),
        Err(e) => PageError::from(e).with_lang(viewer.lang).into_response(),
    }
}
