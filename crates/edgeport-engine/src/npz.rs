//! NumPy `.npy` / `.npz` tensors: model inputs and outputs on the CLI, calibration data.
//! Little-endian C-order arrays of float32/16, int64/32/8, uint8 and bool; everything else is
//! refused with the key and the reason. Sizes are checked before anything is allocated.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};

use edgeport_ir::{DType, Tensor, TensorData};

use crate::EngineError;

const MAGIC: &[u8] = b"\x93NUMPY";
/// Largest decompressed .npy member (bytes) read from an archive.
const MAX_MEMBER_BYTES: u64 = 1 << 31;

fn bad(key: &str, message: impl std::fmt::Display) -> EngineError {
    EngineError::options(format!("array '{key}': {message}"))
}

/// Reads every array of an `.npz` archive, keyed by name (without `.npy`).
pub fn read_npz(bytes: &[u8]) -> Result<BTreeMap<String, Tensor>, EngineError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| EngineError::options(format!("not an .npz archive: {e}")))?;
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut member = zip.by_index(i).map_err(|e| EngineError::options(format!("npz member {i}: {e}")))?;
        let name = member.name().map_err(|e| EngineError::options(format!("npz member {i}: {e}")))?.to_string();
        let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        if member.size() > MAX_MEMBER_BYTES {
            return Err(bad(&key, format!("{} bytes is over the limit of {MAX_MEMBER_BYTES}", member.size())));
        }
        let mut data = Vec::with_capacity(member.size() as usize);
        (&mut member).take(MAX_MEMBER_BYTES).read_to_end(&mut data).map_err(|e| bad(&key, e))?;
        let tensor = read_npy(&key, &data)?;
        out.insert(key, tensor);
    }
    Ok(out)
}

/// Parses one `.npy` file; `key` names it in errors.
pub fn read_npy(key: &str, bytes: &[u8]) -> Result<Tensor, EngineError> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad(key, "not a .npy array (bad magic)"));
    }
    let (header_len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12),
        v => return Err(bad(key, format!("unsupported .npy version {v}"))),
    };
    let header = bytes
        .get(start..start.saturating_add(header_len))
        .ok_or_else(|| bad(key, "truncated header"))?;
    let header = std::str::from_utf8(header).map_err(|_| bad(key, "header is not text"))?;
    let descr = dict_value(header, "descr").ok_or_else(|| bad(key, "header has no 'descr'"))?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    if dict_value(header, "fortran_order").is_some_and(|v| v.starts_with("True")) {
        return Err(bad(key, "Fortran-order arrays are not supported; save with np.ascontiguousarray"));
    }
    let shape_text = dict_value(header, "shape").ok_or_else(|| bad(key, "header has no 'shape'"))?;
    let shape = parse_shape(shape_text).ok_or_else(|| bad(key, format!("bad shape {shape_text}")))?;
    let n = edgeport_ir::limits::checked_elements(key, &shape).map_err(|e| bad(key, e))?;
    let dtype = match descr {
        "<f4" => DType::F32,
        "<f2" => DType::F16,
        "<i8" => DType::I64,
        "<i4" => DType::I32,
        "|i1" | "<i1" => DType::I8,
        "|u1" | "<u1" => DType::U8,
        "|b1" => DType::Bool,
        other => {
            return Err(bad(
                key,
                format!("dtype '{other}' is not supported (float32, float16, int64, int32, int8, uint8, bool; little-endian)"),
            ));
        }
    };
    let body = &bytes[start + header_len..];
    let need = n * dtype.size_bytes();
    if body.len() != need {
        return Err(bad(key, format!("shape {shape:?} of {dtype} needs {need} bytes of data, found {}", body.len())));
    }
    let data = TensorData::from_le_bytes(body, dtype);
    Tensor::new(shape, data).map_err(|e| bad(key, e))
}

/// The text after `'key':` in a Python dict literal, up to the next top-level comma.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = if rest.starts_with('(') { rest.find(')')? + 1 } else { rest.find([',', '}']).unwrap_or(rest.len()) };
    Some(rest[..end].trim())
}

fn parse_shape(text: &str) -> Option<Vec<usize>> {
    let inner = text.strip_prefix('(')?.strip_suffix(')')?;
    inner.split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| s.parse().ok()).collect()
}

/// One `.npy` file for `t`.
pub fn write_npy(t: &Tensor) -> Vec<u8> {
    let descr = match t.dtype() {
        DType::F32 => "<f4",
        DType::F16 => "<f2",
        DType::I64 => "<i8",
        DType::I32 => "<i4",
        DType::I8 => "|i1",
        DType::U8 => "|u1",
        DType::Bool => "|b1",
    };
    let shape = match t.shape() {
        [d] => format!("({d},)"),
        dims => format!("({})", dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // magic(6) + version(2) + len(2) + header + '\n' is a multiple of 64
    let pad = (64 - (10 + header.len() + 1) % 64) % 64;
    header.push_str(&" ".repeat(pad));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + t.len() * t.dtype().size_bytes());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&t.to_le_bytes());
    out
}

/// An `.npz` archive (stored, deterministic timestamps) of `arrays`.
pub fn write_npz(arrays: &BTreeMap<String, Tensor>) -> Result<Vec<u8>, EngineError> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default())
        .large_file(true);
    let internal = |e: String| EngineError::new(crate::ErrorCode::Internal, format!("writing npz: {e}"));
    for (key, t) in arrays {
        zip.start_file(format!("{key}.npy"), options).map_err(|e| internal(e.to_string()))?;
        zip.write_all(&write_npy(t)).map_err(|e| internal(e.to_string()))?;
    }
    Ok(zip.finish().map_err(|e| internal(e.to_string()))?.into_inner())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut arrays = BTreeMap::new();
        arrays.insert("x".to_string(), Tensor::from_f32(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, -6.5]).unwrap());
        arrays.insert("ids".to_string(), Tensor::from_i64(vec![3], vec![7, -1, 2]).unwrap());
        let bytes = write_npz(&arrays).unwrap();
        assert_eq!(read_npz(&bytes).unwrap(), arrays);
    }

    #[test]
    fn refuses_bad_arrays_by_name() {
        let t = Tensor::from_f32(vec![2], vec![1.0, 2.0]).unwrap();
        let mut npy = write_npy(&t);
        npy.truncate(npy.len() - 1);
        let e = read_npy("x", &npy).unwrap_err();
        assert!(e.message.contains("array 'x'") && e.message.contains("needs 8 bytes"), "{e}");
        let big = b"\x93NUMPY\x01\x00\x46\x00{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 100), }\n";
        assert!(read_npy("big", big).unwrap_err().message.contains("limit"));
        assert!(read_npz(b"PK\x03\x04garbage").is_err());
    }
}
