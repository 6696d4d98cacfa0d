//! The crate's errors. [`SigV4Error`] is a refusal of an incoming request: every variant is the
//! caller's fault, carries the text a client sees, and names the AWS exception it answers with.
//! [`SigningError`] is local misuse when signing. Neither decides how an answer is shaped on the
//! wire; the API that uses the verifier does that.

use http::StatusCode;

use crate::ALGORITHM;
use crate::verify::MAX_TARGET_LEN;

/// AWS's words for a signature that does not match.
const MISMATCH: &str = "The request signature we calculated does not match the signature you \
     provided. Check your AWS Secret Access Key and signing method. Consult the service \
     documentation for details.";

/// Why a request's SigV4 signature was refused. The `Display` text is the message sent to the
/// client; [`exception`](SigV4Error::exception) is the AWS exception name that goes with it.
/// More variants may come (SigV4a), so matches need a wildcard arm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigV4Error {
    /// The request target is not an origin-form path of a sane length, so it cannot be a
    /// signed request.
    #[error(
        "the request target is not a path of at most {max} bytes; send requests to \
         http://HOST:PORT/...",
        max = MAX_TARGET_LEN
    )]
    BadTarget,
    /// The request carries no `Authorization` header and no query-string signature.
    #[error(
        "Missing Authentication Token: sign requests with SigV4 (the AWS CLI and SDKs do this \
         when credentials are configured)"
    )]
    MissingAuthentication,
    /// A presigned URL lacks one of the `X-Amz-*` query parameters SigV4 needs.
    #[error(
        "AWS query-string parameters must include '{name}'. Re-examine the query-string \
         parameters."
    )]
    QueryParameterMissing {
        /// The missing parameter.
        name: &'static str,
    },
    /// A presigned URL's query string cannot be read: a bad percent-escape, or an `X-Amz-*`
    /// parameter given twice.
    #[error("the query parameter {parameter:?} is malformed or repeated; presign the URL again")]
    MalformedQuery {
        /// The parameter (at most 64 characters of it).
        parameter: String,
    },
    /// `X-Amz-Expires` is not a number of seconds from 1 to 604800 (seven days).
    #[error(
        "X-Amz-Expires must be a whole number of seconds from 1 to 604800 (a week); got \
         {value:?}"
    )]
    BadExpires {
        /// The parameter's value.
        value: String,
    },
    /// A presigned URL is past its `X-Amz-Date` plus `X-Amz-Expires`.
    #[error(
        "Signature expired: {date} + {expires} s is now earlier than {now}; the URL was \
         signed {age_secs} s ago: presign a new one, or check the client's clock"
    )]
    PresignedUrlExpired {
        /// The URL's `X-Amz-Date`.
        date: String,
        /// Its `X-Amz-Expires`.
        expires: u64,
        /// The server's time.
        now: String,
        /// How long ago it was signed, by the server's clock.
        age_secs: u64,
    },
    /// A signature dated more than 15 minutes after the server's time.
    #[error(
        "Signature not yet current: {date} is still later than {limit} ({now} + 15 min.); the \
         client's clock is {skew_secs} s ahead of the server's: set it right"
    )]
    SignatureNotYetCurrent {
        /// The request's `X-Amz-Date`.
        date: String,
        /// The latest date accepted now.
        limit: String,
        /// The server's time.
        now: String,
        /// How far ahead the signing date is.
        skew_secs: u64,
    },
    /// The `Authorization` header is not printable ASCII.
    #[error("the Authorization header is not printable ASCII")]
    AuthorizationNotAscii,
    /// The `Authorization` header names another scheme than `AWS4-HMAC-SHA256`.
    #[error("Authorization header must use {ALGORITHM} (SigV4); got {got:?}")]
    WrongAlgorithm {
        /// The scheme the header names (its first word).
        got: String,
    },
    /// The `Authorization` header lacks `Credential`, `SignedHeaders` or `Signature`.
    #[error("Authorization header requires '{name}' parameter")]
    MissingParameter {
        /// The missing parameter's name.
        name: &'static str,
    },
    /// The credential is not `AKID/yyyymmdd/region/service/aws4_request`.
    #[error("Credential {credential:?} must be AKID/yyyymmdd/region/service/aws4_request")]
    MalformedCredential {
        /// The credential as given.
        credential: String,
    },
    /// `host` is not among the signed headers.
    #[error("SignedHeaders must include host")]
    HostNotSigned,
    /// The credential is scoped to a service other than those in
    /// [`SIGNING_NAMES`](crate::SIGNING_NAMES).
    #[error(
        "Credential should be scoped to correct service: 'iot' (or 'iotdata' / \
         'iotdevicegateway' for the data plane, 'iot-jobs-data' for the Jobs device plane), not \
         '{service}'"
    )]
    WrongService {
        /// The service of the credential scope.
        service: String,
    },
    /// The request has no `Host` header, which SigV4 always signs.
    #[error("the request has no Host header; SigV4 signs it")]
    MissingHost,
    /// The access key id is neither configured nor the accepted development credential.
    #[error(
        "The security token included in the request is invalid: access key {access_key_id} is \
         not configured on this tether"
    )]
    UnrecognizedAccessKey {
        /// The access key id of the credential scope.
        access_key_id: String,
    },
    /// The development credential was used while the API listens on a non-loopback address.
    #[error(
        "The security token included in the request is invalid: the development credential \
         'test' is accepted only while the API listens on a loopback address; configure API \
         credentials for a non-loopback --api address"
    )]
    DevCredentialOffLoopback,
    /// A header the verifier reads (`x-amz-date`) is not printable ASCII.
    #[error("header {name} is not printable ASCII")]
    HeaderNotAscii {
        /// The header's name.
        name: &'static str,
    },
    /// The request has no `X-Amz-Date` header.
    #[error("the request has no X-Amz-Date header; SigV4 requests must carry one")]
    MissingDate,
    /// `X-Amz-Date` is not in the basic ISO 8601 form SigV4 uses.
    #[error("X-Amz-Date {date:?} is not in the form 20240131T235959Z")]
    MalformedDate {
        /// The header's value.
        date: String,
    },
    /// The request was signed more than 15 minutes away from the verifier's clock.
    #[error(
        "Signature expired: {date} is more than 15 minutes away from the server's time; check \
         the client's clock"
    )]
    SignatureExpired {
        /// The request's `X-Amz-Date`.
        date: String,
    },
    /// A header the client signed is not printable ASCII.
    #[error("signed header {name} is not printable ASCII")]
    SignedHeaderNotAscii {
        /// The header's name.
        name: String,
    },
    /// The signature could not even be recomputed from what the client sent (the signing
    /// library refused the request's parts).
    #[error("{MISMATCH} ({cause})")]
    Unverifiable {
        /// The signing library's words.
        cause: String,
    },
    /// The signature does not match the one computed with the secret we hold.
    #[error("{MISMATCH}")]
    SignatureMismatch,
}

