//! PAD (zeros), PADV2 (a constant value) and MIRROR_PAD (reflect): inputs (x, paddings int32
//! [rank, 2] [, value]).

use edgeport_ir::{DType, Tensor};
use tract_tflite::tflite;

use super::i32c;
use crate::TfliteError;
use crate::builder::{ModelBuilder, empty_options};

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PadKind {
    /// PAD (zero) or PADV2 (any other value), `value` in the input's dtype.
    Constant(f32),
    Reflect,
}

pub(crate) fn emit(
    b: &mut ModelBuilder,
    name: &str,
    x: i32,
    out: i32,
    pads: &[[usize; 2]],
    kind: PadKind,
    dtype: DType,
) -> Result<(), TfliteError> {
    let flat: Vec<i32> = pads.iter().flat_map(|p| [i32c(p[0]), i32c(p[1])]).collect();
    let pads_t = b.const_i32(&format!("{name}/paddings"), &[pads.len(), 2], flat)?;
    let rank = pads.len();
    let version = if rank > 4 {
        4
    } else if dtype == DType::I8 {
        2
    } else {
        1
    };
    match kind {
        PadKind::Constant(v) if v == 0.0 && v.is_sign_positive() => {
            let options = empty_options(&mut b.fbb, tflite::BuiltinOptions::PadOptions);
            b.op(
                tflite::BuiltinOperator::PAD,
                version,
                &[x, pads_t],
                &[out],
                options,
            );
        }
        PadKind::Constant(v) => {
            let value_t = match b.int8_params(x) {
                // An int8 input pads with an int8 value on its own grid (a value below the grid,
                // as max pooling's -FLT_MAX, becomes its lowest step).
                Some(q) => {
                    let step = if v <= q.range().0 { -128 } else { q.quantize(v) };
                    b.const_int8(&format!("{name}/constant_values"), &[], &[step], q.into())?
                }
                None => {
                    let value = Tensor::scalar_f32(v).cast(dtype);
                    b.constant(&format!("{name}/constant_values"), &value)?
                }
            };
            let options = empty_options(&mut b.fbb, tflite::BuiltinOptions::PadV2Options);
            b.op(
                tflite::BuiltinOperator::PADV2,
                version,
                &[x, pads_t, value_t],
                &[out],
                options,
            );
        }
        PadKind::Reflect => {
            let o = tflite::MirrorPadOptions::create(
                &mut b.fbb,
                &tflite::MirrorPadOptionsArgs {
                    mode: tflite::MirrorPadMode::REFLECT,
                },
            );
            b.op(
                tflite::BuiltinOperator::MIRROR_PAD,
                1,
                &[x, pads_t],
                &[out],
                (
                    tflite::BuiltinOptions::MirrorPadOptions,
                    Some(o.as_union_value()),
                ),
            );
        }
    }
    Ok(())
}
