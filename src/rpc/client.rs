//! The client side of the connection: where to connect and how, shared by the TUI and tests.

use std::time::Duration;

use jsonrpsee::client_transport::ws::WsHandshakeError;
use jsonrpsee::core::ClientError;
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::ws_client::{PingConfig, WsClient, WsClientBuilder};

use super::codes;
use super::tls::{ClientTls, TlsError};

/// The port a server address without one means: the one `chatroom serve` listens on.
pub const DEFAULT_PORT: u16 = 7777;

/// How long opening a connection may take, TCP, TLS and the WebSocket upgrade together,
/// unless told otherwise (`connect --connect-timeout`).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The cause is in the message, not behind `source()`: printed as a chain, it would
    /// appear twice.
    #[error("cannot connect to {url}: {}", describe(cause))]
    Connect { url: String, cause: ClientError },
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The TLS handshake failed: most often a certificate this client does not trust.
    #[error("cannot connect to {url}: {}", describe_tls(cause))]
    Handshake { url: String, cause: rustls::Error },
    #[error(
        "cannot connect to {url}: the server answered in something other than HTTP; if it uses TLS, try wss://"
    )]
    TlsPort { url: String },
    /// No such host; at first this is a typo, later it may be the network.
    #[error("cannot connect to {url}: {}", describe(cause))]
    UnknownHost { url: String, cause: ClientError },
    /// Something accepted the connection but did not complete the handshake in time.
    #[error("cannot connect to {url}: no answer within {} s", after.as_secs_f64())]
    Timeout { url: String, after: Duration },
}

impl ConnectError {
    /// Whether trying again would meet the same refusal (a certificate not trusted, a TLS
    /// setup that cannot be built, TLS where plain was expected).
    pub fn is_permanent(&self) -> bool {
        !matches!(
            self,
            ConnectError::Connect { .. }
                | ConnectError::UnknownHost { .. }
                | ConnectError::Timeout { .. }
        )
    }

    /// Whether the host name did not resolve: worth retrying during an outage, but not
    /// when it is the first thing tried.
    pub fn is_unknown_host(&self) -> bool {
        matches!(self, ConnectError::UnknownHost { .. })
    }
}

/// A server address that cannot be one.
#[derive(Debug, thiserror::Error)]
pub enum AddressError {
    #[error("{target:?} is not a server address: {cause}")]
    Invalid {
        target: String,
        cause: url::ParseError,
    },
    #[error("{target:?} is not a chat server address: use host:port, ws:// or wss://")]
    Scheme { target: String },
}

/// Turns what a user typed into a WebSocket URL: a full `ws://` or `wss://` URL is kept
/// (its port defaulting as URLs do), anything else is `host[:port]` with `scheme` and port
/// [`DEFAULT_PORT`] unless it says otherwise. Other schemes, bad ports and malformed
/// hosts are refused here, before any attempt to connect.
pub fn server_url(target: &str, scheme: &str) -> Result<String, AddressError> {
    let invalid = |cause| AddressError::Invalid {
        target: target.to_owned(),
        cause,
    };
    if target.contains("://") {
        let url = url::Url::parse(target).map_err(invalid)?;
        if !matches!(url.scheme(), "ws" | "wss") {
            return Err(AddressError::Scheme {
                target: target.to_owned(),
            });
        }
        if url.host().is_none() {
            return Err(invalid(url::ParseError::EmptyHost));
        }
        return Ok(url.into());
    }
    // A scheme with no default port shows whether one was written, even `:80`.
    let written = url::Url::parse(&format!("chatroom://{target}")).map_err(invalid)?;
    let mut url = url::Url::parse(&format!("{scheme}://{target}")).map_err(invalid)?;
    if url.host().is_none() || written.path() != "" || url.query().is_some() {
        return Err(AddressError::Scheme {
            target: target.to_owned(),
        });
    }
    url.set_port(Some(written.port().unwrap_or(DEFAULT_PORT)))
        .expect("a ws:// URL with a host takes a port");
    Ok(url.into())
}

/// What went wrong with a call or a connection, in words for the user: the meaning of a
/// refusal rather than its Debug form, the cause of a failed connection once.
pub fn describe(err: &ClientError) -> String {
    match err {
        ClientError::Call(call) => describe_call(call),
        ClientError::Transport(inner) => match inner.downcast_ref::<WsHandshakeError>() {
            Some(WsHandshakeError::Io(io)) => describe_io(io),
            Some(WsHandshakeError::ResolutionFailed(io)) => format!("unknown host ({io})"),
            Some(WsHandshakeError::NoAddressFound(host)) => format!("no address for {host}"),
            Some(WsHandshakeError::Timeout(after)) => {
                format!("no answer within {} s", after.as_secs_f64())
            }
            Some(WsHandshakeError::Url(why)) => why.to_string(),
            Some(WsHandshakeError::Rejected { status_code }) => {
                format!("the server refused the WebSocket connection (HTTP {status_code})")
            }
            _ => inner.to_string(),
        },
        ClientError::RestartNeeded(_) => "the connection was lost".into(),
        ClientError::RequestTimeout => "the server did not answer in time".into(),
        other => other.to_string(),
    }
}

