//! Tensor, buffer and operator-code tables, and the final model assembly.
//!
//! Everything is kept in insertion-ordered vectors (lookups through BTreeMaps), so the bytes
//! depend only on the order in which the lowering asks for things.

use std::collections::{BTreeMap, BTreeSet};

use edgeport_ir::{DType, Graph, QuantParams, Tensor, ValueId};
use flatbuffers::{FlatBufferBuilder, Push, UnionWIPOffset, WIPOffset};
use sha2::{Digest, Sha256};
use tract_tflite::tflite;

use crate::TfliteError;

/// The most constant data one model may hold: a flatbuffer is addressed with 32-bit offsets,
/// and the tables around the data need some room too.
pub(crate) const MAX_DATA_BYTES: usize = (1 << 31) - (256 << 20);

/// Alignment of constant buffers inside the file, so that runtimes that map the file can read
/// the data in place with any element type.
const BUFFER_ALIGN: usize = 16;

/// The options table of one operator: its union tag and offset (`NONE`/None for ops without).
pub(crate) type Options = (tflite::BuiltinOptions, Option<WIPOffset<UnionWIPOffset>>);

pub(crate) const NO_OPTIONS: Options = (tflite::BuiltinOptions::NONE, None);

/// Optional operator input that is left out.
pub(crate) const NO_INPUT: i32 = -1;

struct TensorDef {
    name: String,
    shape: Vec<i32>,
    dtype: tflite::TensorType,
    buffer: u32,
    quant: Option<Quantization>,
}

/// A tensor's quantization: one scale and zero point, or one per channel of `dim`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Quantization {
    pub scales: Vec<f32>,
    pub zero_points: Vec<i64>,
    pub dim: i32,
}

impl From<QuantParams> for Quantization {
    fn from(q: QuantParams) -> Self {
        Quantization { scales: vec![q.scale], zero_points: vec![i64::from(q.zero_point)], dim: 0 }
    }
}

struct OpDef {
    code: tflite::BuiltinOperator,
    version: i32,
    inputs: Vec<i32>,
    outputs: Vec<i32>,
    options: Options,
}

/// A byte of a constant buffer, pushed with the alignment the buffer needs.
struct AlignedByte(u8);

impl Push for AlignedByte {
    type Output = u8;

    unsafe fn push(&self, dst: &mut [u8], _written_len: usize) {
        if let Some(d) = dst.first_mut() {
            *d = self.0;
        }
    }

    fn size() -> usize {
        1
    }

    fn alignment() -> flatbuffers::PushAlignment {
        flatbuffers::PushAlignment::new(BUFFER_ALIGN)
    }
}

pub(crate) struct ModelBuilder {
    pub(crate) fbb: FlatBufferBuilder<'static>,
    tensors: Vec<TensorDef>,
    names: BTreeSet<String>,
    suffixes: BTreeMap<String, usize>,
    buffers: Vec<WIPOffset<tflite::Buffer<'static>>>,
    dedup: BTreeMap<(usize, [u8; 32]), u32>,
    data_bytes: usize,
    ops: Vec<OpDef>,
    values: BTreeMap<ValueId, i32>,
    /// Store float32 constants as float16 behind a DEQUANTIZE (`ExportOptions::float16_weights`).
    float16_weights: bool,
    /// Tensor names that differ from the IR value's (an int8 value behind a float interface).
    renamed: BTreeMap<ValueId, String>,
    /// Model inputs and outputs whose interface tensor is not the value's own tensor.
    pub(crate) interface: BTreeMap<ValueId, i32>,
}

/// The TFLite element type of an IR dtype.
pub(crate) fn tfl_dtype(d: DType) -> tflite::TensorType {
    match d {
        DType::F32 => tflite::TensorType::FLOAT32,
        DType::F16 => tflite::TensorType::FLOAT16,
        DType::I64 => tflite::TensorType::INT64,
        DType::I32 => tflite::TensorType::INT32,
        DType::I8 => tflite::TensorType::INT8,
        DType::U8 => tflite::TensorType::UINT8,
        DType::Bool => tflite::TensorType::BOOL,
    }
}

fn dims_i32(shape: &[usize]) -> Result<Vec<i32>, TfliteError> {
    shape
        .iter()
        .map(|&d| {
            i32::try_from(d)
                .map_err(|_| TfliteError::Invalid(format!("dimension {d} does not fit in int32")))
        })
        .collect()
}

