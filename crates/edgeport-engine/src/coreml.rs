//! Core ML options and the Core ML leg of `convert`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ArtifactDirectory, ArtifactFile, ConvertOptions, EngineError, ErrorCode, sha256_hex};

/// Core ML deployment target (the oldest OS the model loads on).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CoremlTarget {
    Ios15,
    #[default]
    Ios16,
    Ios17,
    Ios18,
}

impl CoremlTarget {
    fn export(self) -> edgeport_coreml::Target {
        match self {
            CoremlTarget::Ios15 => edgeport_coreml::Target::Ios15,
            CoremlTarget::Ios16 => edgeport_coreml::Target::Ios16,
            CoremlTarget::Ios17 => edgeport_coreml::Target::Ios17,
            CoremlTarget::Ios18 => edgeport_coreml::Target::Ios18,
        }
    }
}

impl std::str::FromStr for CoremlTarget {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ios15" => Ok(CoremlTarget::Ios15),
            "ios16" => Ok(CoremlTarget::Ios16),
            "ios17" => Ok(CoremlTarget::Ios17),
            "ios18" => Ok(CoremlTarget::Ios18),
            other => Err(EngineError::options(format!(
                "unknown Core ML target '{other}' (supported: ios15, ios16, ios17, ios18)"
            ))),
        }
    }
}

/// Compute precision of float tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    Fp32,
    Fp16,
}

impl std::str::FromStr for Precision {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fp32" => Ok(Precision::Fp32),
            "fp16" => Ok(Precision::Fp16),
            other => Err(EngineError::options(format!(
                "unknown precision '{other}' (supported: fp32, fp16)"
            ))),
        }
    }
}

/// Keyword of `ConvertOptions::fp32_ops` that stands for the automatic rule.
pub const FP32_OPS_AUTO: &str = "auto";

/// `fp32_ops` only means something for an fp16 Core ML program.
pub(crate) fn check_fp32_ops(opts: &ConvertOptions) -> Result<(), EngineError> {
    if opts.fp32_ops.is_none() {
        return Ok(());
    }
    if opts.target != crate::Target::Coreml {
        return Err(EngineError::options("fp32_ops applies to the coreml target only"));
    }
    if opts.precision == Some(Precision::Fp32) {
        return Err(EngineError::options(
            "fp32_ops applies to precision fp16 (with fp32 every op is float32 already)",
        ));
    }
    Ok(())
}

pub(crate) fn fp32_ops(names: Option<&[String]>) -> edgeport_coreml::Fp32Ops {
    match names {
        None => edgeport_coreml::Fp32Ops::default(),
        Some(names) => edgeport_coreml::Fp32Ops {
            auto: names.iter().any(|n| n == FP32_OPS_AUTO),
            nodes: names
                .iter()
                .filter(|n| *n != FP32_OPS_AUTO)
                .cloned()
                .collect(),
        },
    }
}

/// Metadata written into the model (Core ML: `ModelDescription.metadata`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelMetadata {
    pub author: Option<String>,
    pub description: Option<String>,
    pub version: Option<String>,
    pub license: Option<String>,
    /// Free-form keys; `com.edgeport.source_sha256` and `com.edgeport.version` are always set
    /// by the engine.
    pub user_defined: BTreeMap<String, String>,
}

impl ModelMetadata {
    pub fn is_empty(&self) -> bool {
        *self == ModelMetadata::default()
    }
}

/// User-defined metadata key holding the sha256 of the source model.
pub const SOURCE_SHA256_KEY: &str = "com.edgeport.source_sha256";
/// User-defined metadata key holding the edgeport version.
pub const VERSION_KEY: &str = "com.edgeport.version";

/// Export an optimized NCHW graph; returns the zip bytes and the package directory.
pub(crate) fn export(
    graph: &edgeport_ir::Graph,
    model: &[u8],
    opts: &ConvertOptions,
    stem: &str,
) -> Result<(Vec<u8>, ArtifactDirectory), EngineError> {
    let m = &opts.metadata;
    let mut user_defined = m.user_defined.clone();
    user_defined.insert(SOURCE_SHA256_KEY.into(), sha256_hex(model));
    user_defined.insert(VERSION_KEY.into(), env!("CARGO_PKG_VERSION").into());
    let export_opts = edgeport_coreml::ExportOptions {
        target: opts.coreml_target.unwrap_or_default().export(),
        precision: match opts.precision {
            Some(Precision::Fp32) => edgeport_coreml::Precision::Fp32,
            Some(Precision::Fp16) | None => edgeport_coreml::Precision::Fp16,
        },
        fp32_ops: fp32_ops(opts.fp32_ops.as_deref()),
        int8_weights: matches!(opts.quantize, Some(crate::Quantize::Int8Weights | crate::Quantize::W8a8)),
        int8_activations: opts.quantize == Some(crate::Quantize::W8a8),
        palette_bits: opts.palettize.map(|p| p.bits),
        palette_group: opts.palettize.and_then(|p| p.group).map(usize::from),
        sparse_weights: opts.prune.is_some(),
        metadata: edgeport_coreml::Metadata {
            author: m.author.clone().unwrap_or_default(),
            short_description: m.description.clone().unwrap_or_default(),
            version: m.version.clone().unwrap_or_default(),
            license: m.license.clone().unwrap_or_default(),
            user_defined,
        },
        name: stem.to_string(),
    };
    let package = edgeport_coreml::export(graph, &export_opts)?;
    let zip = package.to_zip()?;
    let files = package
        .files
        .into_iter()
        .map(|f| ArtifactFile {
            size: f.bytes.len(),
            sha256: sha256_hex(&f.bytes),
            path: f.path,
            bytes: f.bytes,
        })
        .collect();
    Ok((
        zip,
        ArtifactDirectory {
            name: package.dir_name,
            files,
        },
    ))
}

impl From<edgeport_coreml::CoremlError> for EngineError {
    fn from(e: edgeport_coreml::CoremlError) -> Self {
        let message = format!("Core ML export: {e}");
        match e {
            edgeport_coreml::CoremlError::Unsupported { nodes } => EngineError {
                code: ErrorCode::Unsupported,
                message,
                nodes: nodes
                    .into_iter()
                    .map(|(name, op, reason)| crate::NodeRef { name, op, reason })
                    .collect(),
            },
            edgeport_coreml::CoremlError::BadOption(_) => {
                EngineError::new(ErrorCode::InvalidOptions, message)
            }
            edgeport_coreml::CoremlError::TooLarge(_) => {
                EngineError::new(ErrorCode::LimitExceeded, message)
            }
            _ => EngineError::new(ErrorCode::Internal, message),
        }
    }
}
