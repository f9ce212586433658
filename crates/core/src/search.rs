//! What the search index and the exports make of personal text. Names are searched through
//! keyed hashes of their words (the server's blind index), so the words must be normalised
//! the same way when a customer is stored and when an analyst types a query.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Longest query `GET /api/identity/search` accepts, in characters.
pub const MAX_QUERY_CHARS: usize = 200;

/// At most this many words of a name are indexed (and of a query, searched).
pub const MAX_NAME_WORDS: usize = 12;

/// Bumped when [`name_words`] changes, so stored indexes are rebuilt on the next start.
pub const NAME_INDEX_VERSION: i64 = 1;

/// The words of a name, lower-cased and stripped of accents ("Siti Nurhaliza-Ruíz" gives
/// `siti`, `nurhaliza`, `ruiz`), each once, in order. Punctuation separates words, except an
/// apostrophe inside one ("Ma'ruf" stays `maruf`).
pub fn name_words(name: &str) -> Vec<String> {
    let folded: String = name
        .nfkd()
        .filter(|c| !is_combining_mark(*c))
        .filter(|c| !matches!(c, '\'' | '\u{2019}' | '`'))
        .flat_map(char::to_lowercase)
        .collect();
    let mut words: Vec<String> = Vec::new();
    for word in folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        if !words.iter().any(|w| w == word) {
            words.push(word.to_string());
        }
        if words.len() == MAX_NAME_WORDS {
            break;
        }
    }
    words
}

/// A cell for a CSV export, safe to open in a spreadsheet: a value that starts with `=`, `+`,
/// `-`, `@`, a tab or a carriage return would be read as a formula (CSV injection), so it is
/// prefixed with an apostrophe, which spreadsheets show as text. Quoting for RFC 4180 is the
/// CSV writer's job, not this function's.
pub fn neutralize_cell(value: &str) -> std::borrow::Cow<'_, str> {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}").into(),
        _ => value.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_words_ignore_case_accents_and_punctuation() {
        assert_eq!(name_words("  BUDI  Santoso "), ["budi", "santoso"]);
        assert_eq!(name_words("Siti Nurhaliza-Ruíz"), ["siti", "nurhaliza", "ruiz"]);
        assert_eq!(name_words("Ma'ruf Amin"), ["maruf", "amin"]);
        assert_eq!(name_words("Ｂｕｄｉ"), ["budi"], "full-width letters fold too");
        assert_eq!(name_words("Dr. Ir. H. Joko, S.T."), ["dr", "ir", "h", "joko", "s", "t"]);
        assert_eq!(name_words("Ayu Ayu"), ["ayu"]);
        assert!(name_words(" .,- ").is_empty());
    }

    #[test]
    fn name_words_are_bounded() {
        let long = (0..40).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
        assert_eq!(name_words(&long).len(), MAX_NAME_WORDS);
    }

    #[test]
    fn formula_cells_are_neutralised_and_others_kept() {
        for formula in ["=1+1", "+62812", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralize_cell(formula), format!("'{formula}"));
        }
        for plain in ["Budi", "", "0812", "a=b", "'quoted"] {
            assert_eq!(neutralize_cell(plain), plain);
        }
    }
}
