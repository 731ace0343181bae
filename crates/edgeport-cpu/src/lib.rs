//! CPU interpreter over the edgeport IR.
//!
//! A [`Session`] is planned once per model: every runtime value gets a fixed range of one
//! float32 activation arena (by liveness, so buffers are reused), every constant a range of one
//! packed weight tensor, and every node a [`kernels::Kernel`] with its shapes, strides and index
//! tables resolved. Both memories are candle-core tensors; an inference is one candle in-place
//! op over the arena that runs the planned steps, so steady-state runs allocate nothing but the
//! returned outputs. Matrix products (MatMul, Conv via im2col, ConvTranspose via col2im) go to
//! `gemm`, the kernel crate under candle-core, which has wasm simd128 micro-kernels.
//!
//! Runtime values are float32: integer and bool values (shape arithmetic left after constant
//! folding, gather indices) are carried exactly as float32 and converted back at the outputs.

mod error;
pub mod kernels;
mod plan;
mod session;
mod strided;

pub use error::CpuError;
pub use plan::MemoryPlan;
pub use session::{Port, Session, SessionOptions};
