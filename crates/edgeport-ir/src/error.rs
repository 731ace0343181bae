use thiserror::Error;

pub type IrResult<T> = Result<T, IrError>;

/// Errors raised while building, checking or evaluating a graph.
/// `node` is the name of the node at fault (the source model's node name where there is one).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum IrError {
    #[error("node '{node}' ({op}): {message}")]
    Shape { node: String, op: &'static str, message: String },
    #[error("node '{node}' ({op}): input {index} has dtype {found}, expected {expected}")]
    DType { node: String, op: &'static str, index: usize, found: String, expected: String },
    #[error("value '{value}': {message}")]
    Limit { value: String, message: String },
    #[error("graph has a cycle through node '{node}'")]
    Cycle { node: String },
    #[error("{0}")]
    Invalid(String),
}

impl IrError {
    /// Attach the node name to an error raised by op-level code that did not know it.
    pub fn at_node(self, name: &str) -> IrError {
        match self {
            IrError::Shape { node, op, message } if node.is_empty() => {
                IrError::Shape { node: name.to_string(), op, message }
            }
            IrError::DType { node, op, index, found, expected } if node.is_empty() => {
                IrError::DType { node: name.to_string(), op, index, found, expected }
            }
            other => other,
        }
    }
}

/// Shorthand for a shape error from op-level code; the node name is attached by the caller.
pub(crate) fn shape_err(op: &'static str, message: impl Into<String>) -> IrError {
    IrError::Shape { node: String::new(), op, message: message.into() }
}
