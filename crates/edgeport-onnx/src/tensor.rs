//! ONNX TensorProto and element types to IR tensors, with every size checked against
//! `edgeport_ir::limits` and the stored data length before anything is allocated.

use edgeport_ir::{limits, DType, Tensor, TensorData};
use tract_onnx::pb::tensor_proto::{DataLocation, DataType};
use tract_onnx::pb::TensorProto;

use crate::error::{clean, OnnxError, Result};

/// The ONNX name of an element type code (`FLOAT`, `DOUBLE`, ...).
pub(crate) fn onnx_dtype_name(code: i32) -> String {
    DataType::try_from(code).map(|d| d.as_str_name().to_string()).unwrap_or_else(|_| format!("<code {code}>"))
}

/// IR dtype of an ONNX element type code, None when the IR cannot carry it.
pub(crate) fn dtype_from_code(code: i32) -> Option<DType> {
    match DataType::try_from(code).ok()? {
        DataType::Float => Some(DType::F32),
        DataType::Float16 => Some(DType::F16),
        DataType::Int64 => Some(DType::I64),
        DataType::Int32 => Some(DType::I32),
        DataType::Int8 => Some(DType::I8),
        DataType::Uint8 => Some(DType::U8),
        DataType::Bool => Some(DType::Bool),
        _ => None,
    }
}

/// IR dtype of an ONNX element type, or the unsupported-dtype error naming `name`.
pub(crate) fn dtype_of(code: i32, what: &'static str, name: &str) -> Result<DType> {
    dtype_from_code(code).ok_or_else(|| OnnxError::DType {
        what,
        name: clean(name),
        dtype: onnx_dtype_name(code),
    })
}

/// True when the tensor points at data outside the model file.
pub(crate) fn is_external(t: &TensorProto) -> bool {
    t.data_location == Some(DataLocation::External as i32) || !t.external_data.is_empty()
}

/// Convert ONNX dims to a checked shape (no negative dims, within the IR limits).
pub(crate) fn checked_shape(name: &str, dims: &[i64]) -> Result<(Vec<usize>, usize)> {
    if dims.len() > limits::MAX_RANK {
        return Err(OnnxError::Limit {
            value: clean(name),
            message: format!("rank {} exceeds the limit of {}", dims.len(), limits::MAX_RANK),
        });
    }
    let mut shape = Vec::with_capacity(dims.len());
    for &d in dims {
        if d < 0 {
            return Err(OnnxError::Tensor { name: clean(name), message: format!("negative dimension {d} in {dims:?}") });
        }
        let d = usize::try_from(d).map_err(|_| OnnxError::Limit {
            value: clean(name),
            message: format!("dimension {d} does not fit this platform"),
        })?;
        shape.push(d);
    }
    let n = limits::checked_elements(name, &shape)?;
    Ok((shape, n))
}

/// Number of elements and IR dtype of a tensor proto without decoding its data.
pub(crate) fn proto_elements(t: &TensorProto) -> Option<usize> {
    let mut n: usize = 1;
    for &d in &t.dims {
        n = n.checked_mul(usize::try_from(d).ok()?)?;
    }
    Some(n)
}

fn len_err(name: &str, field: &str, got: usize, want: usize, shape: &[usize], dtype: DType) -> OnnxError {
    OnnxError::Tensor {
        name: clean(name),
        message: format!("{field} holds {got} {}, expected {want} for shape {shape:?} {dtype}", if field == "raw_data" { "bytes" } else { "values" }),
    }
}

/// Decode a TensorProto into an IR tensor. `name` names it in errors (the tensor's own name
/// is used when it has one).
pub(crate) fn tensor_from_proto(t: &TensorProto, fallback_name: &str) -> Result<Tensor> {
    let name = if t.name.is_empty() { fallback_name } else { t.name.as_str() };
    if is_external(t) {
        return Err(OnnxError::ExternalData(clean(name)));
    }
    if t.segment.is_some() {
        return Err(OnnxError::Tensor { name: clean(name), message: "segmented tensors are not supported".into() });
    }
    let dtype = dtype_of(t.data_type, "tensor", name)?;
    let (shape, n) = checked_shape(name, &t.dims)?;
    let data = if !t.raw_data.is_empty() {
        let want = n.checked_mul(dtype.size_bytes()).ok_or_else(|| OnnxError::Limit {
            value: clean(name),
            message: format!("shape {shape:?} is too large"),
        })?;
        if t.raw_data.len() != want {
            return Err(len_err(name, "raw_data", t.raw_data.len(), want, &shape, dtype));
        }
        TensorData::from_le_bytes(&t.raw_data, dtype)
    } else {
        let got = match dtype {
            DType::F32 => t.float_data.len(),
            DType::I64 => t.int64_data.len(),
            _ => t.int32_data.len(),
        };
        if got != n {
            let field = match dtype {
                DType::F32 => "float_data",
                DType::I64 => "int64_data",
                _ => "int32_data",
            };
            return Err(len_err(name, field, got, n, &shape, dtype));
        }
        match dtype {
            DType::F32 => TensorData::F32(t.float_data.clone()),
            DType::I64 => TensorData::I64(t.int64_data.clone()),
            DType::F16 => TensorData::F16(t.int32_data.iter().map(|&x| x as u16).collect()),
            DType::I32 => TensorData::I32(t.int32_data.clone()),
            DType::I8 => TensorData::I8(t.int32_data.iter().map(|&x| x as i8).collect()),
            DType::U8 => TensorData::U8(t.int32_data.iter().map(|&x| x as u8).collect()),
            DType::Bool => TensorData::Bool(t.int32_data.iter().map(|&x| x != 0).collect()),
        }
    };
    Tensor::new(shape, data).map_err(|e| OnnxError::Tensor { name: clean(name), message: e.to_string() })
}

