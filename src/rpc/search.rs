//! The server side of `chat_search`: the query parsed and bounded, the rooms the caller may
//! read worked out by the chat, and the log searched on the history reader's thread.

use jsonrpsee::types::ErrorObjectOwned;

use super::service::ChatService;
use super::types::{SearchHit, SearchResult};
use super::{DEFAULT_SEARCH_LIMIT, codes};
use crate::domain::{BadQuery, SearchFailure, SearchPage, SearchQuery};

impl ChatService {
    pub(super) async fn search_lines(
        &self,
        session: String,
        query: String,
        room: Option<String>,
        all: bool,
        limit: Option<u32>,
        offset: Option<u32>,
    ) -> Result<SearchResult, ErrorObjectOwned> {
        if all && room.is_some() {
            return Err(ErrorObjectOwned::owned(
                jsonrpsee::types::error::INVALID_PARAMS_CODE,
                "give `room` or `all`, not both",
                None::<()>,
            ));
        }
        let room = (!all).then(|| room.unwrap_or_else(|| self.chat.default_room().to_owned()));
        // Who may read what is settled before the query is even looked at.
        let rooms = self.chat.search_scope(&session, room.as_deref())?;
        let query = SearchQuery::parse(&query)?;
        let page = SearchPage::new(
            limit.unwrap_or(DEFAULT_SEARCH_LIMIT) as usize,
            offset.unwrap_or(0) as usize,
        )?;
        let log = self.chat.log();
        let found = self
            .history_reader
            .run(move || log.search(&rooms, &query, page))
            .await?;
        Ok(SearchResult {
            hits: found.events.into_iter().map(SearchHit::from).collect(),
            more: found.more,
        })
    }
}

impl From<BadQuery> for ErrorObjectOwned {
    fn from(err: BadQuery) -> Self {
        ErrorObjectOwned::owned(codes::BAD_SEARCH, err.to_string(), None::<()>)
    }
}

impl From<SearchFailure> for ErrorObjectOwned {
    fn from(err: SearchFailure) -> Self {
        match err {
            SearchFailure::Unavailable => {
                ErrorObjectOwned::owned(codes::SEARCH_UNAVAILABLE, err.to_string(), None::<()>)
            }
            SearchFailure::Failed(err) => super::service::history_unavailable(&err, "searching"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::domain::{
        Appender, Chat, ChatConfig, Event, EventLog, Lifetime, LogError, MemoryLog, OnProgress,
        Recovered,
    };
    use crate::rpc::server::ServerConfig;

    /// A log that keeps events but has no way to search them, as a cluster node's.
    struct CannotSearch(MemoryLog);

    impl EventLog for CannotSearch {
        fn recovered(&self) -> Recovered {
            self.0.recovered()
        }
        fn latest(&self, room: &str, limit: usize) -> Result<Vec<Event>, LogError> {
            self.0.latest(room, limit)
        }
        fn before(&self, room: &str, before: u64, limit: usize) -> Result<Vec<Event>, LogError> {
            self.0.before(room, before, limit)
        }
        fn after(&self, room: &str, since: u64, limit: usize) -> Result<Vec<Event>, LogError> {
            self.0.after(room, since, limit)
        }
        fn start(&self, timeout: Duration, on_progress: OnProgress) -> Box<dyn Appender> {
            self.0.start(timeout, on_progress)
        }
    }

    fn service(log: Arc<dyn EventLog>) -> (ChatService, String) {
        let chat = Chat::new(ChatConfig::default(), log).unwrap();
        let (joined, _) = chat.join(Some("ann"), Lifetime::Idle, None).unwrap();
        (
            ChatService::new(chat, &ServerConfig::default()),
            joined.session,
        )
    }

    #[tokio::test]
    async fn a_log_that_cannot_search_is_answered_as_search_unavailable() {
        let (service, session) = service(Arc::new(CannotSearch(MemoryLog::default())));
        let err = service
            .search_lines(session, "hello".into(), None, false, None, None)
            .await
            .unwrap_err();
        assert_eq!(err.code(), codes::SEARCH_UNAVAILABLE);
        assert!(err.message().contains("cluster"), "{}", err.message());
    }

    #[tokio::test]
    async fn a_bad_query_is_answered_as_bad_search() {
        let (service, session) = service(Arc::new(MemoryLog::default()));
        let err = service
            .search_lines(session, "  ".into(), None, false, None, None)
            .await
            .unwrap_err();
        assert_eq!(err.code(), codes::BAD_SEARCH);
    }
}
