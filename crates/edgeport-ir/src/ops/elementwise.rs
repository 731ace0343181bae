use super::{arity, expect_float};
use crate::error::shape_err;
use crate::{IrError, IrResult, TensorType};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Relu,
    Sigmoid,
    Tanh,
    Erf,
    /// Exact (erf-based) GELU.
    Gelu,
    /// tanh-approximated GELU.
    GeluTanh,
    HardSwish,
    Sqrt,
    Rsqrt,
    Reciprocal,
    Exp,
    Log,
    Neg,
    Abs,
    Floor,
    Ceil,
}

impl UnaryOp {
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Relu => "Relu",
            UnaryOp::Sigmoid => "Sigmoid",
            UnaryOp::Tanh => "Tanh",
            UnaryOp::Erf => "Erf",
            UnaryOp::Gelu => "Gelu",
            UnaryOp::GeluTanh => "GeluTanh",
            UnaryOp::HardSwish => "HardSwish",
            UnaryOp::Sqrt => "Sqrt",
            UnaryOp::Rsqrt => "Rsqrt",
            UnaryOp::Reciprocal => "Reciprocal",
            UnaryOp::Exp => "Exp",
            UnaryOp::Log => "Log",
            UnaryOp::Neg => "Neg",
            UnaryOp::Abs => "Abs",
            UnaryOp::Floor => "Floor",
            UnaryOp::Ceil => "Ceil",
        }
    }

    /// Scalar semantics; the reference for constant folding and runtimes.
    pub fn apply(self, x: f32) -> f32 {
        match self {
            UnaryOp::Relu => x.max(0.0),
            UnaryOp::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            UnaryOp::Tanh => x.tanh(),
            UnaryOp::Erf => erf(x),
            UnaryOp::Gelu => 0.5 * x * (1.0 + erf(x / std::f32::consts::SQRT_2)),
            UnaryOp::GeluTanh => {
                let c = (2.0 / std::f32::consts::PI).sqrt();
                0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
            }
            UnaryOp::HardSwish => x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
            UnaryOp::Sqrt => x.sqrt(),
            UnaryOp::Rsqrt => 1.0 / x.sqrt(),
            UnaryOp::Reciprocal => 1.0 / x,
            UnaryOp::Exp => x.exp(),
            UnaryOp::Log => x.ln(),
            UnaryOp::Neg => -x,
            UnaryOp::Abs => x.abs(),
            UnaryOp::Floor => x.floor(),
            UnaryOp::Ceil => x.ceil(),
        }
    }
}

/// erf with |error| < 1.2e-7 (Numerical Recipes' erfc Chebyshev fit), evaluated in f64.
pub fn erf(x: f32) -> f32 {
    let x = x as f64;
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    (if x >= 0.0 { 1.0 - r } else { r - 1.0 }) as f32
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Min,
    Max,
}

impl BinaryOp {
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "Add",
            BinaryOp::Sub => "Sub",
            BinaryOp::Mul => "Mul",
            BinaryOp::Div => "Div",
            BinaryOp::Pow => "Pow",
            BinaryOp::Min => "Min",
            BinaryOp::Max => "Max",
        }
    }

    pub fn apply_f32(self, a: f32, b: f32) -> f32 {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            BinaryOp::Pow => a.powf(b),
            BinaryOp::Min => a.min(b),
            BinaryOp::Max => a.max(b),
        }
    }

    /// Integer semantics (ONNX: Div truncates); None on division by zero or overflow.
    pub fn apply_i64(self, a: i64, b: i64) -> Option<i64> {
        match self {
            BinaryOp::Add => a.checked_add(b),
            BinaryOp::Sub => a.checked_sub(b),
            BinaryOp::Mul => a.checked_mul(b),
            BinaryOp::Div => a.checked_div(b),
            BinaryOp::Pow => u32::try_from(b).ok().and_then(|e| a.checked_pow(e)),
            BinaryOp::Min => Some(a.min(b)),
            BinaryOp::Max => Some(a.max(b)),
        }
    }

    pub fn infer(self, inputs: &[&TensorType]) -> IrResult<TensorType> {
        let op = self.name();
        arity(op, inputs, 2, 2)?;
        // Pow allows a different exponent type; everything else needs matching types.
        if self != BinaryOp::Pow && inputs[0].dtype != inputs[1].dtype {
            return Err(IrError::DType {
                node: String::new(),
                op,
                index: 1,
                found: inputs[1].dtype.to_string(),
                expected: inputs[0].dtype.to_string(),
            });
        }
        let shape = broadcast_shapes(&inputs[0].shape, &inputs[1].shape)
            .ok_or_else(|| shape_err(op, format!("cannot broadcast {:?} with {:?}", inputs[0].shape, inputs[1].shape)))?;
        Ok(TensorType::new(inputs[0].dtype, shape))
    }
}

/// numpy-style broadcast of two shapes.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for (i, o) in out.iter_mut().enumerate() {
        let da = if i + a.len() >= rank { a[i + a.len() - rank] } else { 1 };
        let db = if i + b.len() >= rank { b[i + b.len() - rank] } else { 1 };
        *o = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

pub(crate) fn infer_unary(op: &'static str, inputs: &[&TensorType]) -> IrResult<TensorType> {
    arity(op, inputs, 1, 1)?;
    expect_float(op, inputs, 0)?;
    Ok(inputs[0].clone())
}

pub(crate) fn infer_prelu(inputs: &[&TensorType]) -> IrResult<TensorType> {
    const OP: &str = "PRelu";
    arity(OP, inputs, 2, 2)?;
    expect_float(OP, inputs, 0)?;
    let shape = broadcast_shapes(&inputs[0].shape, &inputs[1].shape);
    if shape.as_deref() != Some(&inputs[0].shape[..]) {
        return Err(shape_err(OP, format!("slope {:?} does not broadcast to {:?}", inputs[1].shape, inputs[0].shape)));
    }
    Ok(inputs[0].clone())
}
