//! Elementwise math without options fields: SQRT, RSQRT, EXP, LOG, NEG, ABS, FLOOR, CEIL, SIGN.

use edgeport_ir::DType;
use tract_tflite::tflite;

use crate::builder::{ModelBuilder, NO_OPTIONS, empty_options};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnaryMath {
    Sqrt,
    Rsqrt,
    Exp,
    Log,
    Neg,
    Abs,
    Floor,
    Ceil,
    Sign,
}

pub(crate) fn emit(b: &mut ModelBuilder, op: UnaryMath, dtype: DType, x: i32, out: i32) {
    let fbb = &mut b.fbb;
    let (code, options, version) = match op {
        UnaryMath::Sqrt => (tflite::BuiltinOperator::SQRT, NO_OPTIONS, 1),
        UnaryMath::Rsqrt => (tflite::BuiltinOperator::RSQRT, NO_OPTIONS, 1),
        UnaryMath::Exp => (
            tflite::BuiltinOperator::EXP,
            empty_options(fbb, tflite::BuiltinOptions::ExpOptions),
            1,
        ),
        UnaryMath::Log => (tflite::BuiltinOperator::LOG, NO_OPTIONS, 1),
        UnaryMath::Neg => (
            tflite::BuiltinOperator::NEG,
            empty_options(fbb, tflite::BuiltinOptions::NegOptions),
            1,
        ),
        UnaryMath::Abs => {
            let v = if dtype == DType::I32 { 5 } else { 1 };
            (
                tflite::BuiltinOperator::ABS,
                empty_options(fbb, tflite::BuiltinOptions::AbsOptions),
                v,
            )
        }
        UnaryMath::Floor => (tflite::BuiltinOperator::FLOOR, NO_OPTIONS, 1),
        UnaryMath::Ceil => (tflite::BuiltinOperator::CEIL, NO_OPTIONS, 1),
        UnaryMath::Sign => {
            let v = if dtype == DType::I32 { 2 } else { 1 };
            (
                tflite::BuiltinOperator::SIGN,
                empty_options(fbb, tflite::BuiltinOptions::SignOptions),
                v,
            )
        }
    };
    b.op(code, version, &[x], &[out], options);
}
