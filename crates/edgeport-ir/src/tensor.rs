use crate::{DType, IrError, IrResult};

/// The static type of a value: element type and shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TensorType {
    pub dtype: DType,
    pub shape: Vec<usize>,
}

impl TensorType {
    pub fn new(dtype: DType, shape: Vec<usize>) -> Self {
        TensorType { dtype, shape }
    }
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn bytes(&self) -> usize {
        self.elements() * self.dtype.size_bytes()
    }
}

/// Typed element storage. Float16 is kept as raw bits.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    F32(Vec<f32>),
    F16(Vec<u16>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    Bool(Vec<bool>),
}

impl TensorData {
    pub fn dtype(&self) -> DType {
        match self {
            TensorData::F32(_) => DType::F32,
            TensorData::F16(_) => DType::F16,
            TensorData::I64(_) => DType::I64,
            TensorData::I32(_) => DType::I32,
            TensorData::I8(_) => DType::I8,
            TensorData::U8(_) => DType::U8,
            TensorData::Bool(_) => DType::Bool,
        }
    }
    pub fn len(&self) -> usize {
        match self {
            TensorData::F32(v) => v.len(),
            TensorData::F16(v) => v.len(),
            TensorData::I64(v) => v.len(),
            TensorData::I32(v) => v.len(),
            TensorData::I8(v) => v.len(),
            TensorData::U8(v) => v.len(),
            TensorData::Bool(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements of `dtype` from their little-endian bytes (as model and array files store them);
    /// the inverse of [`Tensor::to_le_bytes`]. A trailing partial element is ignored, so callers
    /// check the length first.
    pub fn from_le_bytes(raw: &[u8], dtype: DType) -> TensorData {
        match dtype {
            DType::F32 => TensorData::F32(raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()),
            DType::F16 => TensorData::F16(raw.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect()),
            DType::I64 => TensorData::I64(
                raw.chunks_exact(8).map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])).collect(),
            ),
            DType::I32 => TensorData::I32(raw.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()),
            DType::I8 => TensorData::I8(raw.iter().map(|&b| b as i8).collect()),
            DType::U8 => TensorData::U8(raw.to_vec()),
            DType::Bool => TensorData::Bool(raw.iter().map(|&b| b != 0).collect()),
        }
    }
}

/// A constant tensor: shape plus data, with `shape.product() == data.len()` always.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: TensorData,
}

