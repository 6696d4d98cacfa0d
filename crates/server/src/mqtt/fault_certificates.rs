//! The alternate server certificates a fault plan makes the mutual-TLS listeners present to a
//! peer address (`crate::faults::ServerCertificate`): the ones `tether qualify` presents, made
//! by its certs.rs from the data directory's CA and server keys the first time a plan asks for
//! one, and made again when they are half a day old (the valid ones are issued for a day, and
//! only the one property under test may differ). The listener's policy and ALPN are kept. It
//! does not choose who gets an alternate: `crate::faults` does, by peer address.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use pki::CertificateAuthority;
use tls::context::{ClientAuth, ServerOptions, server_acceptor};

use super::handshake::TlsEdge;
use crate::bootstrap::Identity;
use crate::faults::ServerCertificate;
use crate::qualify::certs::Alternates;

/// Seconds after which the alternates are issued again.
const REISSUE_AFTER: i64 = 12 * 3600;

/// What the alternates are made from, and the last ones made.
pub(crate) struct FaultCertificates {
    ca: CertificateAuthority,
    servers: [Identity; 2],
    made: Mutex<Option<(i64, Arc<Alternates>)>>,
}

impl std::fmt::Debug for FaultCertificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultCertificates").finish_non_exhaustive()
    }
}

impl FaultCertificates {
    /// Alternates of `servers` (RSA and ECDSA) from `ca`, made when first asked for.
    pub fn new(ca: CertificateAuthority, servers: [Identity; 2]) -> FaultCertificates {
        FaultCertificates {
            ca,
            servers,
            made: Mutex::new(None),
        }
    }

    /// `base` presenting the `kind` alternate instead of its certificates.
    pub fn edge(&self, base: &TlsEdge, kind: ServerCertificate) -> Result<TlsEdge, String> {
        let alternates = self.alternates()?;
        let options = ServerOptions {
            policy: base.listener.policy,
            port: base.listener.port,
            identities: alternates.identities(kind).to_vec(),
            client_auth: ClientAuth::Require,
            alpn: base.listener.required_alpn.clone(),
            alpn_required: !base.listener.required_alpn.is_empty(),
        };
        let acceptor = server_acceptor(&options).map_err(|e| e.to_string())?;
        Ok(TlsEdge {
            acceptor,
            listener: base.listener.clone(),
            timeout: base.timeout,
            fault_certificates: None,
        })
    }

    fn alternates(&self) -> Result<Arc<Alternates>, String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let mut made = self.made.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, alternates)) = made.as_ref()
            && now.saturating_sub(*at) < REISSUE_AFTER
        {
            return Ok(Arc::clone(alternates));
        }
        let [rsa, ec] = &self.servers;
        let alternates =
            Arc::new(Alternates::issue(&self.ca, [rsa, ec], now).map_err(|e| e.to_string())?);
        *made = Some((now, Arc::clone(&alternates)));
        Ok(alternates)
    }
}
