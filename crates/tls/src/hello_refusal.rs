//! Refusing a ClientHello with the alert AWS IoT Core sends rather than the one OpenSSL would
//! pick. The server parses each ClientHello itself before OpenSSL sees it (`explain` predicts
//! the refusal from the policy table); when the hello shares no version or no suite with the
//! policy, it marks the connection with [`refuse`], and the client-hello callback that
//! [`crate::context::server_acceptor`] installs aborts the handshake there with the marked
//! alert. It decides nothing itself: which alert a refusal gets is `Refusal::alert`.
//!
//! Why not let OpenSSL answer: for a version it does not allow, OpenSSL sends 70
//! protocol_version (RFC 5246 §E.1, RFC 8446 §4.2.1), but AWS IoT Core answers an ESP8266 NONOS
//! libssl ClientHello (TLS 1.1 at most) with 40 handshake_failure — the device logs
//! `Error: SSL error 40`, which axTLS prints for a received fatal alert 40 (device-side
//! research §0, the field log of issue 22). The callback runs before OpenSSL negotiates the
//! version, so its alert is the only one sent.

use std::sync::OnceLock;

use openssl::error::ErrorStack;
use openssl::ex_data::Index;
use openssl::ssl::{ClientHelloResponse, Ssl, SslAlert, SslRef};

use crate::alert::Alert;

/// The alert to refuse this connection's ClientHello with, when one was marked.
type Slot = Alert;

fn index() -> Option<Index<Ssl, Slot>> {
    static INDEX: OnceLock<Option<Index<Ssl, Slot>>> = OnceLock::new();
    *INDEX.get_or_init(|| Ssl::new_ex_index().ok())
}

/// Marks a server connection so that its handshake is refused at the ClientHello with `alert`.
/// Returns false when OpenSSL had no ex-data slot to spare (the handshake then fails as
/// OpenSSL decides, with its own alert).
pub fn refuse(ssl: &mut SslRef, alert: Alert) -> bool {
    match index() {
        Some(index) => {
            ssl.set_ex_data(index, alert);
            true
        }
        None => false,
    }
}

/// The alert this connection was marked with, if any.
pub fn marked(ssl: &SslRef) -> Option<Alert> {
    ssl.ex_data(index()?).copied()
}

/// The server's client-hello callback: continue, unless [`refuse`] marked the connection.
pub(crate) fn callback(
    ssl: &mut SslRef,
    alert: &mut SslAlert,
) -> Result<ClientHelloResponse, ErrorStack> {
    match marked(ssl) {
        None => Ok(ClientHelloResponse::SUCCESS),
        Some(marked) => {
            *alert = ssl_alert(marked);
            Err(ErrorStack::get())
        }
    }
}

/// OpenSSL's value for the alerts a ClientHello can be refused with; OpenSSL's type has no
/// constructor from a number, so an alert outside this list becomes handshake_failure.
fn ssl_alert(alert: Alert) -> SslAlert {
    match alert.0 {
        47 => SslAlert::ILLEGAL_PARAMETER,
        70 => SslAlert::PROTOCOL_VERSION,
        71 => SslAlert::INSUFFICIENT_SECURITY,
        112 => SslAlert::UNRECOGNIZED_NAME,
        120 => SslAlert::NO_APPLICATION_PROTOCOL,
        _ => SslAlert::HANDSHAKE_FAILURE,
    }
}
