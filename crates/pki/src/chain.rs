//! Chain checks: does a certificate verify up to one of the given trust anchors (optionally via
//! intermediates), judged by OpenSSL at the current time. It does not fetch missing issuers and
//! does not check revocation or host names.

use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{X509, X509Ref, X509StoreContext};

use crate::error::{PkiError, Result, crypto};

/// Verifies `leaf` against `roots`, using `intermediates` to build the path. Returns
/// `Ok(())` when it verifies and an error carrying OpenSSL's reason (e.g. "unable to get local
/// issuer certificate", "certificate has expired") when it does not.
pub fn verify_chain(leaf: &X509Ref, intermediates: &[X509], roots: &[X509]) -> Result<()> {
    let fail = || crypto("setting up certificate verification");
    let mut store = X509StoreBuilder::new().map_err(fail())?;
    for root in roots {
        store.add_cert(root.clone()).map_err(fail())?;
    }
    let store = store.build();
    let mut chain = Stack::new().map_err(fail())?;
    for cert in intermediates {
        chain.push(cert.clone()).map_err(fail())?;
    }
    let mut context = X509StoreContext::new().map_err(fail())?;
    let (ok, reason) = context
        .init(&store, leaf, &chain, |ctx| {
            let ok = ctx.verify_cert()?;
            Ok((ok, ctx.error().error_string()))
        })
        .map_err(crypto("verifying a certificate chain"))?;
    if ok {
        Ok(())
    } else {
        Err(PkiError::Unsupported(format!(
            "the certificate does not verify against the given CA: {reason}"
        )))
    }
}
