//! The MIL program builder: identifiers, const ops and typed op emission.
//!
//! Every MIL value is produced by exactly one op (or is a function input) and is referred to
//! by name. Parameters are `const` ops named `<op>_<param>` emitted right before the op that
//! reads them, as coremltools does; op attributes are only `name` (and `val` for consts).

use std::collections::{BTreeMap, BTreeSet};

use crate::blob::{BlobDType, BlobWriter};
use crate::proto::{self, DataType, tensor_value};
use crate::{CoremlError, Target};

/// Path by which const ops refer to the weight file.
pub const WEIGHT_FILE: &str = "@model_path/weights/weight.bin";

/// Consts with at least this many elements (of a blob-able type) go to weight.bin; smaller
/// ones stay immediate values in the protobuf (the rule coremltools uses).
pub const BLOB_MIN_ELEMENTS: usize = 10;

/// Names MIL reserves (type names and keywords).
const RESERVED: &[&str] = &[
    "any", "bool", "program", "func", "tensor", "list", "dict", "tuple", "true", "false", "string",
    "bf16", "fp16", "fp32", "fp64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
    "uint64", "state",
];

/// A MIL value: its name and static tensor type (rank 0 = scalar).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    pub name: String,
    pub dtype: DataType,
    pub shape: Vec<usize>,
}

impl Var {
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
}

/// Data of a const op.
#[derive(Debug, Clone, PartialEq)]
pub enum ConstData {
    F32(Vec<f32>),
    /// float16 bits.
    F16(Vec<u16>),
    I32(Vec<i32>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    /// Written as little-endian `bytes`, where coremltools' loader reads uint32 (shapes of
    /// constexpr ops).
    U32(Vec<u32>),
    Bool(Vec<bool>),
    Str(String),
    /// `count` unsigned values of `bits` (1, 2, 3, 4 or 6) bits, packed least significant bit
    /// first (iOS18 typed palette indices); only in the weight file.
    Packed { bits: u8, count: usize, bytes: Vec<u8> },
}

impl ConstData {
    pub fn dtype(&self) -> DataType {
        match self {
            ConstData::F32(_) => DataType::Float32,
            ConstData::F16(_) => DataType::Float16,
            ConstData::I32(_) => DataType::Int32,
            ConstData::I8(_) => DataType::Int8,
            ConstData::U8(_) => DataType::Uint8,
            ConstData::U32(_) => DataType::Uint32,
            ConstData::Bool(_) => DataType::Bool,
            ConstData::Str(_) => DataType::String,
            ConstData::Packed { bits, .. } => match bits {
                1 => DataType::Uint1,
                2 => DataType::Uint2,
                3 => DataType::Uint3,
                4 => DataType::Uint4,
                _ => DataType::Uint6,
            },
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ConstData::F32(v) => v.len(),
            ConstData::F16(v) => v.len(),
            ConstData::I32(v) => v.len(),
            ConstData::I8(v) => v.len(),
            ConstData::U8(v) => v.len(),
            ConstData::U32(v) => v.len(),
            ConstData::Bool(v) => v.len(),
            ConstData::Str(_) => 1,
            ConstData::Packed { count, .. } => *count,
        }
    }

    /// Float data converted to `dtype` (fp16 or fp32); finite values beyond the fp16 range
    /// saturate at +-65504 instead of becoming infinities.
    pub fn float(values: &[f32], dtype: DataType) -> ConstData {
        if dtype == DataType::Float16 {
            ConstData::F16(values.iter().map(|&v| f16_bits(v)).collect())
        } else {
            ConstData::F32(values.to_vec())
        }
    }

    /// Blob type and little-endian bytes, when this data may live in weight.bin.
    fn blob(&self) -> Option<(BlobDType, Vec<u8>)> {
        match self {
            ConstData::F32(v) => Some((
                BlobDType::Float32,
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )),
            ConstData::F16(v) => Some((
                BlobDType::Float16,
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )),
            ConstData::I8(v) => Some((BlobDType::Int8, v.iter().map(|&x| x as u8).collect())),
            ConstData::U8(v) => Some((BlobDType::UInt8, v.clone())),
            _ => None,
        }
    }