/// Reject graphs whose constants cannot fit in one flatbuffer before building anything.
pub(crate) fn check_size(g: &Graph) -> Result<(), TfliteError> {
    let mut total = 0usize;
    for v in g.values() {
        if let Some(c) = &v.constant {
            total = total.saturating_add(c.ty().bytes());
        }
    }
    if total > MAX_DATA_BYTES {
        return Err(TfliteError::TooLarge(format!(
            "{total} bytes of constants exceed the {MAX_DATA_BYTES} bytes a flatbuffer can hold"
        )));
    }
    Ok(())
}

impl ModelBuilder {
    pub(crate) fn new(opts: &crate::ExportOptions) -> ModelBuilder {
        let mut fbb = FlatBufferBuilder::new();
        // Buffer 0 is the empty buffer every non-constant tensor points at.
        let empty = tflite::Buffer::create(&mut fbb, &tflite::BufferArgs { data: None });
        ModelBuilder {
            fbb,
            tensors: Vec::new(),
            names: BTreeSet::new(),
            suffixes: BTreeMap::new(),
            buffers: vec![empty],
            dedup: BTreeMap::new(),
            data_bytes: 0,
            ops: Vec::new(),
            values: BTreeMap::new(),
            float16_weights: opts.float16_weights,
            renamed: BTreeMap::new(),
            interface: BTreeMap::new(),
        }
    }

    /// Whether a constant is stored as float16 and widened by a DEQUANTIZE: with
    /// `float16_weights`, every float32 constant of more than one element (weights, biases,
    /// per-channel operands). Scalars stay float32: they save nothing and cost an op.
    fn stored_as_f16(&self, t: &Tensor) -> bool {
        self.float16_weights && t.dtype() == DType::F32 && t.len() > 1
    }

    /// A float16 constant holding `t`, widened to a new float32 tensor by a DEQUANTIZE (the
    /// pattern TFLite's float16 quantization writes; XNNPACK folds it into the consumer).
    fn f16_constant(&mut self, name: String, t: &Tensor) -> Result<i32, TfliteError> {
        let half = t.cast(DType::F16);
        let buffer = self.add_buffer(&half.to_le_bytes())?;
        let stored = self.push_tensor(name.clone(), tflite::TensorType::FLOAT16, t.shape(), buffer)?;
        let wide_name = self.unique_name(&format!("{name}/dequantize"));
        let wide = self.push_tensor(wide_name, tflite::TensorType::FLOAT32, t.shape(), 0)?;
        crate::ops::cast::dequantize_f16(self, stored, wide);
        Ok(wide)
    }

    /// Reserve the names of all IR values so that helper tensors never take one.
    pub(crate) fn reserve_names(&mut self, g: &Graph) {
        for v in g.values() {
            self.names.insert(v.name.clone());
        }
    }

    /// Gives value `id`'s tensor another name (before it is created).
    pub(crate) fn rename(&mut self, id: ValueId, base: &str) {
        let name = self.unique_name(base);
        self.renamed.insert(id, name);
    }

    pub(crate) fn unique_name(&mut self, base: &str) -> String {
        let base = if base.is_empty() { "t" } else { base };
        let name = if self.names.contains(base) {
            // Resume from the last suffix handed out for this base (keeps this linear when
            // many helpers share a base, e.g. nodes without names).
            let next = self.suffixes.entry(base.to_string()).or_insert(1);
            loop {
                let candidate = format!("{base}_{next}");
                *next += 1;
                if !self.names.contains(&candidate) {
                    break candidate;
                }
            }
        } else {
            base.to_string()
        };
        self.names.insert(name.clone());
        name
    }

    fn add_buffer(&mut self, bytes: &[u8]) -> Result<u32, TfliteError> {
        if bytes.is_empty() {
            return Ok(0);
        }
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        if let Some(&i) = self.dedup.get(&(bytes.len(), digest)) {
            return Ok(i);
        }
        self.data_bytes = self.data_bytes.saturating_add(bytes.len());
        if self.data_bytes > MAX_DATA_BYTES {
            return Err(TfliteError::TooLarge(format!(
                "constant data exceeds the {MAX_DATA_BYTES} bytes a flatbuffer can hold"
            )));
        }
        let aligned: Vec<AlignedByte> = bytes.iter().map(|&b| AlignedByte(b)).collect();
        let data = self.fbb.create_vector(&aligned);
        let buf = tflite::Buffer::create(&mut self.fbb, &tflite::BufferArgs { data: Some(data) });
        let index = u32::try_from(self.buffers.len())
            .map_err(|_| TfliteError::TooLarge("too many buffers".into()))?;
        self.buffers.push(buf);
        self.dedup.insert((bytes.len(), digest), index);
        Ok(index)
    }

