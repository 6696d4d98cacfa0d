//! On-device credential formats for tether: ESP8266 NONOS certificate sector images (build and
//! inspect), ESP8266 flash maps with placement checks, and source/file outputs for Arduino
//! (BearSSL), ESP-IDF, plain C, raw DER and MicroPython. Pure: no IO, no clock; the CLI reads
//! and writes files. Parsing and conversion of keys and certificates is `pki`'s job.

mod credentials;
mod error;
pub mod esp8266_nonos;
pub mod flash_map;
pub mod nonos_inspect;
pub mod targets;

pub use credentials::{Bundle, Credentials, Input, OutputFile};
pub use error::{DeviceImageError, Result};
pub use flash_map::{FlashLayout, FlashSize, Placement, PlacementReport, Region, RegionKind};
pub use nonos_inspect::{ImageReport, ImageWarning, RecordContent, RecordInfo, inspect};
pub use targets::{Target, render};