    fn immediate(self) -> tensor_value::Value {
        use tensor_value::*;
        match self {
            ConstData::F32(values) => Value::Floats(RepeatedFloats { values }),
            ConstData::F16(v) => Value::Bytes(RepeatedBytes {
                values: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            }),
            ConstData::I32(values) => Value::Ints(RepeatedInts { values }),
            ConstData::I8(v) => Value::Bytes(RepeatedBytes {
                values: v.iter().map(|&x| x as u8).collect(),
            }),
            ConstData::U8(values) => Value::Bytes(RepeatedBytes { values }),
            ConstData::U32(v) => Value::Bytes(RepeatedBytes { values: v.iter().flat_map(|x| x.to_le_bytes()).collect() }),
            ConstData::Bool(values) => Value::Bools(RepeatedBools { values }),
            ConstData::Str(s) => Value::Strings(RepeatedStrings { values: vec![s] }),
            ConstData::Packed { bytes, .. } => Value::Bytes(RepeatedBytes { values: bytes }),
        }
    }
}

fn check_int8(base: &str, shape: &[usize], q: &edgeport_quant::int8::Int8) -> R {
    let channels = shape.get(q.axis).copied().unwrap_or(0);
    if q.q.len() != shape.iter().product::<usize>() || q.scales.len() != channels {
        return Err(invalid(format!("int8 const '{base}' does not match its shape {shape:?}")));
    }
    Ok(())
}

fn check_palette(base: &str, shape: &[usize], p: &edgeport_quant::palette::Grouped) -> R {
    let fits = p.indices.len() == shape.iter().product::<usize>()
        && p.lut.len().is_multiple_of(1 << p.bits)
        && shape.get(p.axis).is_some_and(|&c| p.group > 0 && c.is_multiple_of(p.group));
    if !fits {
        return Err(invalid(format!("palettized const '{base}' does not match its shape {shape:?}")));
    }
    Ok(())
}

fn check_mask(base: &str, shape: &[usize], s: &edgeport_quant::prune::Sparse) -> R {
    if s.mask.len() != shape.iter().product::<usize>().div_ceil(8) {
        return Err(invalid(format!("sparse const '{base}' does not match its shape {shape:?}")));
    }
    Ok(())
}

/// iOS18 typed palette indices: packed sub-byte values, or plain uint8 for 8 bits.
fn typed_indices(indices: &[u8], bits: u8) -> ConstData {
    if bits == 8 {
        ConstData::U8(indices.to_vec())
    } else {
        ConstData::Packed { bits, count: indices.len(), bytes: edgeport_quant::palette::pack(indices, bits) }
    }
}

/// The iOS16/17 `shape` attribute of constexpr ops: the dims as uint32.
fn shape_attribute(shape: &[usize]) -> R<proto::Value> {
    let dims = shape.iter().map(|&d| u32::try_from(d).map_err(|_| invalid("dimension beyond uint32"))).collect::<R<Vec<u32>>>()?;
    Ok(proto::immediate(DataType::Uint32, &[dims.len()], ConstData::U32(dims).immediate()))
}

/// f32 -> float16 bits, round to nearest even, finite values saturating at the largest half.
pub fn f16_bits(v: f32) -> u16 {
    let c = if v.is_finite() {
        v.clamp(-65504.0, 65504.0)
    } else {
        v
    };
    half::f16::from_f32(c).to_bits()
}

/// Availability of a MIL op: its name and the first target whose opset has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpDef {
    pub name: &'static str,
    pub since: Target,
}

/// Why an op could not be emitted.
#[derive(Debug, Clone, PartialEq)]
pub enum Fail {
    /// The node cannot be expressed (the reason is shown to the user).
    Unsupported(String),
    /// A bug or a broken precondition: abort the export.
    Hard(CoremlError),
}

impl From<CoremlError> for Fail {
    fn from(e: CoremlError) -> Fail {
        Fail::Hard(e)
    }
}

pub type R<T = ()> = Result<T, Fail>;

pub fn unsupported<T>(reason: impl Into<String>) -> R<T> {
    Err(Fail::Unsupported(reason.into()))
}

pub fn invalid(message: impl Into<String>) -> Fail {
    Fail::Hard(CoremlError::Invalid(message.into()))
}

/// Turn any string into a MIL identifier: `[A-Za-z_][A-Za-z0-9_]*`, not a reserved word.
pub fn sanitize(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        s.push_str("var");
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    if RESERVED.contains(&s.as_str()) {
        s.push_str("_workaround");
    }
    s
}

