//! The `iot-data` connection operations: DeleteConnection (`DELETE /connections/{clientId}?
//! cleanSession=&preventWillMessage=`), which disconnects a connected client. The decision —
//! what happens to the session and the will — is the broker's (`broker_core`'s
//! `delete_connection.rs`); this validates the request and asks the router. GetConnection and
//! ListSubscriptions are not served.

use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::{Api, ApiError, Request};
use crate::mqtt::router::Command;

/// AWS's bounds on the client id of a connection operation (botocore's `ClientId` shape).
const MAX_CLIENT_ID: usize = 128;

/// DeleteConnection. Answers once the router has ordered the close (the connection is closed
/// right after, MQTT 5 clients with DISCONNECT 0x98 Administrative action). Errors as AWS's API
/// reference lists them: InvalidRequestException for a client id that starts with `$` or is
/// outside 1–128 characters or a parameter that is not `true`/`false`, ResourceNotFoundException
/// when no client with that id is connected (an offline persistent session included: there is
/// no connection to delete).
pub(super) async fn delete(api: &Api, req: &Request, client_id: &str) -> Result<Value, ApiError> {
    let length = client_id.chars().count();
    if client_id.starts_with('$') || !(1..=MAX_CLIENT_ID).contains(&length) {
        return Err(ApiError::invalid_request(format!(
            "clientId {client_id:?} is not valid: it must be 1 to {MAX_CLIENT_ID} characters and \
             must not start with $"
        )));
    }
    let clean_session = req.query_bool("cleanSession")?.unwrap_or(false);
    let prevent_will = req.query_bool("preventWillMessage")?.unwrap_or(false);
    let (reply, answer) = oneshot::channel();
    api.router
        .send(Command::DeleteConnection {
            client_id: client_id.to_owned(),
            clean_session,
            prevent_will,
            reply,
        })
        .await
        .map_err(|_| ApiError::internal("the broker is shutting down"))?;
    let connected = answer
        .await
        .map_err(|_| ApiError::internal("the broker stopped before the connection was closed"))?;
    if !connected {
        return Err(ApiError::not_found(format!(
            "No connection exists for client id {client_id}: it is not connected (the lifecycle \
             events on $aws/events/presence/# show which clients are)"
        )));
    }
    Ok(json!({}))
}
