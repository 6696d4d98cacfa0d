//! The AWS IoT Device Shadow service's document engine: parsing and validating update requests,
//! merging them into the stored shadow, computing the delta and building every response payload
//! (`update/accepted`, `update/delta`, `update/documents`, `get/accepted`, `delete/accepted`,
//! the `*/rejected` error documents) exactly as AWS IoT Core shapes them. Pure functions over
//! `serde_json::Value`: no IO, no clock (callers pass `now` in epoch seconds), no topic routing,
//! no storage and no HTTP; the server's adapters build on this API.

mod delta;
mod document;
mod error;
pub mod fuzz;
mod limits;
mod names;
mod request;
mod response;
mod service;
mod topic;

pub use document::{
    Applied, ShadowDocument, ShadowMetadata, StoredDocumentError, apply_update,
    apply_update_after_delete,
};
pub use error::ShadowError;
pub use limits::Limits;
pub use names::{check_shadow_name, check_thing_name};
pub use request::{UpdateRequest, request_client_token};
pub use response::{delete_response, error_response, get_response};
pub use service::{
    Deleted, Updated, delete, failed, get, handle_publish, list_named, rejected, update,
};
pub use topic::{Operation, REQUEST_FILTERS, ShadowId};