impl Tensor {
    pub fn new(shape: Vec<usize>, data: TensorData) -> IrResult<Tensor> {
        let n: usize = shape.iter().product();
        if n != data.len() {
            return Err(IrError::Invalid(format!(
                "tensor of shape {shape:?} needs {n} elements, got {}",
                data.len()
            )));
        }
        Ok(Tensor { shape, data })
    }
    pub fn from_f32(shape: Vec<usize>, v: Vec<f32>) -> IrResult<Tensor> {
        Tensor::new(shape, TensorData::F32(v))
    }
    pub fn from_i64(shape: Vec<usize>, v: Vec<i64>) -> IrResult<Tensor> {
        Tensor::new(shape, TensorData::I64(v))
    }
    pub fn scalar_f32(x: f32) -> Tensor {
        Tensor { shape: vec![], data: TensorData::F32(vec![x]) }
    }
    pub fn vec_i64(v: Vec<i64>) -> Tensor {
        Tensor { shape: vec![v.len()], data: TensorData::I64(v) }
    }
    pub fn vec_i32(v: Vec<i32>) -> Tensor {
        Tensor { shape: vec![v.len()], data: TensorData::I32(v) }
    }
    pub fn zeros(dtype: DType, shape: Vec<usize>) -> Tensor {
        let n = shape.iter().product();
        let data = match dtype {
            DType::F32 => TensorData::F32(vec![0.0; n]),
            DType::F16 => TensorData::F16(vec![0; n]),
            DType::I64 => TensorData::I64(vec![0; n]),
            DType::I32 => TensorData::I32(vec![0; n]),
            DType::I8 => TensorData::I8(vec![0; n]),
            DType::U8 => TensorData::U8(vec![0; n]),
            DType::Bool => TensorData::Bool(vec![false; n]),
        };
        Tensor { shape, data }
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    pub fn data(&self) -> &TensorData {
        &self.data
    }
    pub fn into_data(self) -> TensorData {
        self.data
    }
    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }
    pub fn ty(&self) -> TensorType {
        TensorType::new(self.dtype(), self.shape.clone())
    }
    pub fn len(&self) -> usize {
        self.data.len()
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Same data, new shape with the same element count.
    pub fn reshaped(mut self, shape: Vec<usize>) -> IrResult<Tensor> {
        if shape.iter().product::<usize>() != self.len() {
            return Err(IrError::Invalid(format!(
                "cannot reshape {:?} to {shape:?}",
                self.shape
            )));
        }
        self.shape = shape;
        Ok(self)
    }

    pub fn as_f32(&self) -> Option<&[f32]> {
        match &self.data {
            TensorData::F32(v) => Some(v),
            _ => None,
        }
    }

    /// Float view of any numeric tensor (integers converted).
    pub fn to_f32_vec(&self) -> Vec<f32> {
        match &self.data {
            TensorData::F32(v) => v.clone(),
            TensorData::F16(v) => v.iter().map(|&b| f16_bits_to_f32(b)).collect(),
            TensorData::I64(v) => v.iter().map(|&x| x as f32).collect(),
            TensorData::I32(v) => v.iter().map(|&x| x as f32).collect(),
            TensorData::I8(v) => v.iter().map(|&x| x as f32).collect(),
            TensorData::U8(v) => v.iter().map(|&x| x as f32).collect(),
            TensorData::Bool(v) => v.iter().map(|&x| if x { 1.0 } else { 0.0 }).collect(),
        }
    }

    /// Integer view of an integer or bool tensor; floats are truncated toward zero.
    pub fn to_i64_vec(&self) -> Vec<i64> {
        match &self.data {
            TensorData::F32(v) => v.iter().map(|&x| x as i64).collect(),
            TensorData::F16(v) => v.iter().map(|&b| f16_bits_to_f32(b) as i64).collect(),
            TensorData::I64(v) => v.clone(),
            TensorData::I32(v) => v.iter().map(|&x| x as i64).collect(),
            TensorData::I8(v) => v.iter().map(|&x| x as i64).collect(),
            TensorData::U8(v) => v.iter().map(|&x| x as i64).collect(),
            TensorData::Bool(v) => v.iter().map(|&x| x as i64).collect(),
        }
    }

    /// Convert to another dtype (ONNX Cast semantics for the supported types).
    pub fn cast(&self, to: DType) -> Tensor {
        let data = match to {
            DType::F32 => TensorData::F32(self.to_f32_vec()),
            DType::F16 => {
                TensorData::F16(self.to_f32_vec().into_iter().map(f32_to_f16_bits).collect())
            }
            DType::I64 => TensorData::I64(self.int_or_trunc()),
            DType::I32 => TensorData::I32(self.int_or_trunc().into_iter().map(|x| x as i32).collect()),
            DType::I8 => TensorData::I8(self.int_or_trunc().into_iter().map(|x| x as i8).collect()),
            DType::U8 => TensorData::U8(self.int_or_trunc().into_iter().map(|x| x as u8).collect()),
            DType::Bool => TensorData::Bool(self.to_f32_vec().into_iter().map(|x| x != 0.0).collect()),
        };
        Tensor { shape: self.shape.clone(), data }
    }

    fn int_or_trunc(&self) -> Vec<i64> {
        self.to_i64_vec()
    }

    /// Little-endian bytes of the data, as stored in model files.
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match &self.data {
            TensorData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::F16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::I64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::I8(v) => v.iter().map(|&x| x as u8).collect(),
            TensorData::U8(v) => v.clone(),
            TensorData::Bool(v) => v.iter().map(|&x| x as u8).collect(),
        }
    }
}

/// IEEE half bits to f32.
pub fn f16_bits_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let mant = (h & 0x3ff) as u32;
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: normalise.
            let mut e: i32 = 0;
            let mut m = m;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            let m = m & 0x3ff;
            sign | (((127 - 15 + 1 + e) as u32) << 23) | (m << 13)
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// f32 to IEEE half bits, round to nearest even.
pub fn f32_to_f16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let mant = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if mant != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = mant | 0x80_0000;
        let shift = (14 - e) as u32;
        let half = 1u32 << (shift - 1);
        let rem = m & ((1 << shift) - 1);
        let mut r = m >> shift;
        if rem > half || (rem == half && r & 1 == 1) {
            r += 1;
        }
        return sign | r as u16;
    }
    let mut r = ((e as u32) << 10) | (mant >> 13);
    let rem = mant & 0x1fff;
    if rem > 0x1000 || (rem == 0x1000 && r & 1 == 1) {
        r += 1;
    }
    sign | r as u16
}
