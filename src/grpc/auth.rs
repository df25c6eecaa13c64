//! Bearer tokens: who a call is, and what it may do.
//!
//! The tokens file is JSON: a list of `{"token": "...", "company": "Acme
//! Builders", "rights": ["ingest", "query"]}` (one company) or `{"token":
//! "...", "admin": true}` (every company, every right, explain). Tokens are
//! compared in constant time against every entry, and never logged.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};

/// A right a company token can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Right {
    /// Append events (`Ingest`).
    Ingest,
    /// Run reports (`Query`, `Stats`).
    Query,
}

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// Every company, every right.
    Admin,
    /// One company (`company_name`), with these rights.
    Company {
        /// The company whose data the token sees.
        name: String,
        /// What the token may do.
        rights: Vec<Right>,
    },
}

impl Principal {
    /// Whether the token holds `right`.
    pub fn may(&self, right: Right) -> bool {
        match self {
            Principal::Admin => true,
            Principal::Company { rights, .. } => rights.contains(&right),
        }
    }

    /// The company a call is restricted to (`None`: all).
    pub fn company(&self) -> Option<&str> {
        match self {
            Principal::Admin => None,
            Principal::Company { name, .. } => Some(name),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    token: String,
    #[serde(default)]
    company: Option<String>,
    #[serde(default)]
    rights: Vec<Right>,
    #[serde(default)]
    admin: bool,
}

/// The configured tokens.
#[derive(Clone, Default)]
pub struct Tokens {
    entries: Vec<(Vec<u8>, Principal)>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens themselves.
        write!(f, "Tokens({} entries)", self.entries.len())
    }
}

impl Tokens {
    /// Parses the tokens file's JSON text.
    pub fn parse(json: &str) -> Result<Tokens> {
        let entries: Vec<Entry> = serde_json::from_str(json)
            .map_err(|e| Error::InvalidOptions(format!("tokens file: {e}")))?;
        let mut tokens = Tokens::default();
        for (i, e) in entries.into_iter().enumerate() {
            if e.token.len() < 16 {
                return Err(Error::InvalidOptions(format!(
                    "tokens file: entry {i}: a token needs at least 16 characters"
                )));
            }
            let principal = match (e.admin, e.company) {
                (true, None) if e.rights.is_empty() => Principal::Admin,
                (false, Some(name)) if !name.is_empty() && !e.rights.is_empty() => {
                    Principal::Company {
                        name,
                        rights: e.rights,
                    }
                }
                _ => {
                    return Err(Error::InvalidOptions(format!(
                        "tokens file: entry {i}: give either \"admin\": true, or a \"company\" with \"rights\" (ingest, query)"
                    )));
                }
            };
            if tokens.entries.iter().any(|(t, _)| *t == e.token.as_bytes()) {
                return Err(Error::InvalidOptions(format!(
                    "tokens file: entry {i}: the same token appears twice"
                )));
            }
            tokens.entries.push((e.token.into_bytes(), principal));
        }
        Ok(tokens)
    }

    /// Reads a tokens file.
    pub fn load(path: &Path) -> Result<Tokens> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Tokens::parse(&text)
    }

    /// The principal of a presented token. Every entry is compared, in
    /// time independent of where (and whether) the token matches.
    pub fn lookup(&self, presented: &[u8]) -> Option<&Principal> {
        let mut found = None;
        for (token, principal) in &self.entries {
            if constant_time_eq(token, presented) && found.is_none() {
                found = Some(principal);
            }
        }
        found
    }
}

/// Equal bytes, in time that depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    let n = a.len().max(b.len());
    for i in 0..n {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_file() {
        let t = Tokens::parse(
            r#"[{"token": "aaaaaaaaaaaaaaaaaaaa", "admin": true},
                {"token": "bbbbbbbbbbbbbbbbbbbb", "company": "Acme", "rights": ["query"]}]"#,
        )
        .unwrap();
        assert_eq!(t.lookup(b"aaaaaaaaaaaaaaaaaaaa"), Some(&Principal::Admin));
        let acme = t.lookup(b"bbbbbbbbbbbbbbbbbbbb").unwrap();
        assert_eq!(acme.company(), Some("Acme"));
        assert!(acme.may(Right::Query) && !acme.may(Right::Ingest));
        assert_eq!(t.lookup(b"bbbbbbbbbbbbbbbbbbb"), None);
        assert_eq!(t.lookup(b""), None);
        assert_eq!(format!("{t:?}"), "Tokens(2 entries)");
        let either =
            "give either \"admin\": true, or a \"company\" with \"rights\" (ingest, query)";
        for (bad, message) in [
            (
                r#"[{"token": "short", "admin": true}]"#,
                "tokens file: entry 0: a token needs at least 16 characters".to_string(),
            ),
            (
                r#"[{"token": "aaaaaaaaaaaaaaaaaaaa", "company": "A"}]"#,
                format!("tokens file: entry 0: {either}"),
            ),
            (
                r#"[{"token": "aaaaaaaaaaaaaaaaaaaa", "admin": true, "company": "A", "rights": ["query"]}]"#,
                format!("tokens file: entry 0: {either}"),
            ),
            (
                r#"[{"token": "aaaaaaaaaaaaaaaaaaaa", "admin": true}, {"token": "aaaaaaaaaaaaaaaaaaaa", "admin": true}]"#,
                "tokens file: entry 1: the same token appears twice".to_string(),
            ),
            (
                r#"[{"token": "aaaaaaaaaaaaaaaaaaaa", "company": "A", "rights": ["delete"]}]"#,
                "tokens file: unknown variant `delete`, expected `ingest` or `query` at line 1 column 70".to_string(),
            ),
        ] {
            match Tokens::parse(bad) {
                Err(Error::InvalidOptions(m)) => assert_eq!(m, message, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
