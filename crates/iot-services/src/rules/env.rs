//! The rules engine's side of IoT SQL's [`Environment`]: `newuuid()` and `rand()` from the
//! engine's generator (SplitMix64, seeded by the server from the OS's random source at start),
//! and `get_thing_shadow()` from the Device Shadow service in the same store transaction, as
//! GetThingShadow answers it. No clock and no IO of its own.

use std::cell::Cell;

use iot_sql::{Environment, ShadowRequest};
use serde_json::Value;
use store::ServiceTx;

use crate::shadow::{self, ShadowId};

/// The environment of one evaluation.
pub(super) struct RuleEnv<'a> {
    tx: Option<&'a ServiceTx<'a>>,
    rng: &'a Cell<u64>,
    now_ms: i64,
}

impl<'a> RuleEnv<'a> {
    pub(super) fn new(tx: &'a ServiceTx<'a>, rng: &'a Cell<u64>, now_ms: i64) -> RuleEnv<'a> {
        RuleEnv {
            tx: Some(tx),
            rng,
            now_ms,
        }
    }
}

/// The next number of a SplitMix64 generator.
pub(super) fn next(rng: &Cell<u64>) -> u64 {
    let state = rng.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
    rng.set(state);
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A random UUID in the version 4 layout.
pub(super) fn uuid(rng: &Cell<u64>) -> String {
    let hi = next(rng);
    let lo = next(rng);
    let time_hi = ((hi & 0x0fff) | 0x4000) as u16;
    let clock = (((lo >> 48) & 0x3fff) | 0x8000) as u16;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        time_hi,
        clock,
        lo & 0xffff_ffff_ffff
    )
}

impl Environment for RuleEnv<'_> {
    fn new_uuid(&self) -> String {
        uuid(self.rng)
    }

    fn random(&self) -> f64 {
        // 53 random bits make a uniformly distributed double in [0, 1).
        #[allow(clippy::cast_precision_loss)]
        let r = (next(self.rng) >> 11) as f64 / (1u64 << 53) as f64;
        r
    }

    fn thing_shadow(&self, request: &ShadowRequest<'_>) -> Result<Option<Value>, String> {
        let Some(tx) = self.tx else {
            return Ok(None);
        };
        let id = ShadowId {
            thing: request.thing.to_owned(),
            name: request.shadow.map(str::to_owned),
        };
        match shadow::get(tx, &id, None, self.now_ms) {
            Ok(document) => Ok(Some(document)),
            Err(e) if e.code == 404 => Ok(None),
            Err(e) => Err(format!("{} {}", e.code, e.message)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_have_the_version_4_layout_and_differ() {
        let rng = Cell::new(1);
        let a = uuid(&rng);
        let b = uuid(&rng);
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4');
        assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "{a}");
    }
}
