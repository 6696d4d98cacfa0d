//! The Device Shadow service's document limits, with AWS's values as defaults. It does not
//! hold rate or in-flight limits (429), which belong to whoever counts requests.

/// Limits on update requests and on the stored document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Nesting levels allowed in `desired` and in `reported`, counted separately: the section
    /// object is level 1 and each object or array inside adds one. Default 6, the number in
    /// AWS's message `JSON contains too many levels of nesting; maximum is 6`
    /// (device-shadow-error-messages.md). The old quota page said 5 levels and a newer one
    /// reportedly 8, so this is configurable; counting from the section object follows
    /// AWS's own local implementation (aws-greengrass-shadow-manager).
    pub max_depth: usize,
    /// Bytes allowed in the merged document's state: the compact JSON text of
    /// `{"desired":…,"reported":…}` as stored after the update, metadata excluded
    /// ("Metadata do not contribute to the document size", device-shadow-document.md).
    /// Default 8192 (AWS's 8 KB quota).
    pub max_state_bytes: usize,
    /// Bytes allowed in `clientToken`. Default 64 ("The client token can be no longer than 64
    /// bytes", device-shadow-document.md).
    pub max_client_token_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: 6,
            max_state_bytes: 8192,
            max_client_token_bytes: 64,
        }
    }
}
