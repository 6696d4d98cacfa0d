//! Token signatures of custom authorizers with signing enabled, as AWS IoT checks them
//! ("Signing the token" in the developer guide): the base64 RSA signature of the token's bytes
//! with SHA-256 (`openssl dgst -sha256 -sign`), verified with any of the authorizer's
//! `tokenSigningPublicKeys` (PEM public keys of at least 2048 bits, checked when the authorizer
//! is created). It does not find the token in a request.

use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::sign::Verifier;

/// AWS requires token signing keys of at least this many bits.
pub const MIN_KEY_BITS: u32 = 2048;

/// Parses a token signing key (PEM `PUBLIC KEY`), refusing keys AWS refuses.
pub fn parse_key(name: &str, pem: &str) -> Result<PKey<Public>, String> {
    let key = PKey::public_key_from_pem(pem.as_bytes()).map_err(|_| {
        format!(
            "tokenSigningPublicKeys.{name} is not a PEM public key (-----BEGIN PUBLIC KEY-----)"
        )
    })?;
    if key.rsa().is_err() {
        return Err(format!("tokenSigningPublicKeys.{name} is not an RSA key"));
    }
    if key.bits() < MIN_KEY_BITS {
        return Err(format!(
            "tokenSigningPublicKeys.{name} has {} bits; AWS IoT requires at least {MIN_KEY_BITS}",
            key.bits()
        ));
    }
    Ok(key)
}

/// Whether `signature` (base64; URL-encoded forms already decoded by the caller) signs `token`
/// under one of `keys` (name and PEM).
pub fn verify<'k>(
    keys: impl IntoIterator<Item = (&'k String, &'k String)>,
    token: &str,
    signature: &str,
) -> bool {
    let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    keys.into_iter().any(|(name, pem)| {
        let Ok(key) = parse_key(name, pem) else {
            return false;
        };
        Verifier::new(MessageDigest::sha256(), &key)
            .and_then(|mut v| {
                v.update(token.as_bytes())?;
                v.verify(&signature)
            })
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use openssl::rsa::Rsa;
    use openssl::sign::Signer;

    use super::*;

    #[test]
    fn a_token_signed_with_the_private_key_verifies_and_others_do_not() {
        let private = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let pem = String::from_utf8(private.public_key_to_pem().unwrap()).unwrap();
        let keys = BTreeMap::from([("k1".to_owned(), pem)]);
        let mut signer = Signer::new(MessageDigest::sha256(), &private).unwrap();
        signer.update(b"allow-me").unwrap();
        let signature =
            base64::engine::general_purpose::STANDARD.encode(signer.sign_to_vec().unwrap());
        assert!(verify(&keys, "allow-me", &signature));
        assert!(!verify(&keys, "another", &signature));
        assert!(!verify(&keys, "allow-me", "bm90IGEgc2lnbmF0dXJl"));
        assert!(!verify(&keys, "allow-me", "%%%"));
        let small = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
        let small = String::from_utf8(small.public_key_to_pem().unwrap()).unwrap();
        assert!(parse_key("k", &small).unwrap_err().contains("2048"));
        assert!(parse_key("k", "nope").unwrap_err().contains("PEM"));
    }
}
