//! The client side of the connection: where to connect and how, shared by the TUI and tests.

use std::time::Duration;

use jsonrpsee::client_transport::ws::WsHandshakeError;
use jsonrpsee::core::ClientError;
use jsonrpsee::ws_client::{PingConfig, WsClient, WsClientBuilder};

use super::tls::{ClientTls, TlsError};

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot connect to {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: ClientError,
    },
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The TLS handshake failed: most often a certificate this client does not trust.
    #[error("cannot connect to {url}: {source}")]
    Handshake {
        url: String,
        #[source]
        source: rustls::Error,
    },
    #[error(
        "cannot connect to {url}: the server answered in something other than HTTP; if it uses TLS, try wss://"
    )]
    TlsPort { url: String },
}

impl ConnectError {
    /// Whether trying again would meet the same refusal (a certificate not trusted, a TLS
    /// setup that cannot be built, TLS where plain was expected).
    pub fn is_permanent(&self) -> bool {
        !matches!(self, ConnectError::Connect { .. })
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

/// Turns what a user typed (`host:port` or a full `ws://` URL) into a WebSocket URL.
pub fn ws_url(target: &str) -> String {
    if target.contains("://") {
        target.to_owned()
    } else {
        format!("ws://{target}")
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
    let mut builder = WsClientBuilder::new();
    if let Some(config) = tls.client_config()? {
        builder = builder.with_custom_cert_store(config);
    }
    builder
        .connection_timeout(Duration::from_secs(10))
        .request_timeout(Duration::from_secs(30))
        .enable_ws_ping(
            PingConfig::new()
                .ping_interval(Duration::from_secs(10))
                .inactive_limit(Duration::from_secs(30)),
        )
        .max_buffer_capacity_per_subscription(buffer)
        .build(url)
        .await
        .map_err(|source| {
            // What a TLS server's alert looks like to a plain HTTP parser.
            let tls_port = url.starts_with("ws://") && source.to_string().contains("HTTP version");
            if tls_port {
                ConnectError::TlsPort {
                    url: url.to_owned(),
                }
            } else if let Some(tls) = rustls_error(&source) {
                ConnectError::Handshake {
                    url: url.to_owned(),
                    source: tls.clone(),
                }
            } else {
                ConnectError::Connect {
                    url: url.to_owned(),
                    source,
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_address_becomes_a_ws_url() {
        assert_eq!(ws_url("127.0.0.1:7777"), "ws://127.0.0.1:7777");
        assert_eq!(ws_url("chat.example:7777"), "ws://chat.example:7777");
    }

    #[test]
    fn full_url_is_kept() {
        assert_eq!(ws_url("ws://h:1/x"), "ws://h:1/x");
        assert_eq!(ws_url("wss://h:1"), "wss://h:1");
    }
}