/// Builds the operations of the program's one block.
pub struct Mil {
    pub target: Target,
    ops: Vec<proto::Operation>,
    names: BTreeSet<String>,
    blobs: BlobWriter,
}

impl Mil {
    pub fn new(target: Target) -> Mil {
        Mil {
            target,
            ops: Vec::new(),
            names: BTreeSet::new(),
            blobs: BlobWriter::new(),
        }
    }

    /// A new identifier derived from `base`, unique in the program.
    pub fn fresh(&mut self, base: &str) -> String {
        let base = sanitize(base);
        self.unique(base)
    }

    /// A model input or output name: an identifier as `fresh` makes, with `var` put before a
    /// leading underscore (the convention coremltools follows, e.g. `17` -> `var_17`).
    pub fn fresh_feature(&mut self, base: &str) -> String {
        let mut base = sanitize(base);
        if base.starts_with('_') {
            base.insert_str(0, "var");
        }
        self.unique(base)
    }

    fn unique(&mut self, base: String) -> String {
        let mut name = base.clone();
        let mut k = 0usize;
        while self.names.contains(&name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        self.names.insert(name.clone());
        name
    }

    /// The operations and the weight file.
    pub fn finish(self) -> (Vec<proto::Operation>, Vec<u8>) {
        (self.ops, self.blobs.finish())
    }

    /// Fails with a message naming the op and the first target that has it.
    pub fn require(&self, what: &str, since: Target) -> R {
        if self.target < since {
            return unsupported(format!(
                "{what} needs {since} or later (target is {}); choose target {} or later",
                self.target,
                since.key()
            ));
        }
        Ok(())
    }

    /// A const op named after `base` (made unique). Large float and 8-bit data goes to the
    /// weight file, everything else is immediate.
    pub fn constant(&mut self, base: &str, shape: &[usize], data: ConstData) -> R<Var> {
        let n: usize = shape.iter().product();
        if data.len() != n {
            return Err(invalid(format!(
                "const '{base}' of shape {shape:?} has {} elements",
                data.len()
            )));
        }
        let dtype = data.dtype();
        let name = self.fresh(base);
        let val = self.value(shape, data)?;
        let mut attributes = BTreeMap::new();
        attributes.insert("name".to_string(), proto::string_value(&name));
        attributes.insert("val".to_string(), val);
        self.ops.push(proto::Operation {
            r#type: "const".into(),
            inputs: BTreeMap::new(),
            outputs: vec![proto::named(&name, dtype, shape)],
            blocks: Vec::new(),
            attributes,
        });
        Ok(Var {
            name,
            dtype,
            shape: shape.to_vec(),
        })
    }

    /// Weights stored as int8 with per-channel scales of type `dtype`, decoded at load time:
    /// `constexpr_affine_dequantize` (iOS16/17; parameters are attributes) or
    /// `constexpr_blockwise_shift_scale` (iOS18; parameters are value-bound inputs, the scale
    /// has the data's rank with one block per channel).
    pub fn int8_constant(&mut self, base: &str, shape: &[usize], q: &edgeport_quant::int8::Int8, dtype: DataType) -> R<Var> {
        check_int8(base, shape, q)?;
        let name = self.fresh(base);
        let data = self.value(shape, ConstData::I8(q.q.clone()))?;
        let mut attributes = BTreeMap::new();
        let mut inputs = BTreeMap::new();
        let op = if self.target >= Target::Ios18 {
            inputs.insert("data".to_string(), proto::argument_value(data));
            inputs.insert("scale".to_string(), proto::argument_value(self.channel_scales(shape, q, dtype)?));
            "constexpr_blockwise_shift_scale"
        } else {
            let axis = i32::try_from(q.axis).map_err(|_| invalid("int8 axis out of range"))?;
            attributes.insert("quantized_data".to_string(), data);
            attributes.insert("zero_point".to_string(), proto::immediate(DataType::Int8, &[], ConstData::I8(vec![0]).immediate()));
            attributes.insert("scale".to_string(), self.value(&[q.scales.len()], ConstData::float(&q.scales, dtype))?);
            attributes.insert("axis".to_string(), proto::immediate(DataType::Int32, &[], ConstData::I32(vec![axis]).immediate()));
            "constexpr_affine_dequantize"
        };
        Ok(self.push_constexpr(op, inputs, attributes, &name, dtype, shape))
    }

    /// Palettized weights decoded at load time: `constexpr_lut_to_dense`. iOS16/17: one table
    /// per tensor, indices packed least significant bit first into uint8, a 1-D table of type
    /// `dtype`, the shape as uint32. iOS18: typed (uint1..uint6) indices of the weight's shape
    /// and a table of shape [groups per axis..., 2^bits, 1], so tables may be per group of
    /// output channels.
    pub fn palette_constant(&mut self, base: &str, shape: &[usize], p: &edgeport_quant::palette::Grouped, dtype: DataType) -> R<Var> {
        check_palette(base, shape, p)?;
        let name = self.fresh(base);
        let mut attributes = BTreeMap::new();
        let mut inputs = BTreeMap::new();
        if self.target >= Target::Ios18 {
            if ![1, 2, 3, 4, 6, 8].contains(&p.bits) {
                return unsupported(format!("{}-bit palettes (iOS18 tables have 1, 2, 3, 4, 6 or 8 bits)", p.bits));
            }
            let indices = self.value(shape, typed_indices(&p.indices, p.bits))?;
            inputs.insert("indices".to_string(), proto::argument_value(indices));
            inputs.insert("lut".to_string(), proto::argument_value(self.grouped_lut(shape, p, dtype)?));
        } else {
            if p.lut.len() != 1 << p.bits {
                return Err(CoremlError::BadOption("grouped palettes need iOS18 (its constexpr_lut_to_dense takes a table per group); choose target ios18".into()).into());
            }
            if ![1, 2, 4, 6, 8].contains(&p.bits) {
                return unsupported(format!("{}-bit palettes need iOS18; iOS16/17 tables have 1, 2, 4, 6 or 8 bits", p.bits));
            }
            let packed = edgeport_quant::palette::pack(&p.indices, p.bits);
            attributes.insert("indices".to_string(), self.value(&[packed.len()], ConstData::U8(packed))?);
            attributes.insert("lut".to_string(), self.value(&[p.lut.len()], ConstData::float(&p.lut, dtype))?);
            attributes.insert("shape".to_string(), shape_attribute(shape)?);
        }
        Ok(self.push_constexpr("constexpr_lut_to_dense", inputs, attributes, &name, dtype, shape))
    }

    /// Pruned weights decoded at load time: `constexpr_sparse_to_dense`. iOS16/17: the nonzero
    /// values in order, a bit per value packed least significant bit first into uint8, the
    /// shape as uint32 (attributes); iOS18: the values and a uint1 mask of the weight's shape.
    pub fn sparse_constant(&mut self, base: &str, shape: &[usize], s: &edgeport_quant::prune::Sparse, dtype: DataType) -> R<Var> {
        check_mask(base, shape, s)?;
        let name = self.fresh(base);
        let nonzero = self.value(&[s.nonzero.len()], ConstData::float(&s.nonzero, dtype))?;
        if self.target >= Target::Ios18 {
            let mask = proto::argument_value(self.mask_value(shape, s)?);
            return self.sparse_to_dense(&name, proto::argument_value(nonzero), mask, dtype, shape);
        }
        let mut attributes = BTreeMap::new();
        attributes.insert("nonzero_data".to_string(), nonzero);
        attributes.insert("mask".to_string(), self.value(&[s.mask.len()], ConstData::U8(s.mask.clone()))?);
        attributes.insert("shape".to_string(), shape_attribute(shape)?);
        Ok(self.push_constexpr("constexpr_sparse_to_dense", BTreeMap::new(), attributes, &name, dtype, shape))
    }

    /// Pruned int8 weights (iOS18): `constexpr_sparse_blockwise_shift_scale` dequantizes the
    /// nonzero int8 values per channel, `constexpr_sparse_to_dense` places them.
    pub fn sparse_int8_constant(
        &mut self,
        base: &str,
        shape: &[usize],
        q: &edgeport_quant::int8::Int8,
        s: &edgeport_quant::prune::Sparse,
        dtype: DataType,
    ) -> R<Var> {
        check_mask(base, shape, s)?;
        check_int8(base, shape, q)?;
        let mut inputs = BTreeMap::new();
        inputs.insert("data_mask".to_string(), proto::argument_value(self.mask_value(shape, s)?));
        inputs.insert("nonzero_data".to_string(), proto::argument_value(self.value(&[s.nonzero.len()], ConstData::I8(s.select(&q.q)))?));
        inputs.insert("scale".to_string(), proto::argument_value(self.channel_scales(shape, q, dtype)?));
        self.sparse_pair(base, "constexpr_sparse_blockwise_shift_scale", inputs, shape, s, dtype)
    }

    /// Pruned palettized weights (iOS18): `constexpr_lut_to_sparse` looks up the nonzero
    /// indices, `constexpr_sparse_to_dense` places the values.
    pub fn sparse_palette_constant(
        &mut self,
        base: &str,
        shape: &[usize],
        p: &edgeport_quant::palette::Grouped,
        s: &edgeport_quant::prune::Sparse,
        dtype: DataType,
    ) -> R<Var> {
        check_mask(base, shape, s)?;
        check_palette(base, shape, p)?;
        let mut inputs = BTreeMap::new();
        inputs.insert("indices_mask".to_string(), proto::argument_value(self.mask_value(shape, s)?));
        let indices = self.value(&[s.nonzero.len()], typed_indices(&s.select(&p.indices), p.bits))?;
        inputs.insert("indices_nonzero_data".to_string(), proto::argument_value(indices));
        inputs.insert("lut".to_string(), proto::argument_value(self.grouped_lut(shape, p, dtype)?));
        self.sparse_pair(base, "constexpr_lut_to_sparse", inputs, shape, s, dtype)
    }

    /// iOS18 per-channel scales: the data's rank, one block per channel along `q.axis`.
    fn channel_scales(&mut self, shape: &[usize], q: &edgeport_quant::int8::Int8, dtype: DataType) -> R<proto::Value> {
        let mut scale_shape = vec![1; shape.len()];
        scale_shape[q.axis] = q.scales.len();
        self.value(&scale_shape, ConstData::float(&q.scales, dtype))
    }

    /// iOS18 tables: shape [groups per axis..., 2^bits, 1].
    fn grouped_lut(&mut self, shape: &[usize], p: &edgeport_quant::palette::Grouped, dtype: DataType) -> R<proto::Value> {
        let mut lut_shape = vec![1; shape.len()];
        lut_shape[p.axis] = shape[p.axis] / p.group;
        lut_shape.extend([1 << p.bits, 1]);
        self.value(&lut_shape, ConstData::float(&p.lut, dtype))
    }

    /// The iOS18 mask: uint1 of the weight's shape, in the weight file.
    fn mask_value(&mut self, shape: &[usize], s: &edgeport_quant::prune::Sparse) -> R<proto::Value> {
        let n: usize = shape.iter().product();
        self.value(shape, ConstData::Packed { bits: 1, count: n, bytes: s.mask.clone() })
    }

    /// A sparse-to-sparse constexpr `op` (outputs: the mask and the decoded nonzero values)
    /// followed by the `constexpr_sparse_to_dense` that places them.
    fn sparse_pair(
        &mut self,
        base: &str,
        op: &str,
        inputs: BTreeMap<String, proto::Argument>,
        shape: &[usize],
        s: &edgeport_quant::prune::Sparse,
        dtype: DataType,
    ) -> R<Var> {
        let mask = self.fresh(&format!("{base}_mask"));
        let nonzero = self.fresh(&format!("{base}_nonzero"));
        let mut attributes = BTreeMap::new();
        attributes.insert("name".to_string(), proto::string_value(&mask));
        self.ops.push(proto::Operation {
            r#type: op.into(),
            inputs,
            outputs: vec![proto::named(&mask, DataType::Uint1, shape), proto::named(&nonzero, dtype, &[s.nonzero.len()])],
            blocks: Vec::new(),
            attributes,
        });
        let name = self.fresh(base);
        self.sparse_to_dense(&name, proto::argument_names(&[nonzero]), proto::argument_names(&[mask]), dtype, shape)
    }

    /// iOS18 `constexpr_sparse_to_dense` of `nonzero_data` placed by `mask`.
    fn sparse_to_dense(&mut self, name: &str, nonzero: proto::Argument, mask: proto::Argument, dtype: DataType, shape: &[usize]) -> R<Var> {
        let inputs = BTreeMap::from([("nonzero_data".to_string(), nonzero), ("mask".to_string(), mask)]);
        Ok(self.push_constexpr("constexpr_sparse_to_dense", inputs, BTreeMap::new(), name, dtype, shape))
    }

    /// Appends a one-output constexpr op named after its output.
    fn push_constexpr(
        &mut self,
        op: &str,
        inputs: BTreeMap<String, proto::Argument>,
        mut attributes: BTreeMap<String, proto::Value>,
        name: &str,
        dtype: DataType,
        shape: &[usize],
    ) -> Var {
        attributes.insert("name".to_string(), proto::string_value(name));
        self.ops.push(proto::Operation {
            r#type: op.into(),
            inputs,
            outputs: vec![proto::named(name, dtype, shape)],
            blocks: Vec::new(),
            attributes,
        });
        Var { name: name.to_string(), dtype, shape: shape.to_vec() }
    }

    /// Renames the output `old` of the op that wrote it (and the op itself) to `new`, when
    /// nothing reads it yet; false when no op wrote `old` or something already reads it.
    pub fn rename_output(&mut self, old: &str, new: &str) -> bool {
        let read = self.ops.iter().any(|op| op.inputs.values().any(|a| proto::argument_reads(a, old)));
        if read {
            return false;
        }
        let Some(op) = self.ops.iter_mut().rev().find(|op| op.outputs.iter().any(|o| o.name == old)) else {
            return false;
        };
        for o in op.outputs.iter_mut().filter(|o| o.name == old) {
            o.name = new.to_string();
        }
        if op.attributes.get("name") == Some(&proto::string_value(old)) {
            op.attributes.insert("name".to_string(), proto::string_value(new));
        }
        true
    }

    /// A tensor value: in the weight file when large, immediate otherwise.
    fn value(&mut self, shape: &[usize], data: ConstData) -> R<proto::Value> {
        let n: usize = shape.iter().product();
        let dtype = data.dtype();
        if let ConstData::Packed { bits, count, bytes } = &data {
            let bdt = BlobDType::unsigned_bits(*bits).ok_or_else(|| invalid(format!("no packed storage of {bits}-bit values")))?;
            let padding = u8::try_from(bytes.len() * 8 - count * usize::from(*bits)).map_err(|_| invalid("packed data of the wrong size"))?;
            let offset = self.blobs.add_padded(bdt, bytes, padding)?;
            return Ok(proto::blob_value(dtype, shape, WEIGHT_FILE, offset));
        }
        Ok(match data.blob().filter(|_| n >= BLOB_MIN_ELEMENTS) {
            Some((bdt, bytes)) => {
                let offset = self.blobs.add(bdt, &bytes)?;
                proto::blob_value(dtype, shape, WEIGHT_FILE, offset)
            }
            None => proto::immediate(dtype, shape, data.immediate()),
        })
    }

    /// A small const that always stays immediate (op parameters).
    fn param(&mut self, base: &str, shape: &[usize], data: ConstData) -> R<Var> {
        let dtype = data.dtype();
        let name = self.fresh(base);
        let mut attributes = BTreeMap::new();
        attributes.insert("name".to_string(), proto::string_value(&name));
        attributes.insert(
            "val".to_string(),
            proto::immediate(dtype, shape, data.immediate()),
        );
        self.ops.push(proto::Operation {
            r#type: "const".into(),
            inputs: BTreeMap::new(),
            outputs: vec![proto::named(&name, dtype, shape)],
            blocks: Vec::new(),
            attributes,
        });
        Ok(Var {
            name,
            dtype,
            shape: shape.to_vec(),
        })
    }

    /// Start an op of kind `def` whose (first) output will be called `out`; parameter consts
    /// are named after it.
    pub fn op<'m>(&'m mut self, def: OpDef, out: &str) -> OpBuilder<'m> {
        OpBuilder {
            mil: self,
            def,
            base: out.to_string(),
            inputs: BTreeMap::new(),
            dtypes: Vec::new(),
            error: None,
        }
    }
}

