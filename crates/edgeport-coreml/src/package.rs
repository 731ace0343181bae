//! The `.mlpackage`: model protobuf, weight file, `Manifest.json`, and its deterministic zip.

use std::io::{Cursor, Write};

use prost::Message;
use sha2::{Digest, Sha256};

use crate::legalize::{Feature, Lowered};
use crate::proto::{self, ArrayDataType, DataType};
use crate::{CoremlError, ExportOptions};

/// Path of the model protobuf inside the package.
pub const MODEL_PATH: &str = "Data/com.apple.CoreML/model.mlmodel";
/// Path of the weight file inside the package.
pub const WEIGHTS_PATH: &str = "Data/com.apple.CoreML/weights/weight.bin";
/// How const ops name the weight file.
pub const WEIGHT_FILE_REF: &str = crate::mil::WEIGHT_FILE;
const MANIFEST_PATH: &str = "Manifest.json";

/// One file of a package, at a path relative to the package directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

/// An `.mlpackage` directory as an ordered list of files (sorted by path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// Directory name, `<name>.mlpackage`.
    pub dir_name: String,
    pub files: Vec<PackageFile>,
}

impl Package {
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.bytes.as_slice())
    }

    /// The model protobuf.
    pub fn model_bytes(&self) -> &[u8] {
        self.file(MODEL_PATH).unwrap_or_default()
    }

    /// The weight file.
    pub fn weights(&self) -> &[u8] {
        self.file(WEIGHTS_PATH).unwrap_or_default()
    }

    /// Decode the model protobuf back.
    pub fn model(&self) -> Result<proto::Model, prost::DecodeError> {
        proto::Model::decode(self.model_bytes())
    }

    /// The package as a zip with every entry under `<dir_name>/`: directories and files in
    /// sorted order, deflated, timestamps fixed at 1980-01-01 00:00, Unix permissions 0644
    /// (0755 for directories). Same package, same bytes.
    pub fn to_zip(&self) -> Result<Vec<u8>, CoremlError> {
        use zip::write::SimpleFileOptions;
        use zip::{CompressionMethod, DateTime, System};
        let zerr = |e: zip::result::ZipError| CoremlError::Zip(e.to_string());
        let base = SimpleFileOptions::default()
            .system(System::Unix)
            .last_modified_time(DateTime::default());
        let file_opts = base
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(6))
            .unix_permissions(0o644);
        let dir_opts = base
            .compression_method(CompressionMethod::Stored)
            .unix_permissions(0o755);
        let mut dirs: Vec<String> = vec![format!("{}/", self.dir_name)];
        for f in &self.files {
            let mut parts: Vec<&str> = f.path.split('/').collect();
            parts.pop();
            for k in 1..=parts.len() {
                dirs.push(format!("{}/{}/", self.dir_name, parts[..k].join("/")));
            }
        }
        let mut entries: Vec<(String, Option<&[u8]>)> =
            dirs.into_iter().map(|d| (d, None)).collect();
        entries.extend(self.files.iter().map(|f| {
            (
                format!("{}/{}", self.dir_name, f.path),
                Some(f.bytes.as_slice()),
            )
        }));
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|a, b| a.0 == b.0);
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            match data {
                None => w.add_directory(name, dir_opts).map_err(zerr)?,
                Some(bytes) => {
                    w.start_file(name, file_opts).map_err(zerr)?;
                    w.write_all(bytes)
                        .map_err(|e| CoremlError::Zip(e.to_string()))?;
                }
            }
        }
        Ok(w.finish().map_err(zerr)?.into_inner())
    }
}

/// File-system-safe package base name.
fn safe_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_matches('.').to_string();
    if s.is_empty() { "model".into() } else { s }
}

fn array_type(d: DataType) -> ArrayDataType {
    match d {
        DataType::Float16 => ArrayDataType::Float16,
        DataType::Int32 => ArrayDataType::Int32,
        _ => ArrayDataType::Float32,
    }
}

