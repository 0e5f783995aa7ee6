//! `GET /healthz`: whether this node is ready to serve, in one line, for a load balancer.
//!
//! Answered before jsonrpsee sees the request, so it needs no password, is under none of
//! the JSON-RPC body limits, and is neither a member nor a call.

use std::sync::Arc;

use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, StatusCode};
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};

/// The path a load balancer polls.
pub const PATH: &str = "/healthz";

/// Whether this node can serve now: `Ok`, or why not in a few words (`storage
/// unavailable`). Asked on every health check, on the connection's task, so it must be
/// cheap and must not block. The default is always ready.
#[derive(Clone)]
pub struct Health(Arc<dyn Fn() -> Result<(), String> + Send + Sync>);

impl Health {
    pub fn new(check: impl Fn() -> Result<(), String> + Send + Sync + 'static) -> Self {
        Self(Arc::new(check))
    }

    /// What the check says now.
    pub fn check(&self) -> Result<(), String> {
        (self.0)()
    }
}

impl Default for Health {
    fn default() -> Self {
        Self::new(|| Ok(()))
    }
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Health(…)")
    }
}

/// Whether `request` is a health check (`GET` or `HEAD` of [`PATH`]); anything else, a
/// `POST /healthz` included, goes to the API as before.
pub(super) fn is_health_check<B>(request: &HttpRequest<B>) -> bool {
    request.uri().path() == PATH && matches!(*request.method(), Method::GET | Method::HEAD)
}

/// `200 ok`, or `503` with the reason: the server's own shutdown first, then `health`.
/// hyper leaves the body out for `HEAD`.
pub(super) fn answer(health: &Health, shutting_down: bool) -> HttpResponse {
    let verdict = if shutting_down {
        Err("shutting down".to_owned())
    } else {
        health.check()
    };
    let (status, body) = match verdict {
        Ok(()) => (StatusCode::OK, "ok\n".to_owned()),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}\n", one_line(&why)),
        ),
    };
    hyper::Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(CACHE_CONTROL, "no-store")
        .body(HttpBody::from(body))
        .expect("a status and two fixed headers make a valid response")
}

/// The reason on one line, whatever the check wrote.
fn one_line(why: &str) -> String {
    let line = why.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.is_empty() {
        "not ready".to_owned()
    } else {
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_over_several_lines_is_answered_on_one() {
        assert_eq!(one_line("storage\nunavailable \r\n"), "storage unavailable");
        assert_eq!(one_line(" \n"), "not ready");
    }
}