/// Collects the inputs of one op; `out`/`outs` emits it.
pub struct OpBuilder<'m> {
    mil: &'m mut Mil,
    def: OpDef,
    base: String,
    inputs: BTreeMap<String, Vec<String>>,
    dtypes: Vec<DataType>,
    error: Option<Fail>,
}

impl OpBuilder<'_> {
    /// Bind input `param` to a value.
    pub fn x(mut self, param: &str, v: &Var) -> Self {
        self.inputs.insert(param.to_string(), vec![v.name.clone()]);
        self.dtypes.push(v.dtype);
        self
    }

    /// Bind a tuple input (e.g. `concat`'s `values`).
    pub fn tuple(mut self, param: &str, vs: &[Var]) -> Self {
        self.inputs.insert(
            param.to_string(),
            vs.iter().map(|v| v.name.clone()).collect(),
        );
        self.dtypes.extend(vs.iter().map(|v| v.dtype));
        self
    }

    fn with_param(mut self, param: &str, shape: &[usize], data: ConstData) -> Self {
        if self.error.is_none() {
            let base = format!("{}_{param}", self.base);
            match self.mil.param(&base, shape, data) {
                Ok(v) => {
                    self.inputs.insert(param.to_string(), vec![v.name]);
                }
                Err(e) => self.error = Some(e),
            }
        }
        self
    }

    /// A rank-1 int32 parameter.
    pub fn ints(self, param: &str, v: &[i32]) -> Self {
        self.with_param(param, &[v.len()], ConstData::I32(v.to_vec()))
    }

    /// A scalar int32 parameter.
    pub fn int(self, param: &str, v: i32) -> Self {
        self.with_param(param, &[], ConstData::I32(vec![v]))
    }

    /// A rank-1 bool parameter.
    pub fn bools(self, param: &str, v: &[bool]) -> Self {
        self.with_param(param, &[v.len()], ConstData::Bool(v.to_vec()))
    }

    /// A scalar bool parameter.
    pub fn boolean(self, param: &str, v: bool) -> Self {
        self.with_param(param, &[], ConstData::Bool(vec![v]))
    }

    /// A scalar int8 parameter.
    pub fn int8(self, param: &str, v: i8) -> Self {
        self.with_param(param, &[], ConstData::I8(vec![v]))
    }

    /// A scalar string parameter.
    pub fn string(self, param: &str, v: &str) -> Self {
        self.with_param(param, &[], ConstData::Str(v.to_string()))
    }

    /// A scalar float parameter of type `dtype` (fp16 or fp32).
    pub fn float(self, param: &str, v: f32, dtype: DataType) -> Self {
        self.with_param(param, &[], ConstData::float(&[v], dtype))
    }

    /// Emit the op with one output named exactly `name` (reserved by the caller).
    pub fn out(self, name: &str, dtype: DataType, shape: &[usize]) -> R<Var> {
        let mut outs = self.outs(&[(name.to_string(), dtype, shape.to_vec())])?;
        outs.pop().ok_or_else(|| invalid("op without output"))
    }

    /// Emit the op with the given outputs.
    pub fn outs(self, outputs: &[(String, DataType, Vec<usize>)]) -> R<Vec<Var>> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let name = self.def.name;
        self.mil
            .require(&format!("MIL op `{name}`"), self.def.since)?;
        let small_int = |d: &DataType| {
            matches!(
                d,
                DataType::Int8 | DataType::Uint8 | DataType::Int16 | DataType::Uint16
            )
        };
        if let Some(d) = self
            .dtypes
            .iter()
            .chain(outputs.iter().map(|(_, d, _)| d))
            .find(|d| small_int(d))
        {
            self.mil.require(
                &format!("MIL op `{name}` on {} tensors", d.mil_name()),
                Target::Ios17,
            )?;
        }
        let op_name = outputs
            .first()
            .map(|(n, _, _)| n.clone())
            .unwrap_or_default();
        let mut attributes = BTreeMap::new();
        attributes.insert("name".to_string(), proto::string_value(&op_name));
        self.mil.ops.push(proto::Operation {
            r#type: name.to_string(),
            inputs: self
                .inputs
                .into_iter()
                .map(|(k, v)| (k, proto::argument_names(&v)))
                .collect(),
            outputs: outputs
                .iter()
                .map(|(n, d, s)| proto::named(n, *d, s))
                .collect(),
            blocks: Vec::new(),
            attributes,
        });
        Ok(outputs
            .iter()
            .map(|(n, d, s)| Var {
                name: n.clone(),
                dtype: *d,
                shape: s.clone(),
            })
            .collect())
    }
}
