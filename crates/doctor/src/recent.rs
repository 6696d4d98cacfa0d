//! Advice for the refusals `tether serve` records (DATA_DIR/refusals.jsonl) — TLS, registry,
//! policy, limits, protocol — keyed by the refusal's [`RefusalKind`]: what it usually means for
//! a device and the smallest change that fixes it. The match is exhaustive, so a new kind
//! cannot be recorded without advice. It does not read the log (the CLI does, through the
//! `refusals` crate) and knows nothing of the server runtime.

use refusals::RefusalKind;

/// Why a refusal of this kind happens and what to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advice {
    /// What this kind of refusal means.
    pub why: &'static str,
    /// The usual fix.
    pub fix: &'static str,
}

/// The advice for a refusal kind.
pub fn advice(kind: RefusalKind) -> Advice {
    match kind {
        RefusalKind::Version => Advice {
            why: "the client offered no TLS version the listener's security policy allows; AWS IoT allows TLS 1.2 and 1.3 only, so TLS 1.0/1.1 stacks (ESP8266 NONOS libssl, old axTLS) are refused at the first flight",
            fix: "give the device a TLS 1.2 stack (ESP8266 NONOS: link -lmbedtls instead of -lssl, SDK ≥ 2.2.0; Arduino: core ≥ 2.5 BearSSL); a TLS 1.3-only device needs a policy that allows TLS 1.3 (IoTSecurityPolicy_TLS13_1_2_2022_10)",
        },
        RefusalKind::Cipher => Advice {
            why: "the TLS versions overlap but no cipher suite the client offered is allowed by the listener's security policy",
            fix: "compare the client's suites (shown as offered) with the policy; RSA-only stacks need a policy with static-RSA suites (AES128-SHA, AES256-SHA: IoTSecurityPolicy_TLS13_1_2_2022_10 has them); otherwise enable ECDHE suites on the device",
        },
        RefusalKind::Sni => Advice {
            why: "the client sent no server name (SNI) or another name than the endpoint's, and this listener requires it",
            fix: "send SNI with the exact endpoint host name (mbedtls_ssl_set_hostname, setServerName); stacks that cannot (ESP8266 NONOS) need an endpoint that does not require SNI",
        },
        RefusalKind::Alpn => Advice {
            why: "on the port-443 listener the protocol is chosen by ALPN; the client offered none or not x-amzn-mqtt-ca (without ALPN the port expects HTTP: WebSockets or HTTPS)",
            fix: "offer ALPN x-amzn-mqtt-ca (mosquitto --tls-alpn x-amzn-mqtt-ca), or mqtt for a custom authorizer, or connect to the 8883 listener, which needs no ALPN",
        },
        RefusalKind::ClientCertificate => Advice {
            why: "the listener requires mutual TLS and the client sent no certificate (or one it could not use)",
            fix: "load the device certificate and private key before connecting (mosquitto --cert/--key; on ESP8266 check the flash sector and record names certificate/private_key)",
        },
        RefusalKind::ServerCertificateRejected => Advice {
            why: "the client refused the server's certificate: it does not trust tether's CA, or the host name it connected to is not in the certificate, or its clock is wrong",
            fix: "give the client the data dir's ca/root-ca.pem as its CA file; connect to localhost, 127.0.0.1 or a name passed to tether serve --hostname; set the device clock",
        },
        RefusalKind::NotTls => Advice {
            why: "the client spoke something other than TLS to the TLS listener, usually plain MQTT",
            fix: "enable TLS on the client (mosquitto --cafile ..., or the SDK's secure connect), or use the plain --mqtt listener with --profile mqtt",
        },
        RefusalKind::Timeout => Advice {
            why: "the client did not finish the TLS handshake in time; slow devices doing RSA-2048 or ECDHE without hardware acceleration take seconds, and a stalled device takes forever",
            fix: "run the device at 160 MHz, check free heap during the handshake, and keep connections alive instead of reconnecting",
        },
        RefusalKind::Closed => Advice {
            why: "the client closed the connection during the handshake without an alert; devices do this when they reject the server certificate silently or run out of memory",
            fix: "check the device log (tether doctor explain) for a certificate-verification or memory error; check the CA the device trusts",
        },
        RefusalKind::NotRegistered => Advice {
            why: "the TLS handshake succeeded but the client certificate's id is not in the registry; AWS IoT closes such connections",
            fix: "register the certificate (aws iot register-certificate-without-ca --status ACTIVE against tether serve's API) and attach a policy",
        },
        RefusalKind::NotActive => Advice {
            why: "the certificate is registered but not ACTIVE (INACTIVE, REVOKED, PENDING_*); only ACTIVE certificates connect",
            fix: "aws iot update-certificate --certificate-id ID --new-status ACTIVE",
        },
        RefusalKind::CertificateExpired => Advice {
            why: "the client certificate's validity period ended (notAfter has passed); tether refuses it at the TLS handshake with alert 45 certificate_expired whether or not it is registered, and closes a connection whose certificate expires while it is connected (AWS IoT's own behaviour for an expired ACTIVE certificate is not documented)",
            fix: "give the device a new certificate and key (tether device create NAME --policy …, or aws iot create-keys-and-certificate --set-as-active and attach-policy) and retire the old one; if the certificate should still be valid, check this machine's clock (date -u)",
        },
        RefusalKind::CertificateNotYetValid => Advice {
            why: "the client certificate's validity period has not begun (notBefore is in the future): it was issued with a future start, or the clock of this machine is behind the issuer's; tether refuses it at the TLS handshake with alert 42 bad_certificate",
            fix: "check this machine's clock (date -u; enable NTP); otherwise reissue the certificate with a notBefore in the past (openssl x509 -startdate shows it)",
        },
        RefusalKind::Registry => Advice {
            why: "the server could not read its registry to check the client certificate, so it refused the connection rather than guess",
            fix: "check tether serve's log for the database error (disk full, permissions on DATA_DIR/tether.db, another process holding a lock) and retry",
        },
        RefusalKind::Policy => Advice {
            why: "the TLS connection and the certificate were fine, but the AWS IoT policies attached to the certificate do not allow this CONNECT, PUBLISH or SUBSCRIBE: a Deny statement matched, or no Allow statement covers the action and resource (a client id other than the one the policy names, a topic outside its resources). AWS IoT refuses a CONNECT with CONNACK 5 (MQTT 5: 0x87), closes an MQTT 3.1.1 connection on a forbidden PUBLISH or SUBSCRIBE, and answers MQTT 5 with reason 0x87",
            fix: "compare the action and resource above with the policy's statements (aws iot get-policy --policy-name NAME against tether serve's API); widen the Allow (the resource must be the ARN shown, topicfilter/ for iot:Subscribe, client/ for iot:Connect), or use the client id and topics the policy grants",
        },
        RefusalKind::NoPolicy => Advice {
            why: "the certificate is registered and ACTIVE but has no policy attached, and AWS IoT allows nothing without one: every CONNECT is refused (CONNACK 5, MQTT 5: 0x87)",
            fix: "attach a policy to the certificate: tether device attach-policy THING --policy tether-dev-allow-all (development), or aws iot attach-policy --policy-name NAME --target CERTIFICATE_ARN",
        },
        RefusalKind::Limit => Advice {
            why: "the request broke a limit of the broker's profile, named above: under the aws profile those are AWS IoT Core's (128 KB payloads, 132 KB packets, QoS 0 and 1 only, topics of at most 256 bytes and 7 slashes, client ids of at most 128 bytes, 8 filters per SUBSCRIBE, 50 subscriptions per session...). AWS closes an MQTT 3.1.1 connection for most of them without a word; MQTT 5 clients get the reason code",
            fix: "stay within the limit (split large payloads, publish at QoS 1, shorten topics); for a broker without AWS's limits run tether serve --profile mqtt; --max-packet-size raises the packet limit locally",
        },
        RefusalKind::Protocol => Advice {
            why: "the client broke the MQTT protocol (a malformed or unexpected packet, no CONNECT soon after connecting, an unsupported authentication method), and the connection was closed as MQTT requires",
            fix: "read the rule named above (MQTT spec references in brackets); check the client library's MQTT version setting (-V) and that it sends CONNECT first; tether doctor probe --mqtt-version 3.1.1|5 shows a working exchange",
        },
        RefusalKind::NotWebsocket => Advice {
            why: "the client reached the WebSocket endpoint but did not ask for MQTT over WebSockets: another path than /mqtt, no Upgrade: websocket, or no Sec-WebSocket-Protocol: mqtt",
            fix: "connect to wss://HOST:PORT/mqtt with the subprotocol mqtt (MQTT.js, the AWS IoT Device SDKs and Paho do this); MQTT over TLS belongs on the 443 port with ALPN x-amzn-mqtt-ca or mqtt",
        },
        RefusalKind::MissingCredentials => Advice {
            why: "the WebSocket upgrade carried no SigV4 query signature and no custom-authorizer credentials, and no default authorizer is set",
            fix: "presign the URL with SigV4 (X-Amz-Algorithm … X-Amz-Signature, service iotdevicegateway), or send x-amz-customauthorizer-name and the token, or set a default authorizer (aws iot set-default-authorizer)",
        },
        RefusalKind::SignatureIncomplete => Advice {
            why: "the presigned URL lacks one of X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders, X-Amz-Signature, or one cannot be read",
            fix: "sign with an AWS SDK or the AWS IoT Device SDK's websocket builder; hand-made URLs must carry every X-Amz-* parameter, URI-encoded, with the credential scoped to service iotdevicegateway",
        },
        RefusalKind::SignatureExpired => Advice {
            why: "the signature is past X-Amz-Date + X-Amz-Expires, or dated more than 15 minutes from the server's clock: the reason gives the clock skew in seconds",
            fix: "presign a new URL just before connecting and set the client's clock (NTP); a device without a clock cannot sign",
        },
        RefusalKind::SignatureMismatch => Advice {
            why: "the signature was computed with another secret, host, path or query than the server sees",
            fix: "check the secret key of the access key, sign the exact host:port the client connects to and the path /mqtt, and append X-Amz-Security-Token after signing, not before",
        },
        RefusalKind::UnknownAccessKey => Advice {
            why: "the access key is not configured on this tether (the development key test works only on loopback listeners)",
            fix: "configure the credential (api-credentials in the config file, with an iam-policies entry), or connect over loopback with test/test",
        },
        RefusalKind::AuthorizerTokenMissing => Advice {
            why: "the authorizer has token signing enabled and the client sent no token under its tokenKeyName, or no x-amz-customauthorizer-signature",
            fix: "send the token under the authorizer's tokenKeyName (header, query parameter or MQTT user-name parameter) with its signature, or create the authorizer with --signing-disabled",
        },
        RefusalKind::AuthorizerTokenSignature => Advice {
            why: "the token's signature does not verify with any of the authorizer's tokenSigningPublicKeys",
            fix: "sign the token with the private key of a configured public key: echo -n TOKEN | openssl dgst -sha256 -sign key.pem | openssl base64 -A",
        },
        RefusalKind::AuthorizerDenied => Advice {
            why: "the authorizer's function answered isAuthenticated: false",
            fix: "check the credentials the client sends against what the function expects (aws iot test-invoke-authorizer shows its answer)",
        },
        RefusalKind::AuthorizerTimeout => Advice {
            why: "the authorizer's function did not answer within the time limit (AWS allows 5 seconds)",
            fix: "make the function answer faster, or check that its URL or command is reachable (tether serve's authorizer-functions)",
        },
        RefusalKind::AuthorizerFailed => Advice {
            why: "the authorizer is unknown or INACTIVE, its function could not be called, or its answer is not what AWS IoT expects",
            fix: "check aws iot describe-authorizer, the function's entry in authorizer-functions, and its answer (isAuthenticated, principalId of 1-128 letters and digits, policyDocuments, times of 300-86400 s) with aws iot test-invoke-authorizer",
        },
        RefusalKind::UpstreamTls => Advice {
            why: "the bridge and its upstream broker could not agree on TLS: the upstream refused the bridge's certificate (not registered there, or from a CA it does not know), or the bridge does not trust the upstream's certificate (wrong cafile, or an address that is not in the certificate)",
            fix: "give the bridge the upstream's root CA as cafile (AmazonRootCA1.pem for AWS IoT Core) and the certificate and key registered upstream as cert and key; use the endpoint host name from aws iot describe-endpoint --endpoint-type iot:Data-ATS in address, not an IP address",
        },
        RefusalKind::UpstreamRefused => Advice {
            why: "the upstream broker refused the bridge's CONNECT or disconnected it with the reason shown: on AWS IoT Core 0x87 Not authorized means the policy attached to the bridge's certificate does not allow iot:Connect for its client id (or iot:Publish/iot:Subscribe on a bridged topic), 0x85 a client id AWS does not accept",
            fix: "attach a policy to the bridge's certificate upstream that allows iot:Connect on client/CLIENT-ID and iot:Publish, iot:Subscribe, iot:Receive on the bridged topics (remote prefix included); keep client-id within 128 bytes, not starting with $, and used by nothing else",
        },
        RefusalKind::UpstreamClosed => Advice {
            why: "the upstream broker closed the bridge's connection without a reason: AWS IoT Core does this for a certificate that is not registered or not ACTIVE, and over MQTT 3.1.1 for a SUBSCRIBE or PUBLISH its policy does not allow; another client with the bridge's client id also takes the connection away",
            fix: "register and activate the bridge's certificate upstream (aws iot register-certificate ... --set-as-active), check its policy against the topics named above, give the bridge a client id of its own, or use protocol = \"5\" so the upstream says why",
        },
        RefusalKind::Other | RefusalKind::Unknown => Advice {
            why: "the server refused the connection for a reason without specific advice",
            fix: "read the reason; run tether doctor probe with the device's credentials and --profile to reproduce it",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recorded_kind_has_specific_advice() {
        let generic = advice(RefusalKind::Other);
        for kind in RefusalKind::ALL {
            let a = advice(kind);
            if !matches!(kind, RefusalKind::Other | RefusalKind::Unknown) {
                assert_ne!(a, generic, "{kind}");
            }
            assert!(!a.why.is_empty() && !a.fix.is_empty(), "{kind}");
        }
        assert!(advice(RefusalKind::Version).fix.contains("-lmbedtls"));
        assert!(advice(RefusalKind::Alpn).fix.contains("x-amzn-mqtt-ca"));
    }
}
