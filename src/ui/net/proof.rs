//! Proving our identity on a new connection: the server's challenge, signed with our key,
//! unless the server gives the id of another one.

use jsonrpsee::core::ClientError;
use jsonrpsee::ws_client::WsClient;

use super::OpenError;
use crate::identity::Identity;
use crate::rpc::ChatApiClient;
use crate::rpc::client::describe;
use crate::rpc::types::Proof;

/// The JSON-RPC error code of a method the server does not have.
const METHOD_NOT_FOUND: i32 = -32601;

/// Signs this connection's challenge with our key, for `chat_join`'s `proof`. A server
/// from before identities has no challenge to give: we join it as a guest. `siblings`:
/// every address given with `url`, as one service (nodes may share an id).
pub(super) async fn prove(
    client: &WsClient,
    url: &str,
    siblings: &[String],
    identity: &Identity,
) -> Result<Option<Proof>, OpenError> {
    match client.challenge().await {
        Ok(challenge) => {
            // Not for a server that speaks with another's id: it would sign us in there.
            identity
                .vouch(url, siblings, &challenge.server)
                .map_err(|err| OpenError::Permanent(err.to_string()))?;
            Ok(Some(Proof {
                key: identity.public_key().to_base64(),
                signature: identity.sign_join(&challenge.server, &challenge.nonce),
            }))
        }
        Err(ClientError::Call(err)) if err.code() == METHOD_NOT_FOUND => {
            tracing::warn!("the server knows no identities: joining as a guest");
            Ok(None)
        }
        Err(err @ ClientError::Call(_)) => Err(OpenError::Permanent(describe(&err))),
        Err(err) => Err(OpenError::Transient(describe(&err))),
    }
}