/// An error and its causes as one line for the user, each cause once: a cause whose text
/// its parent already ends with is not repeated, and jsonrpsee's and rustls's errors are
/// put in words ([`describe`]) instead of their Debug form.
pub fn error_line<'a>(
    chain: impl IntoIterator<Item = &'a (dyn std::error::Error + 'static)>,
) -> String {
    let mut line = String::new();
    for cause in chain {
        let (text, whole) = if let Some(err) = cause.downcast_ref::<ClientError>() {
            (describe(err), true)
        } else if let Some(call) = cause.downcast_ref::<ErrorObjectOwned>() {
            (describe_call(call), true)
        } else if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            (describe_tls(tls), true)
        } else {
            (cause.to_string(), false)
        };
        if !line.ends_with(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        if whole {
            break;
        }
    }
    line
}

/// A refused call: the server's message, or what its code means when it sent none.
pub fn describe_call(call: &ErrorObjectOwned) -> String {
    match (call.message(), codes::meaning(call.code())) {
        ("", Some(meaning)) => meaning.to_owned(),
        ("", None) => format!("refused with code {}", call.code()),
        (message, _) => message.to_owned(),
    }
}

fn describe_io(io: &std::io::Error) -> String {
    match io.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::ConnectionReset => "connection reset".into(),
        _ => match io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
            Some(tls) => describe_tls(tls),
            None => io.to_string(),
        },
    }
}

/// A failed TLS handshake, said plainly where rustls says it in Debug form.
pub fn describe_tls(err: &rustls::Error) -> String {
    use rustls::CertificateError;
    match err {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the server's certificate is not signed by anyone this client trusts \
             (see --ca-file and --fingerprint)"
                .into()
        }
        rustls::Error::InvalidCertificate(CertificateError::Other(other)) => other.to_string(),
        other => other.to_string(),
    }
}

/// The rustls error behind a failed connection, if that is what it was. jsonrpsee carries it
/// as `Transport(WsHandshakeError::Io(io::Error))`, with no `source` links between them, so
/// each layer is opened by hand.
fn rustls_error(err: &ClientError) -> Option<&rustls::Error> {
    let ClientError::Transport(inner) = err else {
        return None;
    };
    match inner.downcast_ref::<WsHandshakeError>()? {
        WsHandshakeError::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>(),
        _ => None,
    }
}

/// Whether the answer to the WebSocket upgrade did not even parse as HTTP: what a TLS
/// server's alert looks like to an HTTP parser. (httparse's error, two `source` links down.)
fn is_not_http(err: &ClientError) -> bool {
    let ClientError::Transport(inner) = err else {
        return false;
    };
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&**inner);
    while let Some(err) = cause {
        if matches!(
            err.downcast_ref::<httparse::Error>(),
            Some(httparse::Error::Version)
        ) {
            return true;
        }
        cause = err.source();
    }
    false
}

fn is_unknown_host(err: &ClientError) -> bool {
    let ClientError::Transport(inner) = err else {
        return false;
    };
    matches!(
        inner.downcast_ref::<WsHandshakeError>(),
        Some(WsHandshakeError::ResolutionFailed(_) | WsHandshakeError::NoAddressFound(_))
    )
}

fn is_timeout(err: &ClientError) -> Option<Duration> {
    let ClientError::Transport(inner) = err else {
        return None;
    };
    match inner.downcast_ref::<WsHandshakeError>()? {
        WsHandshakeError::Timeout(after) => Some(*after),
        _ => None,
    }
}

/// Events a subscription may buffer in the client before it is dropped as lagging. A client
/// that falls this far behind its own subscription is better off reconnecting.
pub const SUBSCRIPTION_BUFFER: usize = 4096;

/// Opens a WebSocket connection with pings on, so a vanished server is noticed; a `wss://`
/// server must have a certificate the system trusts.
pub async fn connect(url: &str) -> Result<WsClient, ConnectError> {
    connect_with(url, &ClientTls::default(), SUBSCRIPTION_BUFFER).await
}

/// [`connect`], trusting `wss://` servers as `tls` says, with room for `buffer`
/// undelivered events per subscription. A certificate that is not trusted ends the attempt
/// during the TLS handshake, before anything is sent.
pub async fn connect_with(
    url: &str,
    tls: &ClientTls,
    buffer: usize,
) -> Result<WsClient, ConnectError> {
    connect_within(url, tls, buffer, CONNECT_TIMEOUT).await
}

