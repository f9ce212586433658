//! The SQLite and PostgreSQL migration trees (`migrations/{sqlite,postgres}`) must describe the
//! same schema, because the store runs one set of queries over both: the same files, and in each
//! file the same statements in the same order — the same tables with the same columns in the same
//! order, of equivalent types and with the same constraints, the same indexes on the same
//! columns, the same column additions and the same data changes.
//!
//! The SQL is read with a small tokenizer (comments, string literals, quoted identifiers) and a
//! parser for the statements the trees use: `CREATE TABLE`, `CREATE [UNIQUE] INDEX`,
//! `ALTER TABLE ... ADD [COLUMN]`; anything else is compared as normalised text. Keywords and
//! unquoted names are compared case-insensitively and whitespace and comments do not count. Only
//! the column types may differ, and only as the table in [`column_type`] allows.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    fn name(self) -> &'static str {
        match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgres",
        }
    }
}

/// What a declared column type means to the store, which reads and binds every column through
/// sqlx's `Any` driver as `i64`, `f64`, `String` or `Vec<u8>`. Two declarations are equivalent
/// when they mean the same here.
///
/// Deliberately absent: PostgreSQL's `INTEGER`/`INT4` (read back as `i32`, not `i64`), `REAL`
/// (`f32`), `BOOLEAN` and `TIMESTAMPTZ`. The trees keep booleans as `BIGINT` 0/1 and times as
/// fixed-width RFC 3339 text so that one code path serves both databases (see the head of
/// 0001_foundation.sql); a column declared with one of those on one side only is drift. A type
/// that is not listed fails the test, which then asks for it to be added here if it really is
/// equivalent.
fn column_type(dialect: Dialect, declared: &str) -> Option<&'static str> {
    match (dialect, declared) {
        (_, "TEXT") => Some("text"),
        (_, "BIGINT") => Some("int64"),
        // SQLite's INTEGER affinity stores 64-bit integers.
        (Dialect::Sqlite, "INTEGER") => Some("int64"),
        (Dialect::Postgres, "INT8") => Some("int64"),
        (Dialect::Sqlite, "REAL") => Some("float64"),
        (Dialect::Postgres, "DOUBLE PRECISION" | "FLOAT8") => Some("float64"),
        (Dialect::Sqlite, "BLOB") => Some("bytes"),
        (Dialect::Postgres, "BYTEA") => Some("bytes"),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A keyword, an unquoted name or a number, upper-cased (both databases ignore its case).
    Word(String),
    /// A "quoted" name, case kept.
    Quoted(String),
    /// A 'string' literal.
    Str(String),
    Punct(char),
}

impl Token {
    fn is_word(&self, word: &str) -> bool {
        matches!(self, Token::Word(w) if w == word)
    }

    fn render(&self) -> String {
        match self {
            Token::Word(w) => w.clone(),
            Token::Quoted(q) => format!("\"{}\"", q.replace('"', "\"\"")),
            Token::Str(s) => format!("'{}'", s.replace('\'', "''")),
            Token::Punct(c) => c.to_string(),
        }
    }
}

fn tokenize(sql: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    // Reads a literal closed by `quote`, where a doubled quote stands for itself.
    let quoted = |i: &mut usize, quote: char| -> Result<String, String> {
        let mut text = String::new();
        *i += 1;
        loop {
            match chars.get(*i) {
                None => return Err(format!("unterminated {quote}...{quote}")),
                Some(&c) if c == quote && chars.get(*i + 1) == Some(&quote) => {
                    text.push(quote);
                    *i += 2;
                }
                Some(&c) if c == quote => {
                    *i += 1;
                    return Ok(text);
                }
                Some(&c) => {
                    text.push(c);
                    *i += 1;
                }
            }
        }
    };
    while let Some(&c) = chars.get(i) {
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while chars.get(i).is_some_and(|&c| c != '\n') {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while !(chars.get(i) == Some(&'*') && chars.get(i + 1) == Some(&'/')) {
                if i >= chars.len() {
                    return Err("unterminated /* comment".into());
                }
                i += 1;
            }
            i += 2;
        } else if c == '\'' {
            tokens.push(Token::Str(quoted(&mut i, '\'')?));
        } else if c == '"' {
            tokens.push(Token::Quoted(quoted(&mut i, '"')?));
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while chars.get(i).is_some_and(|&c| c.is_alphanumeric() || c == '_' || c == '.') {
                i += 1;
            }
            tokens.push(Token::Word(chars[start..i].iter().collect::<String>().to_uppercase()));
        } else {
            tokens.push(Token::Punct(c));
            i += 1;
        }
    }
    Ok(tokens)
}