    fn push_tensor(
        &mut self,
        name: String,
        dtype: tflite::TensorType,
        shape: &[usize],
        buffer: u32,
    ) -> Result<i32, TfliteError> {
        self.push_tensor_q(name, dtype, shape, buffer, None)
    }

    pub(crate) fn push_tensor_q(
        &mut self,
        name: String,
        dtype: tflite::TensorType,
        shape: &[usize],
        buffer: u32,
        quant: Option<Quantization>,
    ) -> Result<i32, TfliteError> {
        let shape = dims_i32(shape)?;
        let index = i32::try_from(self.tensors.len())
            .map_err(|_| TfliteError::TooLarge("too many tensors".into()))?;
        self.tensors.push(TensorDef {
            name,
            shape,
            dtype,
            buffer,
            quant,
        });
        Ok(index)
    }

    /// A float32 tensor named `name` exactly (an interface tensor keeps the model's name).
    pub(crate) fn float_named(&mut self, name: &str, shape: &[usize]) -> Result<i32, TfliteError> {
        self.push_tensor(name.to_string(), tflite::TensorType::FLOAT32, shape, 0)
    }

    /// A new int8 intermediate with parameters `q`.
    pub(crate) fn temp_int8(&mut self, name: &str, shape: &[usize], q: QuantParams) -> Result<i32, TfliteError> {
        let name = self.unique_name(name);
        self.push_tensor_q(name, tflite::TensorType::INT8, shape, 0, Some(q.into()))
    }

    /// An int8 constant with per-channel (or per-tensor) parameters.
    pub(crate) fn const_int8(
        &mut self,
        name: &str,
        shape: &[usize],
        data: &[i8],
        quant: Quantization,
    ) -> Result<i32, TfliteError> {
        let name = self.unique_name(name);
        let bytes: Vec<u8> = data.iter().map(|&q| q as u8).collect();
        let buffer = self.add_buffer(&bytes)?;
        self.push_tensor_q(name, tflite::TensorType::INT8, shape, buffer, Some(quant))
    }

    /// An int32 constant with per-channel parameters (an int8 layer's bias).
    pub(crate) fn const_int32_quantized(
        &mut self,
        name: &str,
        data: &[i32],
        quant: Quantization,
    ) -> Result<i32, TfliteError> {
        let name = self.unique_name(name);
        let bytes: Vec<u8> = data.iter().flat_map(|q| q.to_le_bytes()).collect();
        let buffer = self.add_buffer(&bytes)?;
        self.push_tensor_q(name, tflite::TensorType::INT32, &[data.len()], buffer, Some(quant))
    }

    /// The tensor of an IR value (created on first use; constants get their data).
    pub(crate) fn value(&mut self, g: &Graph, id: ValueId) -> Result<i32, TfliteError> {
        if let Some(&t) = self.values.get(&id) {
            return Ok(t);
        }
        if id.0 as usize >= g.values().len() {
            return Err(TfliteError::Invalid(format!(
                "value id {} out of range",
                id.0
            )));
        }
        let v = g.value(id);
        if let Some(q) = v.quant.filter(|_| v.ty.dtype == DType::F32) {
            let name = self.renamed.get(&id).cloned().unwrap_or_else(|| v.name.clone());
            let buffer = match &v.constant {
                Some(c) => {
                    let bytes: Vec<u8> = c.to_f32_vec().iter().map(|&x| q.quantize(x) as u8).collect();
                    self.add_buffer(&bytes)?
                }
                None => 0,
            };
            let t = self.push_tensor_q(name, tflite::TensorType::INT8, &v.ty.shape, buffer, Some(q.into()))?;
            self.values.insert(id, t);
            return Ok(t);
        }
        if let Some(c) = v.constant.as_ref().filter(|c| self.stored_as_f16(c)) {
            let t = self.f16_constant(v.name.clone(), c)?;
            self.values.insert(id, t);
            return Ok(t);
        }
        let buffer = match &v.constant {
            Some(c) => self.add_buffer(&c.to_le_bytes())?,
            None => 0,
        };
        let t = self.push_tensor(v.name.clone(), tfl_dtype(v.ty.dtype), &v.ty.shape, buffer)?;
        self.values.insert(id, t);
        Ok(t)
    }