/// [`connect_with`], giving up when the connection is not open `timeout` after starting:
/// a server that accepts TCP and never answers is a failure like any other.
pub async fn connect_within(
    url: &str,
    tls: &ClientTls,
    buffer: usize,
    timeout: Duration,
) -> Result<WsClient, ConnectError> {
    let mut builder = WsClientBuilder::new();
    if let Some(config) = tls.client_config()? {
        builder = builder.with_custom_cert_store(config);
    }
    let opening = builder
        .connection_timeout(timeout)
        .request_timeout(Duration::from_secs(30))
        .enable_ws_ping(
            PingConfig::new()
                .ping_interval(Duration::from_secs(10))
                .inactive_limit(Duration::from_secs(30)),
        )
        .max_buffer_capacity_per_subscription(buffer)
        .build(url);
    // jsonrpsee's own timeout covers TCP and TLS, not the WebSocket upgrade after them.
    let Ok(opened) = tokio::time::timeout(timeout, opening).await else {
        return Err(ConnectError::Timeout {
            url: url.to_owned(),
            after: timeout,
        });
    };
    opened.map_err(|cause| {
        let url = url.to_owned();
        if url.starts_with("ws://") && is_not_http(&cause) {
            ConnectError::TlsPort { url }
        } else if let Some(tls) = rustls_error(&cause) {
            ConnectError::Handshake {
                url,
                cause: tls.clone(),
            }
        } else if let Some(after) = is_timeout(&cause) {
            ConnectError::Timeout { url, after }
        } else if is_unknown_host(&cause) {
            ConnectError::UnknownHost { url, cause }
        } else {
            ConnectError::Connect { url, cause }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws_url(target: &str) -> Result<String, AddressError> {
        server_url(target, "ws")
    }

    #[test]
    fn a_bare_address_becomes_a_ws_url_on_the_default_port_unless_it_names_one() {
        assert_eq!(ws_url("127.0.0.1:7000").unwrap(), "ws://127.0.0.1:7000/");
        assert_eq!(ws_url("127.0.0.1").unwrap(), "ws://127.0.0.1:7777/");
        assert_eq!(ws_url("chat.example").unwrap(), "ws://chat.example:7777/");
        assert_eq!(ws_url("chat.example:80").unwrap(), "ws://chat.example/");
        assert_eq!(ws_url("[::1]").unwrap(), "ws://[::1]:7777/");
        assert_eq!(ws_url("[::1]:9").unwrap(), "ws://[::1]:9/");
        assert_eq!(
            server_url("chat.example", "wss").unwrap(),
            "wss://chat.example:7777/"
        );
    }

    #[test]
    fn full_url_is_kept() {
        assert_eq!(ws_url("ws://h:1/x").unwrap(), "ws://h:1/x");
        assert_eq!(ws_url("wss://h:1").unwrap(), "wss://h:1/");
        assert_eq!(
            ws_url("wss://h").unwrap(),
            "wss://h/",
            "a URL's own default"
        );
    }

    #[test]
    fn addresses_that_cannot_work_are_refused_before_connecting() {
        for bad in [
            "http://127.0.0.1:7777",
            "https://h",
            "127.0.0.1:99999",
            "ws://127.0.0.1:99999",
            "",
            "host:port",
            "a b:1",
            "host:1/path",
        ] {
            assert!(ws_url(bad).is_err(), "{bad:?} accepted");
        }
        let err = ws_url("http://127.0.0.1:7777").unwrap_err().to_string();
        assert!(err.contains("ws://"), "{err}");
    }

    /// Like `anyhow`'s context over a jsonrpsee error: a message, and the error as source.
    #[derive(Debug, thiserror::Error)]
    #[error("cannot join")]
    struct Context(#[source] ClientError);

    /// A parent that quotes its cause and also gives it as `source()`.
    #[derive(Debug, thiserror::Error)]
    #[error("cannot read x.pem: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[test]
    fn an_error_is_one_line_with_each_cause_once() {
        let wrong = ErrorObjectOwned::owned(codes::WRONG_PASSWORD, "wrong password", None::<()>);
        let err = Context(ClientError::Call(wrong));
        let chain = std::iter::successors(Some(&err as &(dyn std::error::Error + 'static)), |e| {
            e.source()
        });
        assert_eq!(error_line(chain), "cannot join: wrong password");

        let err = Quoting(std::io::Error::other("no such file"));
        let chain = std::iter::successors(Some(&err as &(dyn std::error::Error + 'static)), |e| {
            e.source()
        });
        assert_eq!(error_line(chain), "cannot read x.pem: no such file");
    }

    #[test]
    fn a_refusal_reads_as_its_meaning_not_its_debug_form() {
        let wrong = ErrorObjectOwned::owned(codes::WRONG_PASSWORD, "wrong password", None::<()>);
        let said = describe(&ClientError::Call(wrong));
        assert_eq!(said, "wrong password");
        let bare = ErrorObjectOwned::owned(codes::WRONG_PASSWORD, "", None::<()>);
        assert_eq!(describe_call(&bare), "wrong password");
        let unknown = ErrorObjectOwned::owned(4242, "", None::<()>);
        assert_eq!(describe_call(&unknown), "refused with code 4242");
    }
}
