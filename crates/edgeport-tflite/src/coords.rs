//! Which TFLite resize options reproduce an ONNX coordinate mapping exactly, checked for the
//! actual static sizes of one resize.
//!
//! Nearest: the source index of every output row/column is computed the ONNX way in exact
//! rational arithmetic and the TFLite way in float32 (as its kernels do, including the
//! fixed-point path of the optimized kernel for the plain mode); an option set is used only if
//! they agree everywhere. Linear: the clamped source coordinates are compared.

use edgeport_ir::ops::{CoordMode, NearestMode};

/// (align_corners, half_pixel_centers) combinations TFLite accepts.
pub(crate) const TFLITE_MODES: [(bool, bool); 3] = [(false, false), (false, true), (true, false)];

/// ONNX source coordinate of output index `x` as an exact fraction num/den (den > 0).
fn onnx_coord(coord: CoordMode, x: i128, input: i128, output: i128) -> (i128, i128) {
    match coord {
        CoordMode::Asymmetric => (x * input, output),
        CoordMode::HalfPixel => ((2 * x + 1) * input - output, 2 * output),
        CoordMode::PytorchHalfPixel if output > 1 => ((2 * x + 1) * input - output, 2 * output),
        CoordMode::PytorchHalfPixel => (0, 1),
        CoordMode::AlignCorners if output > 1 => (x * (input - 1), output - 1),
        CoordMode::AlignCorners => (0, 1),
    }
}

fn onnx_nearest(coord: CoordMode, mode: NearestMode, x: i128, input: i128, output: i128) -> i128 {
    let (num, den) = onnx_coord(coord, x, input, output);
    let f = num.div_euclid(den);
    let r = num.rem_euclid(den);
    let idx = match mode {
        NearestMode::Floor => f,
        NearestMode::Ceil => f + i128::from(r > 0),
        NearestMode::RoundPreferFloor => f + i128::from(2 * r > den),
        NearestMode::RoundPreferCeil => f + i128::from(2 * r >= den),
    };
    idx.clamp(0, input - 1)
}

/// TFLite's reference nearest-neighbour index (float32 math, as in its kernel).
fn tflite_nearest(ac: bool, hpc: bool, x: usize, input: usize, output: usize) -> i64 {
    let scale = if ac && output > 1 {
        (input as f32 - 1.0) / (output as f32 - 1.0)
    } else {
        input as f32 / output as f32
    };
    let offset = if hpc { 0.5f32 } else { 0.0 };
    let v = (x as f32 + offset) * scale;
    let idx = if ac {
        v.round() as i64
    } else {
        v.floor() as i64
    };
    let idx = idx.min(input as i64 - 1);
    if hpc { idx.max(0) } else { idx }
}

/// The fixed-point index of TFLite's optimized kernel for the plain mode.
fn tflite_nearest_fixed(x: usize, input: usize, output: usize) -> i64 {
    let scale = ((input as i64) << 16) / output as i64 + 1;
    ((x as i64 * scale) >> 16).min(input as i64 - 1)
}

fn nearest_axis_matches(
    ac: bool,
    hpc: bool,
    coord: CoordMode,
    mode: NearestMode,
    input: usize,
    output: usize,
) -> bool {
    (0..output).all(|x| {
        let want = onnx_nearest(coord, mode, x as i128, input as i128, output as i128) as i64;
        let got = tflite_nearest(ac, hpc, x, input, output);
        let fixed_ok = ac || hpc || tflite_nearest_fixed(x, input, output) == want;
        got == want && fixed_ok
    })
}

/// TFLite (align_corners, half_pixel_centers) reproducing ONNX nearest resize of `input`
/// (h, w) to `output` (h, w), if any.
pub(crate) fn nearest_options(
    coord: CoordMode,
    mode: NearestMode,
    input: [usize; 2],
    output: [usize; 2],
) -> Option<(bool, bool)> {
    std::iter::once(preferred(coord))
        .chain(TFLITE_MODES)
        .find(|&(ac, hpc)| {
            (0..2).all(|a| nearest_axis_matches(ac, hpc, coord, mode, input[a], output[a]))
        })
}

