use thiserror::Error;

#[derive(Debug, Error)]
pub enum GpuError {
    #[error("no GPU adapter: {0}")]
    NoAdapter(String),
    #[error("the GPU device could not be opened: {0}")]
    Device(String),
    #[error("node '{node}' ({op}) cannot run on the GPU: {message}")]
    Unsupported {
        node: String,
        op: &'static str,
        message: String,
    },
    #[error("{what} needs {needed}, more than this GPU allows ({limit})")]
    TooLarge {
        what: &'static str,
        needed: u64,
        limit: u64,
    },
    #[error("input '{name}': {message}")]
    Input { name: String, message: String },
    #[error("the GPU ran out of memory: {0}")]
    OutOfMemory(String),
    #[error("the GPU device was lost: {0}")]
    Lost(String),
    #[error("GPU error: {0}")]
    Runtime(String),
}
