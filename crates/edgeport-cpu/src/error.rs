use thiserror::Error;

#[derive(Debug, Error)]
pub enum CpuError {
    /// A node the runtime cannot run (an op variant, layout or dtype it does not implement).
    #[error("node '{node}' ({op}): {message}")]
    Unsupported { node: String, op: &'static str, message: String },
    /// A caller-supplied input that does not match the model's interface.
    #[error("input '{name}': {message}")]
    Input { name: String, message: String },
    /// A data-dependent failure during a run (an out-of-range runtime gather index).
    #[error("node '{node}' ({op}): {message}")]
    Runtime { node: String, op: &'static str, message: String },
    #[error("the model needs {needed} bytes of {what}, over the limit of {limit} bytes")]
    TooLarge { what: &'static str, needed: u64, limit: u64 },
    #[error("tensor storage: {0}")]
    Storage(String),
}

impl From<candle_core::Error> for CpuError {
    fn from(e: candle_core::Error) -> Self {
        CpuError::Storage(e.to_string())
    }
}
