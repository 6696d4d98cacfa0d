//! MQTT with a custom authorizer in the CONNECT: on the port-443 listener with ALPN `mqtt`, and
//! over WebSockets whose upgrade named no way in (the upgrade's headers and query string then go
//! to the authorizer too, and may carry the token), as AWS IoT takes it ("Connecting to AWS IoT
//! Core by using custom authentication", MQTT and MQTT over WebSockets): the CONNECT's user name
//! may carry a query string — `NAME?x-amz-customauthorizer-name=A&x-amz-customauthorizer-signature=S&TOKENKEY=T`
//! — naming the authorizer (else the default one), the token and its signature; the user name
//! as sent, the password (base64 in the event) and the client id go to the authorizer's
//! function. The CONNECT is read here first and put back for the connection task, which then
//! runs as for any client. A refusal is answered with CONNACK 0x86 Bad user name or password
//! (3.1.1: return code 4) when the credentials are at fault, 0x88 Server unavailable when the
//! authorizer could not answer (AWS does not document its codes here), and recorded.

use std::net::SocketAddr;
use std::sync::Arc;

use broker_core::ConnId;
use bytes::BytesMut;
use mqtt_proto::codec::Decoder;
use mqtt_proto::{Connect, Packet, Protocol, ReasonCode};
use refusals::RefusalKind;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use super::accept::Admission;
use super::rewind::Rewind;
use super::web::WebEdge;
use super::web_auth::{self, query_params};
use super::{admitted, first_packet};
use crate::auth::Identity;
use crate::authorizer::{self, Credentials, MqttData};

/// The WebSocket upgrade of a client that authenticates in its CONNECT.
#[derive(Debug)]
pub(super) struct Upgraded {
    /// The upgrade's headers.
    pub(super) headers: http::HeaderMap,
    /// Its query string (without `?`).
    pub(super) query: String,
}

/// Serves one MQTT client whose CONNECT carries its custom-authorizer credentials (ALPN `mqtt`,
/// or a WebSocket given as `upgraded`).
pub(super) async fn serve<S>(
    mut stream: S,
    conn: ConnId,
    peer: SocketAddr,
    server_name: Option<String>,
    upgraded: Option<Upgraded>,
    edge: &WebEdge,
    admission: &Admission,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let settings = Arc::clone(&admission.shared.settings);
    let read = tokio::time::timeout(
        settings.connect_timeout,
        read_connect(&mut stream, settings.max_packet_size),
    )
    .await;
    let Ok(Some((connect, bytes))) = read else {
        tracing::debug!("closing {peer} (ALPN mqtt): no readable CONNECT in time");
        return;
    };
    let username = connect.username.as_ref().map(|u| u.as_str().to_owned());
    let params = username
        .as_deref()
        .and_then(|u| u.split_once('?'))
        .map(|(_, query)| query_params(query))
        .unwrap_or_default();
    let web_params = upgraded
        .as_ref()
        .map(|u| query_params(&u.query))
        .unwrap_or_default();
    // The user name's parameters first, then the upgrade's headers and query string.
    let pick = |key: &str| {
        params
            .get(key)
            .cloned()
            .or_else(|| {
                upgraded
                    .as_ref()
                    .and_then(|u| web_auth::header(&u.headers, key))
            })
            .or_else(|| web_params.get(key).cloned())
    };
    let name = pick(authorizer::NAME_KEY);
    let extract = |token_key: Option<&str>| Credentials {
        token: token_key.and_then(pick),
        signature: pick(authorizer::SIGNATURE_KEY),
        server_name,
        http: upgraded
            .as_ref()
            .map(|u| web_auth::http_data(&u.headers, &u.query)),
        mqtt: Some(MqttData {
            username: username.clone(),
            password: connect.password.as_ref().map(|p| p.to_vec()),
            client_id: Some(connect.client_id.as_str().to_owned()).filter(|id| !id.is_empty()),
        }),
    };
    let refused = match edge.authorizers.authorize(name.as_deref(), extract).await {
        Ok(Some((admitted, credentials))) => {
            let policies = admitted::authorizer_layer(&admitted);
            let lifetime = admitted::authorizer_lifetime(&admitted, credentials, &edge.authorizers);
            let identity = |key| Identity::Custom {
                authorizer: admitted.authorizer.clone(),
                principal_id: admitted.answer.principal_id.clone(),
                peer,
                key,
            };
            let stream = Rewind::new(bytes, stream);
            admitted::serve(
                stream,
                conn,
                identity,
                policies,
                lifetime,
                &admission.shared,
            )
            .await;
            return;
        }
        Ok(None) if upgraded.is_some() => (
            RefusalKind::MissingCredentials,
            "the WebSocket upgrade carries no SigV4 signature (X-Amz-Algorithm, \
             X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders, X-Amz-Signature in the query) \
             and nothing names a custom authorizer (x-amz-customauthorizer-name in a header, the \
             query or the CONNECT's user name), and no default authorizer is set"
                .to_owned(),
        ),
        Ok(None) => (
            RefusalKind::MissingCredentials,
            "the CONNECT names no authorizer (x-amz-customauthorizer-name in the user name's \
             query string) and no default authorizer is set"
                .to_owned(),
        ),
        Err(failure) => (failure.kind, failure.reason),
    };
    let (kind, reason) = refused;
    let code = match kind {
        RefusalKind::AuthorizerTimeout | RefusalKind::AuthorizerFailed => {
            ReasonCode::ServerUnavailable
        }
        _ => ReasonCode::BadUserNameOrPassword,
    };
    edge.record(admission, peer, kind, &reason, None);
    first_packet::refuse(&mut stream, connect.protocol, code).await;
}

/// Reads bytes until they hold a whole CONNECT; returns it with every byte read (to be put
/// back). `None` for anything else.
async fn read_connect<S: AsyncRead + Unpin>(
    stream: &mut S,
    max_packet_size: u32,
) -> Option<(Connect, Vec<u8>)> {
    let mut raw = BytesMut::with_capacity(1024);
    loop {
        // The protocol level is not known yet; the decoder reads it from the CONNECT itself.
        let mut decoder = Decoder::new(Protocol::V311, max_packet_size);
        let mut copy = raw.clone();
        match decoder.decode(&mut copy) {
            Ok(Some(Packet::Connect(connect))) => return Some((*connect, raw.to_vec())),
            Ok(None) => {}
            Ok(Some(_)) | Err(_) => return None,
        }
        raw.reserve(1024);
        match stream.read_buf(&mut raw).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}
