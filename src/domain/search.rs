//! Searching stored messages: what a search may ask for ([`SearchQuery`], parsed and
//! bounded here, in plain Rust) and which rooms a session may search ([`Chat::search_scope`]).
//! The log runs the query ([`EventLog::search`](super::EventLog::search)); SQLite does it
//! with its full-text index, a log that cannot answers [`SearchFailure::Unavailable`].
//!
//! A query is words, "phrases in quotes" and `from:NAME`, all of which must match. Only
//! messages and `/me` actions are searched, by their text and their sender's name at the
//! time they were sent. The rooms searched are the current room (the session must be in
//! it) or, for `-all`, every room the session is in and every conversation of its
//! identity: never anything else, whatever the query says.

use super::{Chat, Event, LogError, RoomError};

/// The longest query, in bytes.
pub const MAX_SEARCH_QUERY_BYTES: usize = 256;
/// The most terms (words, phrases and `from:` names together) in one query.
pub const MAX_SEARCH_TERMS: usize = 8;
/// The most hits one call returns.
pub const MAX_SEARCH_RESULTS: usize = 100;
/// How far back paging goes: hits past this many are not reached.
pub const MAX_SEARCH_OFFSET: usize = 1000;

/// One thing a query asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchTerm {
    /// A whole word, or several words in this order ("a phrase"), in the text.
    Text(String),
    /// The sender's name, the whole of it (ASCII case ignored).
    From(String),
}

/// A query, parsed and within the limits: at least one term, each with something in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub terms: Vec<SearchTerm>,
}

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadQuery {
    #[error("the search is {len} bytes; the limit is {max}")]
    TooLong { len: usize, max: usize },
    #[error("the search has {count} terms; the limit is {max}")]
    TooManyTerms { count: usize, max: usize },
    #[error("nothing to search for: give a word, a \"phrase\" or from:NAME")]
    Nothing,
    #[error("a quote is not closed")]
    OpenQuote,
    #[error("paging goes back at most {max} hits")]
    TooDeep { max: usize },
}

/// Why a search has no answer.
#[derive(Debug, thiserror::Error)]
pub enum SearchFailure {
    /// This log keeps no index to search (a cluster node's).
    #[error("search is unavailable on this server (it runs as a cluster node)")]
    Unavailable,
    #[error(transparent)]
    Failed(#[from] LogError),
}

/// A page of hits, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    /// Messages and actions, each with its room, seq, time, sender and text.
    pub events: Vec<Event>,
    /// Older hits follow: ask again with the offset moved past these.
    pub more: bool,
}

/// Which hits a call wants: at most `limit`, after skipping the `offset` newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchPage {
    pub limit: usize,
    pub offset: usize,
}

impl SearchPage {
    /// A page within the limits: `limit` is brought down to [`MAX_SEARCH_RESULTS`] (and up
    /// to 1), an `offset` past [`MAX_SEARCH_OFFSET`] is refused.
    pub fn new(limit: usize, offset: usize) -> Result<Self, BadQuery> {
        if offset > MAX_SEARCH_OFFSET {
            return Err(BadQuery::TooDeep {
                max: MAX_SEARCH_OFFSET,
            });
        }
        Ok(Self {
            limit: limit.clamp(1, MAX_SEARCH_RESULTS),
            offset,
        })
    }
}

impl SearchQuery {
    /// Reads what a user typed: words split on white space, `"…"` a phrase, `from:NAME`
    /// (or `from:"NAME"`) a sender. A term with no letter or digit in it says nothing and
    /// is left out; a query left with nothing is refused, as is one over the limits.
    pub fn parse(text: &str) -> Result<Self, BadQuery> {
        if text.len() > MAX_SEARCH_QUERY_BYTES {
            return Err(BadQuery::TooLong {
                len: text.len(),
                max: MAX_SEARCH_QUERY_BYTES,
            });
        }
        let mut terms = Vec::new();
        let mut rest = text.trim_start();
        while !rest.is_empty() {
            let (from, body) = match rest.strip_prefix("from:") {
                Some(after) => (true, after),
                None => (false, rest),
            };
            let (word, after) = match body.strip_prefix('"') {
                Some(quoted) => {
                    let end = quoted.find('"').ok_or(BadQuery::OpenQuote)?;
                    (&quoted[..end], &quoted[end + 1..])
                }
                None => {
                    let end = body.find(char::is_whitespace).unwrap_or(body.len());
                    (&body[..end], &body[end..])
                }
            };
            let word = word.split_whitespace().collect::<Vec<_>>().join(" ");
            if word.chars().any(char::is_alphanumeric) {
                terms.push(if from {
                    SearchTerm::From(word)
                } else {
                    SearchTerm::Text(word)
                });
            }
            rest = after.trim_start();
        }
        if terms.is_empty() {
            return Err(BadQuery::Nothing);
        }
        if terms.len() > MAX_SEARCH_TERMS {
            return Err(BadQuery::TooManyTerms {
                count: terms.len(),
                max: MAX_SEARCH_TERMS,
            });
        }
        Ok(Self { terms })
    }

