//! HTTPS for the API client, on OpenSSL like every other TLS connection of tether
//! (ARCHITECTURE.md): a ureq connector that wraps the TCP transport of an `https://` URL in an
//! OpenSSL client stream verifying the server against the system's trust store, with SNI. It is
//! what lets `--endpoint-url https://iot.REGION.amazonaws.com` reach AWS; plain `http://` to a
//! local tether passes through untouched. It does no client certificates and no proxying.

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;

use openssl::ssl::{HandshakeError, SslConnector, SslMethod, SslStream, SslVerifyMode};
use openssl::x509::X509VerifyResult;
use ureq::Error;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

/// The CA bundles Debian, Fedora and Alpine keep, tried when OpenSSL's own default paths
/// (the vendored build's, or `SSL_CERT_FILE`/`SSL_CERT_DIR`) hold nothing.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// Wraps `https://` connections in OpenSSL.
#[derive(Debug)]
pub struct OpensslConnector {
    connector: SslConnector,
}

impl OpensslConnector {
    /// A connector trusting the system's CA bundle.
    pub fn new() -> Result<OpensslConnector, openssl::error::ErrorStack> {
        let mut builder = SslConnector::builder(SslMethod::tls_client())?;
        builder.set_verify(SslVerifyMode::PEER);
        builder.set_default_verify_paths()?;
        let from_env = std::env::var_os("SSL_CERT_FILE").is_some();
        if !from_env && let Some(bundle) = SYSTEM_BUNDLES.iter().find(|p| Path::new(p).exists()) {
            // A bundle that does not load leaves the default paths, and the handshake's
            // verification error then names the problem.
            let _ = builder.set_ca_file(bundle);
        }
        Ok(OpensslConnector {
            connector: builder.build(),
        })
    }
}

fn io_error(what: &str, e: impl fmt::Display) -> Error {
    Error::Io(std::io::Error::other(format!("{what}: {e}")))
}

/// What went wrong in a handshake, with the certificate verification result when that failed.
fn handshake_error(e: HandshakeError<TransportAdapter>) -> String {
    match e {
        HandshakeError::SetupFailure(stack) => stack.to_string(),
        HandshakeError::Failure(mid) | HandshakeError::WouldBlock(mid) => {
            let verify = mid.ssl().verify_result();
            if verify == X509VerifyResult::OK {
                mid.error().to_string()
            } else {
                format!(
                    "the server's certificate does not verify ({}); set SSL_CERT_FILE to a CA \
                     bundle that holds its issuer",
                    verify.error_string()
                )
            }
        }
    }
}

impl<In: Transport> Connector<In> for OpensslConnector {
    type Out = Either<In, OpensslTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details
            .uri
            .host()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
            .ok_or_else(|| io_error("https", "the URL has no host"))?
            .to_owned();
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        let stream = self
            .connector
            .connect(&host, sock)
            .map_err(|e| io_error(&format!("TLS handshake with {host}"), handshake_error(e)))?;
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(OpensslTransport { buffers, stream })))
    }
}

/// An HTTP/1.1 transport over an OpenSSL stream.
pub struct OpensslTransport {
    buffers: LazyBuffers,
    stream: SslStream<TransportAdapter>,
}

impl fmt::Debug for OpensslTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpensslTransport").finish_non_exhaustive()
    }
}

impl Transport for OpensslTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = self
            .buffers
            .output()
            .get(..amount)
            .ok_or_else(|| io_error("https", "output beyond the buffer"))?;
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}