fn render(tokens: &[Token]) -> String {
    tokens.iter().map(Token::render).collect::<Vec<_>>().join(" ")
}

/// `tokens` split at the commas outside parentheses.
fn split_top_level(tokens: &[Token]) -> Vec<&[Token]> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => depth = depth.saturating_sub(1),
            Token::Punct(',') if depth == 0 => {
                parts.push(&tokens[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&tokens[start..]);
    parts
}

/// The index of the `)` closing the `(` at `open`.
fn closing(tokens: &[Token], open: usize) -> Result<usize, String> {
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        match token {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i);
                }
            }
            _ => {}
        }
    }
    Err(format!("unbalanced parentheses in `{}`", render(tokens)))
}

/// A name as both databases compare it: unquoted names ignore case.
fn name(token: Option<&Token>) -> Result<String, String> {
    match token {
        Some(Token::Word(w)) => Ok(w.to_lowercase()),
        Some(Token::Quoted(q)) => Ok(q.clone()),
        other => Err(format!("expected a name, found {other:?}")),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    name: String,
    /// As written, for messages.
    declared: String,
    /// What it means (`column_type`).
    kind: &'static str,
    /// NOT NULL, PRIMARY KEY, REFERENCES, DEFAULT... normalised.
    constraints: String,
}

/// Words that end a column's type and start its constraints.
const COLUMN_CONSTRAINTS: [&str; 11] =
    ["CONSTRAINT", "PRIMARY", "NOT", "NULL", "UNIQUE", "CHECK", "DEFAULT", "COLLATE", "REFERENCES", "GENERATED", "AS"];

fn column(dialect: Dialect, tokens: &[Token]) -> Result<Column, String> {
    let column_name = name(tokens.first())?;
    let mut end = 1;
    while tokens.get(end).is_some_and(|t| matches!(t, Token::Word(w) if !COLUMN_CONSTRAINTS.contains(&w.as_str()))) {
        end += 1;
    }
    if end < tokens.len() && tokens[end] == Token::Punct('(') {
        end = closing(tokens, end)? + 1;
    }
    // Types are written without spaces inside their parentheses: `VARCHAR(20)`.
    let declared = tokens[1..end]
        .iter()
        .map(Token::render)
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" ( ", "(")
        .replace(" )", ")")
        .replace(" , ", ",");
    if declared.is_empty() {
        return Err(format!("column {column_name} has no type"));
    }
    let kind = column_type(dialect, &declared).ok_or_else(|| {
        format!(
            "column {column_name}: {} type {declared} is not known to be equivalent to any type of the other \
             database (add it to migrations_parity::column_type if it is)",
            dialect.name()
        )
    })?;
    Ok(Column { name: column_name, declared, kind, constraints: render(&tokens[end..]) })
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Statement {
    CreateTable {
        name: String,
        columns: Vec<Column>,
        constraints: Vec<String>,
        options: String,
    },
    AddColumn {
        table: String,
        column: Column,
    },
    /// Compared as normalised text: name, table, uniqueness, columns, predicate.
    CreateIndex {
        name: String,
        text: String,
    },
    Other(String),
}

impl Statement {
    /// What the statement is about, to pair it with its counterpart in the other tree.
    fn key(&self) -> String {
        match self {
            Statement::CreateTable { name, .. } => format!("CREATE TABLE {name}"),
            Statement::AddColumn { table, column } => format!("ALTER TABLE {table} ADD COLUMN {}", column.name),
            Statement::CreateIndex { name, .. } => format!("CREATE INDEX {name}"),
            Statement::Other(text) => text.clone(),
        }
    }
}

/// Skips `IF NOT EXISTS` at `at`.
fn skip_if_not_exists(tokens: &[Token], at: usize) -> usize {
    let guard =
        tokens.get(at..at + 3).is_some_and(|t| t[0].is_word("IF") && t[1].is_word("NOT") && t[2].is_word("EXISTS"));
    if guard {
        at + 3
    } else {
        at
    }
}

fn statement(dialect: Dialect, tokens: &[Token]) -> Result<Statement, String> {
    let words: Vec<&str> =
        tokens.iter().take(3).map(|t| if let Token::Word(w) = t { w.as_str() } else { "" }).collect();
    match words.as_slice() {
        ["CREATE", "TABLE", ..] => {
            let at = skip_if_not_exists(tokens, 2);
            let table = name(tokens.get(at))?;
            if tokens.get(at + 1) != Some(&Token::Punct('(')) {
                return Err(format!("CREATE TABLE {table} without a column list"));
            }
            let close = closing(tokens, at + 1)?;
            let (mut columns, mut constraints) = (Vec::new(), Vec::new());
            for item in split_top_level(&tokens[at + 2..close]) {
                let starts_constraint = item.first().is_some_and(|t| {
                    ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN", "EXCLUDE"].iter().any(|w| t.is_word(w))
                });
                if starts_constraint {
                    constraints.push(render(item));
                } else {
                    columns.push(column(dialect, item).map_err(|e| format!("table {table}: {e}"))?);
                }
            }
            Ok(Statement::CreateTable { name: table, columns, constraints, options: render(&tokens[close + 1..]) })
        }
        ["CREATE", "INDEX", ..] | ["CREATE", "UNIQUE", "INDEX"] => {
            let at = skip_if_not_exists(tokens, if words[1] == "UNIQUE" { 3 } else { 2 });
            Ok(Statement::CreateIndex { name: name(tokens.get(at))?, text: render(tokens) })
        }
        ["ALTER", "TABLE", ..] if tokens.get(3).is_some_and(|t| t.is_word("ADD")) => {
            let table = name(tokens.get(2))?;
            let at = if tokens.get(4).is_some_and(|t| t.is_word("COLUMN")) { 5 } else { 4 };
            let at = skip_if_not_exists(tokens, at);
            let column = column(dialect, &tokens[at..]).map_err(|e| format!("table {table}: {e}"))?;
            Ok(Statement::AddColumn { table, column })
        }
        _ => Ok(Statement::Other(render(tokens))),
    }
}

fn parse(dialect: Dialect, sql: &str) -> Result<Vec<Statement>, String> {
    let tokens = tokenize(sql)?;
    tokens.split(|t| *t == Token::Punct(';')).filter(|s| !s.is_empty()).map(|s| statement(dialect, s)).collect()
}

fn column_list(columns: &[Column]) -> String {
    columns.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// How `sqlite` and `postgres`, the same statement in the two trees, differ.
fn compare_statement(sqlite: &Statement, postgres: &Statement, out: &mut Vec<String>) {
    let key = sqlite.key();
    match (sqlite, postgres) {
        (
            Statement::CreateTable { columns: sc, constraints: sk, options: so, .. },
            Statement::CreateTable { columns: pc, constraints: pk, options: po, .. },
        ) => {
            if column_list(sc) != column_list(pc) {
                out.push(format!(
                    "{key}: the columns differ\n    sqlite:   {}\n    postgres: {}",
                    column_list(sc),
                    column_list(pc)
                ));
            } else {
                for (s, p) in sc.iter().zip(pc) {
                    compare_column(&key, s, p, out);
                }
            }
            if sk != pk {
                out.push(format!("{key}: the table constraints differ\n    sqlite:   {sk:?}\n    postgres: {pk:?}"));
            }
            if so != po {
                out.push(format!("{key}: the table options differ\n    sqlite:   {so:?}\n    postgres: {po:?}"));
            }
        }
        (Statement::AddColumn { column: s, .. }, Statement::AddColumn { column: p, .. }) => {
            compare_column(&key, s, p, out);
        }
        (Statement::CreateIndex { text: s, .. }, Statement::CreateIndex { text: p, .. }) if s != p => {
            out.push(format!("{key} differs\n    sqlite:   {s}\n    postgres: {p}"));
        }
        _ => {}
    }
}

fn compare_column(key: &str, sqlite: &Column, postgres: &Column, out: &mut Vec<String>) {
    if sqlite.kind != postgres.kind {
        out.push(format!(
            "{key}: column {} is {} in sqlite but {} in postgres",
            sqlite.name, sqlite.declared, postgres.declared
        ));
    }
    if sqlite.constraints != postgres.constraints {
        out.push(format!(
            "{key}: column {} has constraints {:?} in sqlite but {:?} in postgres",
            sqlite.name, sqlite.constraints, postgres.constraints
        ));
    }
}

/// Every difference between two trees given as (file name, SQL) pairs; empty when they agree.
fn compare(sqlite: &[(String, String)], postgres: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    let names = |tree: &[(String, String)]| tree.iter().map(|(n, _)| n.clone()).collect::<BTreeSet<_>>();
    let (sqlite_names, postgres_names) = (names(sqlite), names(postgres));
    for only in sqlite_names.difference(&postgres_names) {
        out.push(format!("{only} is only in the sqlite tree"));
    }
    for only in postgres_names.difference(&sqlite_names) {
        out.push(format!("{only} is only in the postgres tree"));
    }
    for (file, sqlite_sql) in sqlite {
        let Some((_, postgres_sql)) = postgres.iter().find(|(n, _)| n == file) else { continue };
        let parsed = (parse(Dialect::Sqlite, sqlite_sql), parse(Dialect::Postgres, postgres_sql));
        let (s, p) = match parsed {
            (Ok(s), Ok(p)) => (s, p),
            (s, p) => {
                for (dialect, e) in [("sqlite", s.err()), ("postgres", p.err())] {
                    if let Some(e) = e {
                        out.push(format!("{dialect}/{file}: {e}"));
                    }
                }
                continue;
            }
        };
        let mut file_out = Vec::new();
        let (s_keys, p_keys): (Vec<String>, Vec<String>) =
            (s.iter().map(Statement::key).collect(), p.iter().map(Statement::key).collect());
        for key in s_keys.iter().filter(|k| !p_keys.contains(k)) {
            file_out.push(format!("only in sqlite: {key}"));
        }
        for key in p_keys.iter().filter(|k| !s_keys.contains(k)) {
            file_out.push(format!("only in postgres: {key}"));
        }
        let common =
            |keys: &[String], other: &[String]| keys.iter().filter(|k| other.contains(k)).cloned().collect::<Vec<_>>();
        if file_out.is_empty() && common(&s_keys, &p_keys) != common(&p_keys, &s_keys) {
            let mut message = String::from("the statements come in a different order");
            let _ = write!(message, "\n    sqlite:   {}\n    postgres: {}", s_keys.join("; "), p_keys.join("; "));
            file_out.push(message);
        }
        for statement in &s {
            if let Some(counterpart) = p.iter().find(|c| c.key() == statement.key()) {
                compare_statement(statement, counterpart, &mut file_out);
            }
        }
        out.extend(file_out.into_iter().map(|d| format!("{file}: {d}")));
    }
    out
}

/// The tree's files, by name.
fn read_tree(dir: &Path) -> Vec<(String, String)> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<(String, String)> = entries
        .map(|entry| {
            let path = entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path();
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), text)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn the_sqlite_and_postgres_migrations_describe_the_same_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let (sqlite, postgres) = (read_tree(&root.join("sqlite")), read_tree(&root.join("postgres")));
    assert!(sqlite.len() >= 8 && postgres.len() >= 8, "the migration trees were not found under {}", root.display());
    let differences = compare(&sqlite, &postgres);
    assert!(
        differences.is_empty(),
        "migrations/sqlite and migrations/postgres have drifted apart:\n{}",
        differences.join("\n")
    );
}

mod checks {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> Vec<(String, String)> {
        files.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect()
    }

    const SQLITE: &str = "
        -- a comment; with a semicolon
        CREATE TABLE things (
            id       TEXT PRIMARY KEY,
            org_id   TEXT NOT NULL REFERENCES organizations(id),
            count    BIGINT NOT NULL,
            photo    BLOB,
            score    REAL,
            note     TEXT NOT NULL DEFAULT 'a; b',
            UNIQUE (org_id, count)
        );
        CREATE INDEX things_org ON things (org_id, id);
        ALTER TABLE things ADD COLUMN flag BIGINT NOT NULL DEFAULT 0;
        UPDATE things SET note = '' WHERE note LIKE '{%';
    ";

    const POSTGRES: &str = "
        create table things (
            id text primary key,
            org_id text not null references organizations (id),
            count BIGINT not null,
            photo BYTEA,   /* sealed */
            score DOUBLE PRECISION,
            note TEXT NOT NULL DEFAULT 'a; b',
            UNIQUE (org_id, count)
        );
        CREATE INDEX things_org ON things (org_id, id);
        ALTER TABLE things ADD flag BIGINT NOT NULL DEFAULT 0;
        UPDATE things SET note = '' WHERE note LIKE '{%';
    ";

    /// A change to the postgres tree.
    type Edit = fn(&str) -> String;

    /// The differences found when `postgres` is changed by `edit`.
    fn drift(edit: impl Fn(&str) -> String) -> Vec<String> {
        let changed = edit(POSTGRES);
        assert_ne!(changed, POSTGRES, "the edit did not apply");
        compare(&tree(&[("0001.sql", SQLITE)]), &tree(&[("0001.sql", &changed)]))
    }

    #[test]
    fn dialect_spellings_case_whitespace_and_comments_do_not_count() {
        assert_eq!(compare(&tree(&[("0001.sql", SQLITE)]), &tree(&[("0001.sql", POSTGRES)])), Vec::<String>::new());
    }

    #[test]
    fn every_kind_of_drift_is_found() {
        let cases: [(&str, Edit); 12] = [
            ("a column in one tree only", |p| p.replace("score DOUBLE", "extra TEXT,\n score DOUBLE")),
            ("columns in another order", |p| {
                p.replace("photo BYTEA,   /* sealed */", "").replace("note TEXT", "photo BYTEA, note TEXT")
            }),
            ("INTEGER (i32) against BIGINT", |p| p.replace("count BIGINT", "count INTEGER")),
            ("TIMESTAMPTZ against TEXT", |p| p.replace("id text primary", "id TIMESTAMPTZ primary")),
            ("BOOLEAN against BIGINT", |p| p.replace("flag BIGINT", "flag BOOLEAN")),
            ("a lost NOT NULL", |p| p.replace("count BIGINT not null", "count BIGINT")),
            ("another default", |p| p.replace("DEFAULT 0", "DEFAULT 1")),
            ("another table constraint", |p| p.replace("UNIQUE (org_id, count)", "UNIQUE (org_id)")),
            ("an index on other columns", |p| p.replace("things (org_id, id)", "things (org_id)")),
            ("an added column in one tree only", |p| {
                p.replace("ALTER TABLE things ADD flag BIGINT NOT NULL DEFAULT 0;", "")
            }),
            ("another data change", |p| p.replace("SET note = ''", "SET note = 'x'")),
            ("statements in another order", |p| {
                p.replace("CREATE INDEX things_org ON things (org_id, id);", "")
                    .replace("UPDATE things", "CREATE INDEX things_org ON things (org_id, id); UPDATE things")
            }),
        ];
        for (what, edit) in cases {
            assert!(!drift(edit).is_empty(), "{what} went unnoticed");
        }
        let found = drift(|p| p.replace("score DOUBLE", "extra TEXT,\n score DOUBLE"));
        assert!(found.iter().any(|d| d.contains("things") && d.contains("extra")), "{found:?}");
    }

    #[test]
    fn a_file_in_one_tree_only_is_found() {
        let found = compare(&tree(&[("0001.sql", SQLITE), ("0002.sql", "")]), &tree(&[("0001.sql", POSTGRES)]));
        assert_eq!(found, vec!["0002.sql is only in the sqlite tree".to_string()]);
    }
}