    /// Whether a line by `name` saying `text` is a hit, by the index's rules for words
    /// (whole words, case ignored; the index also ignores accents, this does not): the
    /// answer of a log with no index, and the oracle its tests check the index against.
    pub fn matches(&self, name: &str, text: &str) -> bool {
        let said = words(text);
        self.terms.iter().all(|term| match term {
            SearchTerm::From(wanted) => wanted.eq_ignore_ascii_case(name),
            SearchTerm::Text(phrase) => {
                let phrase = words(phrase);
                !phrase.is_empty() && said.windows(phrase.len()).any(|w| w == phrase.as_slice())
            }
        })
    }

    /// The words of the text terms, lower case, for a client to highlight.
    pub fn text_words(&self) -> Vec<String> {
        self.terms
            .iter()
            .filter_map(|term| match term {
                SearchTerm::Text(phrase) => Some(words(phrase)),
                SearchTerm::From(_) => None,
            })
            .flatten()
            .collect()
    }
}

/// A text's words, lower case: runs of letters and digits.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

impl Chat {
    /// The rooms a session may search: `room` (which it must be in), or with `None` every
    /// room it is in and every conversation of its identity, open or closed. Worked out
    /// under the lock, which is held for that map work only.
    pub fn search_scope(
        &self,
        session: &str,
        room: Option<&str>,
    ) -> Result<Vec<String>, RoomError> {
        let mut state = self.lock();
        let (id, _) = state.session(session)?;
        if let Some(room) = room {
            return Ok(vec![state.seated_in(id, room)?]);
        }
        let mut rooms: Vec<String> = state.members[&id].rooms.iter().cloned().collect();
        if state.members[&id].key.is_some() {
            rooms.extend(
                state
                    .identities
                    .conversations
                    .iter()
                    .filter(|(_, ids)| ids.contains(&id))
                    .map(|(room, _)| room.clone()),
            );
        }
        rooms.sort();
        rooms.dedup();
        Ok(rooms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: &str) -> SearchTerm {
        SearchTerm::Text(t.into())
    }

    #[test]
    fn words_phrases_and_senders_are_read_apart() {
        let query = SearchQuery::parse(r#" deploy "green build"  from:alice from:"bob" "#).unwrap();
        assert_eq!(
            query.terms,
            vec![
                text("deploy"),
                text("green build"),
                SearchTerm::From("alice".into()),
                SearchTerm::From("bob".into()),
            ]
        );
    }

    #[test]
    fn only_from_is_a_query() {
        let query = SearchQuery::parse("from:alice").unwrap();
        assert_eq!(query.terms, vec![SearchTerm::From("alice".into())]);
    }

    #[test]
    fn a_query_of_nothing_is_refused() {
        for nothing in ["", "   ", "\"\"", "*", "\"-- ,\" ()", "from:"] {
            assert_eq!(
                SearchQuery::parse(nothing),
                Err(BadQuery::Nothing),
                "{nothing:?}"
            );
        }
    }

    #[test]
    fn a_long_query_is_refused() {
        let long = "a".repeat(MAX_SEARCH_QUERY_BYTES + 1);
        assert!(matches!(
            SearchQuery::parse(&long),
            Err(BadQuery::TooLong { .. })
        ));
        assert!(SearchQuery::parse(&"a".repeat(MAX_SEARCH_QUERY_BYTES)).is_ok());
    }

    #[test]
    fn too_many_terms_are_refused() {
        let many = ["w"; MAX_SEARCH_TERMS + 1].join(" ");
        assert!(matches!(
            SearchQuery::parse(&many),
            Err(BadQuery::TooManyTerms { .. })
        ));
        assert!(SearchQuery::parse(&["w"; MAX_SEARCH_TERMS].join(" ")).is_ok());
    }

    #[test]
    fn an_open_quote_is_refused() {
        assert_eq!(SearchQuery::parse("\"open"), Err(BadQuery::OpenQuote));
    }

    #[test]
    fn matching_is_by_whole_words_and_all_terms() {
        let query = SearchQuery::parse(r#"deploy "green build" from:Alice"#).unwrap();
        assert!(query.matches("alice", "Deploy: the green build passed"));
        assert!(!query.matches("bob", "deploy: the green build passed"));
        assert!(!query.matches("alice", "deployed: the green build passed"));
        assert!(!query.matches("alice", "deploy: the build is green"));
    }

    #[test]
    fn paging_is_bounded() {
        assert_eq!(SearchPage::new(1000, 0).unwrap().limit, MAX_SEARCH_RESULTS);
        assert_eq!(SearchPage::new(0, 0).unwrap().limit, 1);
        assert!(SearchPage::new(10, MAX_SEARCH_OFFSET + 1).is_err());
    }
}
