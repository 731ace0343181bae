//! edgeport in the browser, over `edgeport-engine` only.
//!
//! - [`bindings`] (feature `bindings`, on by default): wasm-bindgen exports `inspect`, `convert`,
//!   `version` for `tests/wasm/determinism.mjs`. Every function takes the model bytes and an
//!   options JSON string (`{"to":"tflite","nhwc_io":false,"input_shapes":{"x":[1,3,224,224]}}`; an
//!   empty string means the defaults). Failures are thrown as a JSON string
//!   `{"code":..,"message":..,"nodes":[..]}`, the same shape the engine serializes everywhere else.
//! - [`protocol`]: the messages between the playground page and its Web Worker;
//!   [`sim_report`] the simulator's options and report as the page sees them.
//! - [`share`]: the playground's share links (record, deflate, base64url), plain Rust.
//! - [`engine_worker`] (feature `engine`): what the worker does with a request (plain Rust,
//!   tested natively).
//! - [`app`]: the playground's yew components (the page side; never calls the engine).
//!
//! The plain-Rust halves (`inspect_json`, `convert_bytes`) carry the bindings' logic so they can
//! be tested natively; the `#[wasm_bindgen]` functions only move values across the JS boundary.

pub mod app;
#[cfg(feature = "engine")]
pub mod engine_worker;
#[cfg(feature = "engine")]
mod json;
pub mod protocol;
pub mod share;
pub mod sim_report;

#[cfg(feature = "engine")]
pub use json::{convert_bytes, error_json, inspect_json, parse_options};

#[cfg(feature = "bindings")]
pub mod bindings {
    use wasm_bindgen::prelude::*;

    /// Installs the panic hook so a panic shows its message in the browser console.
    #[wasm_bindgen(start)]
    pub fn start() {
        console_error_panic_hook::set_once();
    }

    /// The crate version, for the page footer.
    #[wasm_bindgen]
    pub fn version() -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    /// The inspect report (JSON) of an ONNX model.
    #[wasm_bindgen]
    pub fn inspect(model: &[u8], options_json: &str) -> Result<String, JsValue> {
        super::inspect_json(model, options_json).map_err(|e| JsValue::from_str(&e))
    }

    /// Converts an ONNX model; returns the artifact's bytes (a `Uint8Array` in JS).
    #[wasm_bindgen]
    pub fn convert(model: &[u8], options_json: &str) -> Result<Vec<u8>, JsValue> {
        super::convert_bytes(model, options_json).map_err(|e| JsValue::from_str(&e))
    }
}
