//! The integration tests of `mqtt-proto`, one binary: the codec through the public API
//! (`codec.rs` and `codec/`: annotated fixtures, malformed input, round trips, fuzz corpora) and
//! deterministic simulations of the session state machines against scripted peers (`session.rs`
//! and `session/`). Unit tests stay next to the code they test.

// Test helpers outside `#[test]` functions fail loudly on purpose: a panic is a test failure with
// the message it carries, and clippy.toml's test allowances only cover the test functions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod codec;
mod session;
