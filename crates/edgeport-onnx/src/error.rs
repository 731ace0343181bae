use edgeport_ir::IrError;
use thiserror::Error;

/// The broad class of an import failure, for front ends that map errors to codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// The bytes are not a well-formed ONNX model (or the model contradicts itself).
    InvalidModel,
    /// A well-formed model uses something edgeport does not support (ops, dtypes, dynamic dims).
    Unsupported,
    /// A size limit of `edgeport_ir::limits` would be exceeded.
    Limit,
}

/// One node the importer cannot convert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedNode {
    /// The node name (or the generated `<op>_<index>` when the model left it empty).
    pub name: String,
    /// The ONNX op type, prefixed with its domain when that is not the default one.
    pub op_type: String,
    /// Why, when the op type itself is supported but this use of it is not.
    pub reason: Option<String>,
}

impl std::fmt::Display for UnsupportedNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.reason {
            Some(r) => write!(f, "{} ({}: {})", self.name, self.op_type, r),
            None => write!(f, "{} ({})", self.name, self.op_type),
        }
    }
}

fn list(nodes: &[UnsupportedNode]) -> String {
    nodes.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
}

/// Errors of the ONNX importer. Every message is one line and names the culprit
/// (tensor, input, node or value).
#[derive(Error, Debug, Clone, PartialEq)]
pub enum OnnxError {
    #[error("not an ONNX model: {0}")]
    Decode(String),
    #[error("ONNX model has no graph")]
    NoGraph,
    #[error("unsupported ONNX IR version {0} (supported: 3..=10)")]
    IrVersion(i64),
    #[error("unsupported ONNX opset {0} for the default domain (supported: 7..=22)")]
    Opset(i64),
    #[error("ONNX model does not import the default opset (ai.onnx)")]
    NoDefaultOpset,
    #[error("graph has no {0}")]
    EmptyGraph(&'static str),
    #[error("tensor '{0}' stores its data externally; external data is not supported, embed the weights in the .onnx file")]
    ExternalData(String),
    #[error("{what} '{name}' has unsupported element type {dtype}")]
    DType { what: &'static str, name: String, dtype: String },
    #[error("tensor '{name}': {message}")]
    Tensor { name: String, message: String },
    #[error("input '{input}' has dynamic dim '{dim}' at axis {axis}; pass --input-shape {input}=...")]
    DynamicDim { input: String, dim: String, axis: usize },
    #[error("input '{input}' has unknown rank; pass --input-shape {input}=...")]
    UnknownRank { input: String },
    #[error("input shape given for '{name}', which is not a graph input (graph inputs: {inputs})")]
    UnknownInput { name: String, inputs: String },
    #[error("input '{input}': {message}")]
    Input { input: String, message: String },
    #[error("graph has a cycle through node '{0}'")]
    Cycle(String),
    #[error("node '{node}' ({op}): {message}")]
    Node { node: String, op: String, message: String },
    /// Raised by op importers for one node; `import` collects them into `UnsupportedOps`.
    #[error("{0}")]
    UnsupportedNode(UnsupportedNode),
    #[error("{} unsupported ONNX op{}: {}", .0.len(), if .0.len() == 1 { "" } else { "s" }, list(.0))]
    UnsupportedOps(Vec<UnsupportedNode>),
    #[error("value '{value}' exceeds a limit: {message}")]
    Limit { value: String, message: String },
    #[error("graph output '{0}' is not produced by any node")]
    MissingOutput(String),
    #[error("{0}")]
    Graph(String),
    #[error("{message}")]
    Ir { kind: ErrorKind, message: String },
}

impl OnnxError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            OnnxError::Decode(_)
            | OnnxError::NoGraph
            | OnnxError::NoDefaultOpset
            | OnnxError::EmptyGraph(_)
            | OnnxError::Tensor { .. }
            | OnnxError::UnknownInput { .. }
            | OnnxError::Input { .. }
            | OnnxError::Cycle(_)
            | OnnxError::Node { .. }
            | OnnxError::MissingOutput(_)
            | OnnxError::Graph(_) => ErrorKind::InvalidModel,
            OnnxError::IrVersion(_)
            | OnnxError::Opset(_)
            | OnnxError::ExternalData(_)
            | OnnxError::DType { .. }
            | OnnxError::DynamicDim { .. }
            | OnnxError::UnknownRank { .. }
            | OnnxError::UnsupportedNode(_)
            | OnnxError::UnsupportedOps(_) => ErrorKind::Unsupported,
            OnnxError::Limit { .. } => ErrorKind::Limit,
            OnnxError::Ir { kind, .. } => *kind,
        }
    }

    /// Every unsupported node, when this is the collected unsupported-ops error.
    pub fn unsupported_nodes(&self) -> &[UnsupportedNode] {
        match self {
            OnnxError::UnsupportedOps(v) => v,
            OnnxError::UnsupportedNode(n) => std::slice::from_ref(n),
            _ => &[],
        }
    }
}

impl From<IrError> for OnnxError {
    fn from(e: IrError) -> Self {
        match e {
            IrError::Limit { value, message } => OnnxError::Limit { value: clean(&value), message: clean(&message) },
            other => OnnxError::Ir { kind: ErrorKind::InvalidModel, message: clean(&other.to_string()) },
        }
    }
}

/// Make a name or message from the file safe to show on one line: control characters are
/// escaped and very long strings are cut.
pub(crate) fn clean(s: &str) -> String {
    const MAX: usize = 200;
    let mut out = String::with_capacity(s.len().min(MAX + 8));
    for (i, c) in s.chars().enumerate() {
        if i >= MAX {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

pub type Result<T, E = OnnxError> = std::result::Result<T, E>;
