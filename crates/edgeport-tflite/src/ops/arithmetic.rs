//! Binary arithmetic: ADD, SUB, MUL, DIV (with fused activation), POW, MINIMUM, MAXIMUM.
//! All broadcast numpy-style.

use tract_tflite::tflite;

use super::Act;
use crate::builder::{ModelBuilder, empty_options};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Minimum,
    Maximum,
}

impl Arith {
    pub(crate) fn code(self) -> tflite::BuiltinOperator {
        match self {
            Arith::Add => tflite::BuiltinOperator::ADD,
            Arith::Sub => tflite::BuiltinOperator::SUB,
            Arith::Mul => tflite::BuiltinOperator::MUL,
            Arith::Div => tflite::BuiltinOperator::DIV,
            Arith::Pow => tflite::BuiltinOperator::POW,
            Arith::Minimum => tflite::BuiltinOperator::MINIMUM,
            Arith::Maximum => tflite::BuiltinOperator::MAXIMUM,
        }
    }

    /// Whether the op has a `fused_activation_function`.
    pub(crate) fn fuses(self) -> bool {
        matches!(self, Arith::Add | Arith::Sub | Arith::Mul | Arith::Div)
    }
}

fn version(b: &ModelBuilder, op: Arith, x: i32, y: i32) -> i32 {
    let (Some((dtype, xs)), Some((_, ys))) = (b.tensor_info(x), b.tensor_info(y)) else {
        return 1;
    };
    let broadcast_5d = xs != ys && xs.len().max(ys.len()) > 4;
    let int64 = dtype == tflite::TensorType::INT64;
    match op {
        Arith::Add | Arith::Sub if int64 => 4,
        Arith::Sub if broadcast_5d => 3,
        Arith::Mul if int64 => 5,
        Arith::Div if broadcast_5d => 2,
        Arith::Minimum | Arith::Maximum if broadcast_5d => 3,
        _ => 1,
    }
}

pub(crate) fn emit(b: &mut ModelBuilder, op: Arith, x: i32, y: i32, out: i32, act: Act) {
    let act = if op.fuses() { act } else { Act::None };
    let f = act.fb();
    let fbb = &mut b.fbb;
    let options = match op {
        Arith::Add => {
            let o = tflite::AddOptions::create(
                fbb,
                &tflite::AddOptionsArgs {
                    fused_activation_function: f,
                    pot_scale_int16: true,
                },
            );
            (tflite::BuiltinOptions::AddOptions, Some(o.as_union_value()))
        }
        Arith::Sub => {
            let o = tflite::SubOptions::create(
                fbb,
                &tflite::SubOptionsArgs {
                    fused_activation_function: f,
                    pot_scale_int16: true,
                },
            );
            (tflite::BuiltinOptions::SubOptions, Some(o.as_union_value()))
        }
        Arith::Mul => {
            let o = tflite::MulOptions::create(
                fbb,
                &tflite::MulOptionsArgs {
                    fused_activation_function: f,
                },
            );
            (tflite::BuiltinOptions::MulOptions, Some(o.as_union_value()))
        }
        Arith::Div => {
            let o = tflite::DivOptions::create(
                fbb,
                &tflite::DivOptionsArgs {
                    fused_activation_function: f,
                },
            );
            (tflite::BuiltinOptions::DivOptions, Some(o.as_union_value()))
        }
        Arith::Pow => empty_options(fbb, tflite::BuiltinOptions::PowOptions),
        Arith::Minimum | Arith::Maximum => {
            empty_options(fbb, tflite::BuiltinOptions::MaximumMinimumOptions)
        }
    };
    let v = version(b, op, x, y);
    b.op(op.code(), v, &[x, y], &[out], options);
}