    /// A new non-constant tensor for an intermediate result of a lowering.
    pub(crate) fn temp(
        &mut self,
        name: &str,
        dtype: DType,
        shape: &[usize],
    ) -> Result<i32, TfliteError> {
        let name = self.unique_name(name);
        self.push_tensor(name, tfl_dtype(dtype), shape, 0)
    }

    /// A new constant tensor holding `t`.
    pub(crate) fn constant(&mut self, name: &str, t: &Tensor) -> Result<i32, TfliteError> {
        let name = self.unique_name(name);
        if self.stored_as_f16(t) {
            return self.f16_constant(name, t);
        }
        let buffer = self.add_buffer(&t.to_le_bytes())?;
        self.push_tensor(name, tfl_dtype(t.dtype()), t.shape(), buffer)
    }

    pub(crate) fn const_f32(
        &mut self,
        name: &str,
        shape: &[usize],
        data: Vec<f32>,
    ) -> Result<i32, TfliteError> {
        let t = Tensor::from_f32(shape.to_vec(), data)
            .map_err(|e| TfliteError::Invalid(e.to_string()))?;
        self.constant(name, &t)
    }

    pub(crate) fn scalar_f32(&mut self, name: &str, x: f32) -> Result<i32, TfliteError> {
        self.constant(name, &Tensor::scalar_f32(x))
    }

    /// A rank-1 int32 constant (shapes, axes, sizes).
    pub(crate) fn vec_i32(&mut self, name: &str, data: Vec<i32>) -> Result<i32, TfliteError> {
        self.constant(name, &Tensor::vec_i32(data))
    }

    /// An int32 constant of any shape.
    pub(crate) fn const_i32(
        &mut self,
        name: &str,
        shape: &[usize],
        data: Vec<i32>,
    ) -> Result<i32, TfliteError> {
        let t = Tensor::new(shape.to_vec(), edgeport_ir::TensorData::I32(data))
            .map_err(|e| TfliteError::Invalid(e.to_string()))?;
        self.constant(name, &t)
    }

    /// The per-tensor int8 parameters of an int8 tensor created by this builder.
    pub(crate) fn int8_params(&self, t: i32) -> Option<QuantParams> {
        let def = self.tensors.get(usize::try_from(t).ok()?)?;
        let q = def.quant.as_ref().filter(|_| def.dtype == tflite::TensorType::INT8)?;
        match (q.scales.as_slice(), q.zero_points.as_slice()) {
            ([scale], [zp]) => Some(QuantParams { scale: *scale, zero_point: i8::try_from(*zp).ok()? }),
            _ => None,
        }
    }

    /// Element type and shape of a tensor created by this builder.
    pub(crate) fn tensor_info(&self, t: i32) -> Option<(tflite::TensorType, &[i32])> {
        let def = self.tensors.get(usize::try_from(t).ok()?)?;
        Some((def.dtype, &def.shape))
    }

    /// Append an operator.
    pub(crate) fn op(
        &mut self,
        code: tflite::BuiltinOperator,
        version: i32,
        inputs: &[i32],
        outputs: &[i32],
        options: Options,
    ) {
        self.ops.push(OpDef {
            code,
            version,
            inputs: inputs.to_vec(),
            outputs: outputs.to_vec(),
            options,
        });
    }

