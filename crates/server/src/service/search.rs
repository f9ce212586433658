//! Finding customers by full NIK, email, phone, customer id, externalRef or name words: the API's
//! `GET /api/identity/search` and the dashboard's customer search. Personal data stays sealed:
//! the query is turned into the same keyed hashes (blind indexes) the customers were stored with,
//! never compared with a plaintext column.

use kenali_core::id::{is_id_of, IdKind};
use kenali_core::search::MAX_QUERY_CHARS;
use serde::Serialize;
use serde_json::json;

use super::{validate, Error, Result};
use crate::ledger::{self, open_pii, Actor, Pii};
use crate::search_index::name_word_indexes;
use crate::state::AppState;
use crate::store::customers::{self, CustomerFilter, CustomerRow};
use crate::store::{search, Page};

/// Most customers one search returns (and the API's default).
pub const MAX_RESULTS: i64 = 50;

/// What part of a customer the query matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum MatchedOn {
    Id,
    ExternalRef,
    Nik,
    Email,
    Phone,
    Name,
}

/// A customer found, its personal data opened, and what the query matched.
pub struct Hit {
    pub row: CustomerRow,
    pub pii: Pii,
    pub matched_on: Vec<MatchedOn>,
}

/// The query, trimmed, if it is one a search takes.
pub fn query(q: Option<&str>) -> Result<&str> {
    let q = q.map(str::trim).unwrap_or_default();
    if q.is_empty() {
        return Err(Error::invalid_field("q", "must not be empty"));
    }
    if q.chars().count() > MAX_QUERY_CHARS {
        return Err(Error::invalid_field("q", format!("must be at most {MAX_QUERY_CHARS} characters")));
    }
    if q.chars().any(char::is_control) {
        return Err(Error::invalid_field("q", "must not contain control characters"));
    }
    Ok(q)
}

/// Up to `limit` live customers of the actor's org that `q` (see [`query`]) finds; the search is
/// audited (how many were found, never what was typed: that is personal data).
pub async fn customers(state: &AppState, actor: &Actor, q: &str, limit: i64) -> Result<Vec<Hit>> {
    let mut conn = state.store.reader().acquire().await?;
    let org_id = &actor.org_id;
    let mut hits: Vec<(CustomerRow, Vec<MatchedOn>)> = Vec::new();
    let mut add = |row: CustomerRow, on: MatchedOn| match hits.iter_mut().find(|(r, _)| r.id == row.id) {
        Some((_, matched)) if !matched.contains(&on) => matched.push(on),
        Some(_) => {}
        None => hits.push((row, vec![on])),
    };

    if is_id_of(IdKind::Customer, q) {
        if let Some(row) = customers::find(&mut conn, org_id, q).await? {
            add(row, MatchedOn::Id);
        }
    }
    // Each exact field the query could be, looked up through its own index.
    let index = &state.keys.blind_index;
    let mut exact: Vec<(MatchedOn, CustomerFilter)> = Vec::new();
    if let Ok(external_ref) = validate::reference("q", q) {
        exact.push((MatchedOn::ExternalRef, CustomerFilter { external_ref: Some(external_ref), ..Default::default() }));
    }
    let digits: String = q.chars().filter(|c| !matches!(c, ' ' | '.' | '-')).collect();
    if digits.len() == 16 && digits.bytes().all(|b| b.is_ascii_digit()) {
        exact.push((
            MatchedOn::Nik,
            CustomerFilter { nik_index: Some(index.index("nik", &digits)), ..Default::default() },
        ));
    }
    if q.contains('@') {
        if let Ok(email) = validate::email(q) {
            exact.push((
                MatchedOn::Email,
                CustomerFilter { email_index: Some(index.index("email", &email)), ..Default::default() },
            ));
        }
    } else if let Ok(phone) = validate::phone(q) {
        exact.push((
            MatchedOn::Phone,
            CustomerFilter { phone_index: Some(index.index("phone", &phone)), ..Default::default() },
        ));
    }
    let page = Page { limit, cursor: None };
    for (on, filter) in exact {
        let (rows, _) = customers::list(&mut conn, org_id, &filter, &page).await?;
        rows.into_iter().for_each(|row| add(row, on));
    }
    // Names: every word of the query must be a word of the name.
    let indexes = if q.chars().any(char::is_alphabetic) && !q.contains('@') {
        name_word_indexes(&state.keys, q)
    } else {
        Vec::new()
    };
    if !indexes.is_empty() {
        for customer_id in search::customers_with_words(&mut conn, org_id, &indexes, limit).await? {
            if let Some(row) = customers::find(&mut conn, org_id, &customer_id).await? {
                add(row, MatchedOn::Name);
            }
        }
    }
    drop(conn);

    let found = hits
        .into_iter()
        .filter(|(row, _)| row.erased_at.is_none())
        .take(usize::try_from(limit).unwrap_or(0))
        .map(|(row, matched_on)| Ok(Hit { pii: open_pii(&state.keys, &row)?, row, matched_on }))
        .collect::<Result<Vec<_>>>()?;
    let mut tx = state.store.begin().await?;
    ledger::audit(&mut tx, actor, "customer.searched", "customers", json!({"results": found.len()})).await?;
    tx.commit().await?;
    Ok(found)
}