fn feature(f: &Feature, kind: &str) -> proto::FeatureDescription {
    let short_description = if f.name == f.source {
        String::new()
    } else {
        format!("{kind} '{}' of the source model", f.source)
    };
    proto::FeatureDescription {
        name: f.name.clone(),
        short_description,
        r#type: Some(proto::FeatureType {
            is_optional: false,
            r#type: Some(proto::feature_type::Type::MultiArrayType(
                proto::ArrayFeatureType {
                    shape: f.shape.iter().map(|&d| d as i64).collect(),
                    data_type: array_type(f.dtype) as i32,
                },
            )),
        }),
    }
}

/// The `CoreML.Specification.Model` of a lowered program.
fn model_proto(l: &Lowered, opts: &ExportOptions) -> proto::Model {
    let opset = opts.target.opset().to_string();
    let block = proto::Block {
        inputs: Vec::new(),
        outputs: l.outputs.iter().map(|f| f.name.clone()).collect(),
        operations: l.operations.clone(),
        attributes: Default::default(),
    };
    let function = proto::Function {
        inputs: l
            .inputs
            .iter()
            .map(|f| proto::named(&f.name, f.dtype, &f.shape))
            .collect(),
        opset: opset.clone(),
        block_specializations: [(opset, block)].into_iter().collect(),
        attributes: Default::default(),
    };
    let program = proto::Program {
        version: 1,
        functions: [("main".to_string(), function)].into_iter().collect(),
        doc_string: String::new(),
        attributes: Default::default(),
    };
    let m = &opts.metadata;
    proto::Model {
        specification_version: opts.target.specification_version(),
        description: Some(proto::ModelDescription {
            input: l.inputs.iter().map(|f| feature(f, "input")).collect(),
            output: l.outputs.iter().map(|f| feature(f, "output")).collect(),
            metadata: Some(proto::Metadata {
                short_description: m.short_description.clone(),
                version_string: m.version.clone(),
                author: m.author.clone(),
                license: m.license.clone(),
                user_defined: m.user_defined.clone(),
            }),
        }),
        is_updatable: false,
        r#type: Some(proto::model::Type::MlProgram(program)),
    }
}

/// A UUID-formatted identifier derived from `what` and the content's sha256 (version 8,
/// RFC 9562 variant), so a package's manifest is a pure function of its files.
fn content_id(what: &str, content: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(what.as_bytes());
    h.update([0]);
    h.update(content);
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02X}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `Manifest.json`: one item for the model file and one for the weights directory, keyed by
/// content-derived identifiers; the model item is the root.
fn manifest(model: &[u8], weights: &[u8]) -> Vec<u8> {
    let model_id = content_id("com.apple.CoreML/model.mlmodel", model);
    let weights_id = content_id("com.apple.CoreML/weights", weights);
    let item = |id: &str, description: &str, name: &str, path: &str| {
        format!(
            "        \"{id}\": {{\n            \"author\": \"com.apple.CoreML\",\n            \"description\": \"{description}\",\n            \"name\": \"{name}\",\n            \"path\": \"{path}\"\n        }}"
        )
    };
    let mut items = [
        (
            model_id.clone(),
            item(
                &model_id,
                "CoreML Model Specification",
                "model.mlmodel",
                "com.apple.CoreML/model.mlmodel",
            ),
        ),
        (
            weights_id.clone(),
            item(
                &weights_id,
                "CoreML Model Weights",
                "weights",
                "com.apple.CoreML/weights",
            ),
        ),
    ];
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let body: Vec<String> = items.into_iter().map(|(_, s)| s).collect();
    format!(
        "{{\n    \"fileFormatVersion\": \"1.0.0\",\n    \"itemInfoEntries\": {{\n{}\n    }},\n    \"rootModelIdentifier\": \"{model_id}\"\n}}\n",
        body.join(",\n")
    )
    .into_bytes()
}

/// Assemble the package files.
pub(crate) fn assemble(l: Lowered, opts: &ExportOptions) -> Result<Package, CoremlError> {
    let model = model_proto(&l, opts).encode_to_vec();
    let weights = l.weights;
    let mut files = vec![
        PackageFile {
            path: MANIFEST_PATH.into(),
            bytes: manifest(&model, &weights),
        },
        PackageFile {
            path: MODEL_PATH.into(),
            bytes: model,
        },
        PackageFile {
            path: WEIGHTS_PATH.into(),
            bytes: weights,
        },
    ];
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Package {
        dir_name: format!("{}.mlpackage", safe_name(&opts.name)),
        files,
    })
}
