use serde::Serialize;

/// Stable error codes shared by the CLI (exit codes), the web app and the worker (JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not a model, malformed, or violating the format's rules.
    InvalidModel,
    /// A well-formed model using ops or features a target cannot express.
    Unsupported,
    /// A size limit was exceeded before anything was allocated.
    LimitExceeded,
    /// The caller's options are wrong (unknown target, bad input shape).
    InvalidOptions,
    /// A bug in edgeport: the model was accepted but a later stage failed.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidModel => "invalid_model",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::LimitExceeded => "limit_exceeded",
            ErrorCode::InvalidOptions => "invalid_options",
            ErrorCode::Internal => "internal",
        }
    }
}

/// A node named in an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeRef {
    pub name: String,
    pub op: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct EngineError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeRef>,
}

impl EngineError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        EngineError { code, message: message.into(), nodes: Vec::new() }
    }
    pub fn options(message: impl Into<String>) -> Self {
        EngineError::new(ErrorCode::InvalidOptions, message)
    }
    pub fn code(&self) -> &'static str {
        self.code.as_str()
    }
    /// JSON form, as the web app and the worker return it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| format!("{{\"code\":\"{}\"}}", self.code()))
    }
}

impl From<edgeport_onnx::OnnxError> for EngineError {
    fn from(e: edgeport_onnx::OnnxError) -> Self {
        use edgeport_onnx::ErrorKind;
        let code = match e.kind() {
            ErrorKind::InvalidModel => ErrorCode::InvalidModel,
            ErrorKind::Unsupported => ErrorCode::Unsupported,
            ErrorKind::Limit => ErrorCode::LimitExceeded,
        };
        let nodes = e
            .unsupported_nodes()
            .iter()
            .map(|n| NodeRef { name: n.name.clone(), op: n.op_type.clone(), reason: n.reason.clone().unwrap_or_default() })
            .collect();
        EngineError { code, message: e.to_string(), nodes }
    }
}

impl From<edgeport_onnx::ExportError> for EngineError {
    fn from(e: edgeport_onnx::ExportError) -> Self {
        let message = format!("ONNX export: {e}");
        match e {
            edgeport_onnx::ExportError::Node { node, op, message: reason } => EngineError {
                code: ErrorCode::Unsupported,
                message,
                nodes: vec![NodeRef { name: node, op, reason }],
            },
        }
    }
}

impl From<edgeport_tflite::TfliteError> for EngineError {
    fn from(e: edgeport_tflite::TfliteError) -> Self {
        let message = format!("TFLite export: {e}");
        match e {
            edgeport_tflite::TfliteError::Unsupported { nodes } => EngineError {
                code: ErrorCode::Unsupported,
                message,
                nodes: nodes.into_iter().map(|(name, op, reason)| NodeRef { name, op, reason }).collect(),
            },
            _ => EngineError::new(ErrorCode::Internal, message),
        }
    }
}

impl From<edgeport_passes::PassError> for EngineError {
    fn from(e: edgeport_passes::PassError) -> Self {
        EngineError::new(ErrorCode::Internal, format!("optimization: {e}"))
    }
}

impl From<edgeport_cpu::CpuError> for EngineError {
    fn from(e: edgeport_cpu::CpuError) -> Self {
        use edgeport_cpu::CpuError;
        let message = e.to_string();
        match e {
            CpuError::Unsupported { node, op, message: reason } => EngineError {
                code: ErrorCode::Unsupported,
                message: format!("CPU runtime: {message}"),
                nodes: vec![NodeRef { name: node, op: op.to_string(), reason }],
            },
            CpuError::Input { .. } | CpuError::Runtime { .. } => EngineError::options(message),
            CpuError::TooLarge { .. } => EngineError::new(ErrorCode::LimitExceeded, message),
            CpuError::Storage(_) => EngineError::new(ErrorCode::Internal, format!("CPU runtime: {message}")),
        }
    }
}

#[cfg(feature = "gpu")]
impl From<edgeport_gpu::GpuError> for EngineError {
    fn from(e: edgeport_gpu::GpuError) -> Self {
        use edgeport_gpu::GpuError;
        let message = e.to_string();
        match e {
            GpuError::Unsupported { node, op, message: reason } => EngineError {
                code: ErrorCode::Unsupported,
                message: format!("GPU runtime: {message}"),
                nodes: vec![NodeRef { name: node, op: op.to_string(), reason }],
            },
            GpuError::Input { .. } => EngineError::options(message),
            GpuError::TooLarge { .. } => EngineError::new(ErrorCode::LimitExceeded, message),
            GpuError::NoAdapter(_) | GpuError::Device(_) | GpuError::OutOfMemory(_) | GpuError::Lost(_) => {
                EngineError::new(ErrorCode::Unsupported, format!("GPU runtime: {message}"))
            }
            GpuError::Runtime(_) => EngineError::new(ErrorCode::Internal, format!("GPU runtime: {message}")),
        }
    }
}
