//! edgeport as an edge worker: a small HTTP API over `edgeport-engine`, compiled to wasm and run
//! by workerd (or Cloudflare Workers).
//!
//! - [`api`]: the routes, checks and handlers as plain Rust (tested natively);
//! - [`openapi`]: the OpenAPI 3.1 document served at `GET /v1/openapi.json`;
//! - [`report`]: the run report of `/v1/convert` and `/v1/simulate` (the `edgeport-report`
//!   header, the multipart answer);
//! - `glue` (wasm32 only): the `worker` crate's fetch event, moving requests and replies
//!   between JavaScript and [`api::serve`].
//!
//! The routes, parameters and error statuses are described in `worker/README.md`.

pub mod api;
pub mod openapi;
pub mod report;

#[cfg(target_arch = "wasm32")]
mod glue;