impl SigV4Error {
    /// The AWS exception name that answers this refusal, as sent in `x-amzn-ErrorType`:
    /// `MissingAuthenticationTokenException` for an unsigned request,
    /// `IncompleteSignatureException` for a signature that lacks a part or cannot be read,
    /// `UnrecognizedClientException` for an unknown access key, and
    /// `InvalidSignatureException` for one that is complete but wrong or out of date.
    pub fn exception(&self) -> &'static str {
        match self {
            SigV4Error::MissingAuthentication => "MissingAuthenticationTokenException",
            SigV4Error::BadTarget
            | SigV4Error::QueryParameterMissing { .. }
            | SigV4Error::MalformedQuery { .. }
            | SigV4Error::BadExpires { .. }
            | SigV4Error::AuthorizationNotAscii
            | SigV4Error::WrongAlgorithm { .. }
            | SigV4Error::MissingParameter { .. }
            | SigV4Error::MalformedCredential { .. }
            | SigV4Error::MissingHost
            | SigV4Error::HeaderNotAscii { .. }
            | SigV4Error::MissingDate
            | SigV4Error::MalformedDate { .. } => "IncompleteSignatureException",
            SigV4Error::UnrecognizedAccessKey { .. } | SigV4Error::DevCredentialOffLoopback => {
                "UnrecognizedClientException"
            }
            SigV4Error::HostNotSigned
            | SigV4Error::WrongService { .. }
            | SigV4Error::SignatureExpired { .. }
            | SigV4Error::PresignedUrlExpired { .. }
            | SigV4Error::SignatureNotYetCurrent { .. }
            | SigV4Error::SignedHeaderNotAscii { .. }
            | SigV4Error::Unverifiable { .. }
            | SigV4Error::SignatureMismatch => "InvalidSignatureException",
        }
    }

    /// The HTTP status of the answer: 403 Forbidden for every refusal, as AWS IoT answers them.
    pub fn status(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }
}

/// A request that cannot be signed: the caller passed something the signing library refuses
/// (an empty region or signing name, a header value that is not valid in HTTP). The text is the
/// signing library's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SigningError(pub(crate) String);
