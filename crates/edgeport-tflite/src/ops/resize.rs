//! RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR: inputs (x NHWC, size int32 [2]).

use tract_tflite::tflite;

use crate::builder::ModelBuilder;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResizeOp {
    Bilinear,
    Nearest,
}

pub(crate) struct ResizeParams {
    pub op: ResizeOp,
    pub align_corners: bool,
    pub half_pixel_centers: bool,
}

pub(crate) fn emit(b: &mut ModelBuilder, x: i32, size: i32, out: i32, p: &ResizeParams) {
    let (code, options, version) = match p.op {
        ResizeOp::Bilinear => {
            let o = tflite::ResizeBilinearOptions::create(
                &mut b.fbb,
                &tflite::ResizeBilinearOptionsArgs {
                    align_corners: p.align_corners,
                    half_pixel_centers: p.half_pixel_centers,
                },
            );
            let version = if p.half_pixel_centers { 3 } else { 1 };
            (
                tflite::BuiltinOperator::RESIZE_BILINEAR,
                (
                    tflite::BuiltinOptions::ResizeBilinearOptions,
                    Some(o.as_union_value()),
                ),
                version,
            )
        }
        ResizeOp::Nearest => {
            let o = tflite::ResizeNearestNeighborOptions::create(
                &mut b.fbb,
                &tflite::ResizeNearestNeighborOptionsArgs {
                    align_corners: p.align_corners,
                    half_pixel_centers: p.half_pixel_centers,
                },
            );
            let version = if p.half_pixel_centers || p.align_corners {
                3
            } else {
                1
            };
            (
                tflite::BuiltinOperator::RESIZE_NEAREST_NEIGHBOR,
                (
                    tflite::BuiltinOptions::ResizeNearestNeighborOptions,
                    Some(o.as_union_value()),
                ),
                version,
            )
        }
    };
    b.op(code, version, &[x, size], &[out], options);
}
