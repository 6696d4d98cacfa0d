//! The end-to-end tests of the `tether` binary, one test binary: each module runs the real
//! `tether` against real peers (mosquitto and its clients, the AWS CLI, boto3) on loopback
//! ports, and `support` holds what they share. Waits are for lines, exits or packets with
//! deadlines, never sleeps.

// Helpers outside `#[test]` bodies fail loudly like the tests do: a panic is a test failure with
// the message it carries.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod api;
mod bench;
mod bridge;
mod clock_jump;
mod compat;
mod completions;
mod conformance;
mod connections;
mod console;
mod coverage;
mod device_stacks;
mod disk_full;
mod doctor;
mod ephemeral;
mod events;
mod faults;
mod flash;
mod group_policies;
mod jobs;
mod provisioning;
mod pubsub;
mod qualify;
mod readme;
mod refusals;
mod registry;
mod registry_sync;
mod reliability;
mod revocation;
mod rules;
mod security;
mod serve;
mod shadow;
mod support;
mod testing;
mod websockets;