/// The option set that names the ONNX coordinate mode (tried first, so the file says what the
/// source model meant whenever several option sets coincide).
fn preferred(coord: CoordMode) -> (bool, bool) {
    match coord {
        CoordMode::HalfPixel | CoordMode::PytorchHalfPixel => (false, true),
        CoordMode::AlignCorners => (true, false),
        CoordMode::Asymmetric => (false, false),
    }
}

fn clamp_coord(v: f64, input: usize) -> f64 {
    v.clamp(0.0, input as f64 - 1.0)
}

fn linear_axis_matches(ac: bool, hpc: bool, coord: CoordMode, input: usize, output: usize) -> bool {
    let scale = if ac && output > 1 {
        (input as f64 - 1.0) / (output as f64 - 1.0)
    } else {
        input as f64 / output as f64
    };
    (0..output).all(|x| {
        let (num, den) = onnx_coord(coord, x as i128, input as i128, output as i128);
        let want = clamp_coord(num as f64 / den as f64, input);
        let raw = if hpc {
            (x as f64 + 0.5) * scale - 0.5
        } else {
            x as f64 * scale
        };
        let got = clamp_coord(raw, input);
        (want - got).abs() <= 1e-6 * (1.0 + want.abs())
    })
}

/// TFLite (align_corners, half_pixel_centers) reproducing ONNX linear resize, if any.
pub(crate) fn linear_options(
    coord: CoordMode,
    input: [usize; 2],
    output: [usize; 2],
) -> Option<(bool, bool)> {
    std::iter::once(preferred(coord))
        .chain(TFLITE_MODES)
        .find(|&(ac, hpc)| (0..2).all(|a| linear_axis_matches(ac, hpc, coord, input[a], output[a])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_nearest_cases_map() {
        // PyTorch nearest upsample: asymmetric + floor.
        assert_eq!(
            nearest_options(CoordMode::Asymmetric, NearestMode::Floor, [4, 5], [8, 10]),
            Some((false, false))
        );
        // ONNX defaults (half_pixel, round_prefer_floor) on a 2x upsample.
        assert_eq!(
            nearest_options(
                CoordMode::HalfPixel,
                NearestMode::RoundPreferFloor,
                [4, 4],
                [8, 8]
            ),
            Some((false, true))
        );
        // half_pixel + round_prefer_ceil is TFLite's half_pixel_centers exactly.
        assert_eq!(
            nearest_options(
                CoordMode::HalfPixel,
                NearestMode::RoundPreferCeil,
                [8, 8],
                [4, 4]
            ),
            Some((false, true))
        );
        // align_corners + round_prefer_ceil (round half up = round half away for x >= 0).
        assert_eq!(
            nearest_options(
                CoordMode::AlignCorners,
                NearestMode::RoundPreferCeil,
                [3, 3],
                [7, 5]
            ),
            Some((true, false))
        );
    }

    #[test]
    fn mismatching_nearest_cases_are_refused() {
        // 2x downsample with half_pixel + round_prefer_floor samples x*2, which is TFLite's
        // plain mode, not its half-pixel one.
        assert_eq!(
            nearest_options(
                CoordMode::HalfPixel,
                NearestMode::RoundPreferFloor,
                [8, 8],
                [4, 4]
            ),
            Some((false, false))
        );
        assert_eq!(
            nearest_options(CoordMode::Asymmetric, NearestMode::Ceil, [4, 4], [6, 6]),
            None
        );
    }

    #[test]
    fn linear_modes() {
        assert_eq!(
            linear_options(CoordMode::HalfPixel, [4, 5], [7, 9]),
            Some((false, true))
        );
        assert_eq!(
            linear_options(CoordMode::AlignCorners, [4, 5], [7, 9]),
            Some((true, false))
        );
        assert_eq!(
            linear_options(CoordMode::Asymmetric, [4, 5], [7, 9]),
            Some((false, false))
        );
        assert_eq!(
            linear_options(CoordMode::PytorchHalfPixel, [4, 5], [7, 9]),
            Some((false, true))
        );
        assert_eq!(
            linear_options(CoordMode::PytorchHalfPixel, [4, 5], [1, 9]),
            None
        );
    }
}
