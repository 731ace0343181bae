//! The edgeport IR: a static-shaped, typed dataflow graph over a closed set of ops.
//!
//! Every value has a known dtype and a fully static shape; constants carry their data.
//! Importers produce this IR, passes rewrite it, exporters and runtimes consume it.
//! No I/O here, and nothing that does not build for wasm32.

pub mod arena;
mod dtype;
mod error;
pub mod eval;
mod graph;
pub mod limits;
pub mod ops;
mod print;
pub mod quant;
pub mod tensor;

pub use dtype::DType;
pub use error::{IrError, IrResult};
pub use graph::{Graph, Node, NodeId, Value, ValueId};
pub use ops::{Layout, Op};
pub use print::print_graph;
pub use quant::{DynamicQuant, QuantParams};
pub use tensor::{Tensor, TensorData, TensorType};
