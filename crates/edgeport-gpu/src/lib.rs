//! WebGPU executor over the edgeport IR, on wgpu: the browser's WebGPU on wasm32, Vulkan,
//! Metal or DX12 natively (Mesa lavapipe in CI).
//!
//! A [`Session`] is planned once per model like edgeport-cpu's: activations folded into the
//! producing kernel, reshapes aliased, one arena by liveness. Everything lives in one storage
//! buffer (arena, weights, index tables), so every kernel shares one bind group layout and
//! takes its operands as element offsets from a 256-byte parameter block. Weights are
//! uploaded once; an inference is one compute pass and one submission. WGSL kernels are in
//! `src/wgsl/`, their launches in [`kernels`].

mod device;
mod error;
pub mod kernels;
mod session;

pub use device::{AdapterLimits, AdapterSummary, Gpu};
pub use error::GpuError;
pub use session::{GpuPlan, Port, RunResult, Session, SessionOptions};
