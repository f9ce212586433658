//! Keeping the name-word index (`customer_name_words`) in step with each customer's sealed
//! name. The words are hashed with the blind-index key before they reach the database.

use kenali_core::search::{name_words, NAME_INDEX_VERSION};
use sqlx::AnyConnection;

use crate::keys::Keys;
use crate::ledger::open_pii;
use crate::service::Result;
use crate::state::AppState;
use crate::store::{customers, search, StoreResult};

/// The blind-index entries of a name's words.
pub fn name_word_indexes(keys: &Keys, full_name: &str) -> Vec<String> {
    name_words(full_name).iter().map(|word| keys.blind_index.index("name_word", word)).collect()
}

/// (Re)writes the customer's name words, in the caller's transaction.
pub async fn index_name(
    conn: &mut AnyConnection,
    keys: &Keys,
    org_id: &str,
    customer_id: &str,
    full_name: &str,
) -> StoreResult<()> {
    let indexes = name_word_indexes(keys, full_name);
    search::replace_name_words(conn, org_id, customer_id, &indexes, NAME_INDEX_VERSION).await
}

/// Builds the name words of every customer stored before the index existed (or under an
/// older version of it), a batch at a time; returns how many were indexed. Run at start.
pub async fn rebuild_stale(state: &AppState) -> Result<u64> {
    const BATCH: i64 = 200;
    let mut indexed = 0;
    let mut after = String::new();
    loop {
        let mut tx = state.store.begin().await?;
        let batch = search::stale_name_indexes(&mut tx, NAME_INDEX_VERSION, &after, BATCH).await?;
        let Some((last, _)) = batch.last() else { break };
        after = last.clone();
        for (customer_id, org_id) in &batch {
            let Some(customer) = customers::find(&mut tx, org_id, customer_id).await? else { continue };
            let pii = open_pii(&state.keys, &customer)?;
            index_name(&mut tx, &state.keys, org_id, customer_id, &pii.full_name).await?;
            indexed += 1;
        }
        tx.commit().await?;
    }
    if indexed > 0 {
        tracing::info!(customers = indexed, "built the name search index of customers stored before it");
    }
    Ok(indexed)
}
