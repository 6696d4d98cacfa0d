//! Test helpers shared by tether's integration tests: the packet notation used by the broker
//! conformance sequences (`notation`), loading those sequences (`conformance`), and a runner that
//! plays them against a broker over plain TCP (`runner`). It starts no broker itself.

pub mod conformance;
pub mod notation;
pub mod process;
pub mod runner;
