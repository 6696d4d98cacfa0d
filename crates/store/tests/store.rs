//! Integration tests of the store through its public API: every registry rule and pagination
//! (`store/registry.rs`), broker durability across reopen, group commit and acknowledged writes
//! surviving `kill -9` (`store/broker.rs`). Schema migrations from every older version are
//! tested in `src/schema.rs`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;

use store::*;

const NOW: i64 = 1_700_000_000_000;
const ACCOUNT: &str = "123456789012";

fn mem() -> Store {
    Store::open_in_memory().unwrap()
}

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn new_thing(name: &str) -> NewThing {
    NewThing {
        name: name.into(),
        thing_type: None,
        attributes: BTreeMap::new(),
    }
}

/// Creates the thing type `name` with no properties.
fn make_type(s: &mut Store, name: &str) {
    let new = NewThingType {
        name: name.into(),
        ..Default::default()
    };
    let mut seed = [0xee; 16];
    for (i, b) in name.bytes().enumerate() {
        seed[i % 16] ^= b.rotate_left(i as u32);
    }
    s.create_thing_type(&new, seed, NOW).unwrap();
}

fn cert_id(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

fn cert_arn(id: &str) -> String {
    format!("arn:aws:iot:us-east-1:{ACCOUNT}:cert/{id}")
}

fn new_cert(n: u8, status: CertificateStatus) -> NewCertificate {
    NewCertificate {
        id: cert_id(n),
        pem: format!("-----BEGIN CERTIFICATE-----\n{n}\n-----END CERTIFICATE-----\n"),
        status,
        ca_certificate_id: None,
        mode: CertificateMode::Default,
        owned_by: ACCOUNT.into(),
        not_before_ms: 0,
        not_after_ms: NOW * 2,
    }
}

fn all_pages<T: Clone>(
    size: usize,
    order: Order,
    mut list: impl FnMut(&PageRequest) -> Result<Page<T>, StoreError>,
) -> (Vec<T>, usize) {
    let mut req = PageRequest {
        token: None,
        size,
        order,
    };
    let mut items = Vec::new();
    let mut pages = 0;
    loop {
        let page = list(&req).unwrap();
        pages += 1;
        assert!(page.items.len() <= size);
        items.extend(page.items.iter().cloned());
        match req.after(&page) {
            Some(next) => req = next,
            None => return (items, pages),
        }
    }
}

// Submodules live in `tests/store/` so that cargo does not build them as test binaries of their
// own; this file stays the crate's one integration test binary.
#[path = "store/broker.rs"]
mod broker;
#[path = "store/registry.rs"]
mod registry;
#[path = "store/thing_groups.rs"]
mod thing_groups;