    /// Assemble the model and return its bytes.
    pub(crate) fn finish(mut self, g: &Graph) -> Result<Vec<u8>, TfliteError> {
        let inputs: Vec<i32> = g
            .inputs
            .iter()
            .map(|&i| match self.interface.get(&i) {
                Some(&t) => Ok(t),
                None => self.value(g, i),
            })
            .collect::<Result<_, _>>()?;
        let outputs: Vec<i32> = g
            .outputs
            .iter()
            .map(|&o| match self.interface.get(&o) {
                Some(&t) => Ok(t),
                None => self.value(g, o),
            })
            .collect::<Result<_, _>>()?;
        let fbb = &mut self.fbb;

        // Operator codes, in order of first use; one entry per builtin, at the highest version
        // any of its uses needs.
        let mut code_index: BTreeMap<i32, usize> = BTreeMap::new();
        let mut codes: Vec<(tflite::BuiltinOperator, i32)> = Vec::new();
        for op in &self.ops {
            match code_index.get(&op.code.0) {
                Some(&i) => codes[i].1 = codes[i].1.max(op.version),
                None => {
                    code_index.insert(op.code.0, codes.len());
                    codes.push((op.code, op.version));
                }
            }
        }
        let op_codes: Vec<_> = codes
            .iter()
            .map(|&(code, version)| {
                tflite::OperatorCode::create(
                    fbb,
                    &tflite::OperatorCodeArgs {
                        deprecated_builtin_code: code.0.min(127) as i8,
                        custom_code: None,
                        version,
                        builtin_code: code,
                    },
                )
            })
            .collect();
        let op_codes = fbb.create_vector(&op_codes);

        let tensors: Vec<_> = self
            .tensors
            .iter()
            .map(|t| {
                let name = fbb.create_string(&t.name);
                let shape = fbb.create_vector(&t.shape);
                let quantization = t.quant.as_ref().map(|q| {
                    let scale = fbb.create_vector(&q.scales);
                    let zero_point = fbb.create_vector(&q.zero_points);
                    tflite::QuantizationParameters::create(
                        fbb,
                        &tflite::QuantizationParametersArgs {
                            scale: Some(scale),
                            zero_point: Some(zero_point),
                            quantized_dimension: q.dim,
                            ..Default::default()
                        },
                    )
                });
                tflite::Tensor::create(
                    fbb,
                    &tflite::TensorArgs {
                        shape: Some(shape),
                        type_: t.dtype,
                        buffer: t.buffer,
                        name: Some(name),
                        quantization,
                        ..Default::default()
                    },
                )
            })
            .collect();
        let tensors = fbb.create_vector(&tensors);

        let mut operators = Vec::with_capacity(self.ops.len());
        for op in &self.ops {
            let opcode_index = code_index.get(&op.code.0).copied().unwrap_or(0) as u32;
            let ins = fbb.create_vector(&op.inputs);
            let outs = fbb.create_vector(&op.outputs);
            operators.push(tflite::Operator::create(
                fbb,
                &tflite::OperatorArgs {
                    opcode_index,
                    inputs: Some(ins),
                    outputs: Some(outs),
                    builtin_options_type: op.options.0,
                    builtin_options: op.options.1,
                    ..Default::default()
                },
            ));
        }
        let operators = fbb.create_vector(&operators);

        let sg_inputs = fbb.create_vector(&inputs);
        let sg_outputs = fbb.create_vector(&outputs);
        let sg_name = fbb.create_string(&g.name);
        let subgraph = tflite::SubGraph::create(
            fbb,
            &tflite::SubGraphArgs {
                tensors: Some(tensors),
                inputs: Some(sg_inputs),
                outputs: Some(sg_outputs),
                operators: Some(operators),
                name: Some(sg_name),
            },
        );
        let subgraphs = fbb.create_vector(&[subgraph]);

        let tensor_map = |ids: &[ValueId], idx: &[i32], fbb: &mut FlatBufferBuilder<'static>| {
            let maps: Vec<_> = ids
                .iter()
                .zip(idx)
                .map(|(&id, &t)| {
                    let name = fbb.create_string(&g.value(id).name);
                    tflite::TensorMap::create(
                        fbb,
                        &tflite::TensorMapArgs {
                            name: Some(name),
                            tensor_index: t as u32,
                        },
                    )
                })
                .collect();
            fbb.create_vector(&maps)
        };
        let sig_inputs = tensor_map(&g.inputs, &inputs, fbb);
        let sig_outputs = tensor_map(&g.outputs, &outputs, fbb);
        let key = fbb.create_string("serving_default");
        let signature = tflite::SignatureDef::create(
            fbb,
            &tflite::SignatureDefArgs {
                inputs: Some(sig_inputs),
                outputs: Some(sig_outputs),
                signature_key: Some(key),
                subgraph_index: 0,
            },
        );
        let signatures = fbb.create_vector(&[signature]);

        let buffers = fbb.create_vector(&self.buffers);
        let description = fbb.create_string("edgeport");
        let model = tflite::Model::create(
            fbb,
            &tflite::ModelArgs {
                version: 3,
                operator_codes: Some(op_codes),
                subgraphs: Some(subgraphs),
                description: Some(description),
                buffers: Some(buffers),
                signature_defs: Some(signatures),
                ..Default::default()
            },
        );
        tflite::finish_model_buffer(fbb, model);
        Ok(fbb.finished_data().to_vec())
    }
}

/// An empty options table (for ops whose options carry no fields).
pub(crate) fn empty_options(
    fbb: &mut FlatBufferBuilder<'static>,
    kind: tflite::BuiltinOptions,
) -> Options {
    let start = fbb.start_table();
    let t = fbb.end_table(start);
    (kind, Some(t.as_union_value()))
}
