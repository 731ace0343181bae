//! Calibration samples from images (`--calibration DIR|IMAGE`): each PNG or JPEG is decoded,
//! resized (bilinear) to the model's image input, scaled to [0, 1], normalized per channel
//! with `(x - mean) / std` and laid out as the input wants (NCHW or NHWC, RGB or BGR, or one
//! gray channel), so a model sees what its preprocessing would give it.

use std::collections::BTreeMap;
use std::sync::Arc;

use edgeport_ir::{Tensor, TensorData, TensorType};
use serde::{Deserialize, Serialize};

use crate::EngineError;
use crate::quantize::{Calibration, MAX_CALIBRATION_SAMPLES};

/// Largest image accepted, in pixels (before resizing): decoding allocates width x height x 4.
pub const MAX_IMAGE_PIXELS: u64 = 1 << 26;

/// How pixels become input values: `(pixel / 255 - mean[c]) / std[c]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImagePreprocess {
    pub mean: [f32; 3],
    pub std: [f32; 3],
    /// Channels in BGR order (OpenCV-trained models) instead of RGB.
    pub bgr: bool,
}

impl Default for ImagePreprocess {
    fn default() -> Self {
        ImagePreprocess { mean: [0.0; 3], std: [1.0; 3], bgr: false }
    }
}

/// Where the image's dimensions sit in a rank-4 input.
struct Layout {
    channels: usize,
    height: usize,
    width: usize,
    channels_last: bool,
}

fn layout(name: &str, ty: &TensorType) -> Result<Layout, EngineError> {
    let bad = || {
        EngineError::options(format!(
            "input '{name}' has shape {:?}; image calibration needs one [1, C, H, W] or [1, H, W, C] input with C = 1 or 3",
            ty.shape
        ))
    };
    let [1, a, b, c] = ty.shape[..] else { return Err(bad()) };
    // channels first when the second dim can be channels (as ONNX models mostly are)
    match (a, c) {
        (1 | 3, _) => Ok(Layout { channels: a, height: b, width: c, channels_last: false }),
        (_, 1 | 3) => Ok(Layout { channels: c, height: a, width: b, channels_last: true }),
        _ => Err(bad()),
    }
}

impl Calibration {
    /// [`Calibration::from_images`] for `model` imported with `input_shapes`.
    pub fn for_model_images(
        model: &[u8],
        input_shapes: &BTreeMap<String, Vec<usize>>,
        files: &[(String, Vec<u8>)],
        prep: &ImagePreprocess,
    ) -> Result<Calibration, EngineError> {
        let imported = edgeport_onnx::import(model, &edgeport_onnx::ImportOptions { input_shapes: input_shapes.clone() })?;
        let g = &imported.graph;
        let inputs: Vec<(String, TensorType)> = g.inputs.iter().map(|&v| (g.value(v).name.clone(), g.ty(v).clone())).collect();
        Calibration::from_images(files, &inputs, prep)
    }

    /// Samples for a model whose only input is an image, from encoded PNG or JPEG `files`
    /// (name, bytes), in the given order.
    pub fn from_images(files: &[(String, Vec<u8>)], inputs: &[(String, TensorType)], prep: &ImagePreprocess) -> Result<Calibration, EngineError> {
        let [(name, ty)] = inputs else {
            return Err(EngineError::options(format!(
                "image calibration feeds a model with one image input; this one has {} inputs (give an .npz)",
                inputs.len()
            )));
        };
        if !ty.dtype.is_float() {
            return Err(EngineError::options(format!("input '{name}' is {}; calibration covers float inputs only", ty.dtype)));
        }
        if files.is_empty() {
            return Err(EngineError::options("no PNG or JPEG images to calibrate with"));
        }
        if prep.std.iter().any(|&s| !(s.is_finite() && s != 0.0)) || prep.mean.iter().any(|m| !m.is_finite()) {
            return Err(EngineError::options("image mean must be finite and std finite and nonzero"));
        }
        let l = layout(name, ty)?;
        let mut samples = Vec::with_capacity(files.len().min(MAX_CALIBRATION_SAMPLES));
        for (file, bytes) in files.iter().take(MAX_CALIBRATION_SAMPLES) {
            let values = pixels(file, bytes, &l, prep)?;
            let t = Tensor::new(ty.shape.clone(), TensorData::F32(values)).map_err(|e| EngineError::options(format!("image '{file}': {e}")))?;
            let t = if ty.dtype == edgeport_ir::DType::F32 { t } else { t.cast(ty.dtype) };
            samples.push(BTreeMap::from([(name.clone(), t)]));
        }
        Ok(Calibration { samples: Arc::new(samples) })
    }
}

/// One image as the input's values.
fn pixels(file: &str, bytes: &[u8], l: &Layout, prep: &ImagePreprocess) -> Result<Vec<f32>, EngineError> {
    let bad = |e: image::ImageError| EngineError::options(format!("image '{file}': {e}"));
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format().map_err(|e| bad(e.into()))?;
    let (w, h) = reader.into_dimensions().map_err(bad)?;
    if u64::from(w) * u64::from(h) > MAX_IMAGE_PIXELS {
        return Err(EngineError::options(format!("image '{file}' is {w}x{h}, more than {MAX_IMAGE_PIXELS} pixels")));
    }
    let img = image::load_from_memory(bytes).map_err(bad)?;
    let (tw, th) = (u32::try_from(l.width), u32::try_from(l.height));
    let (Ok(tw), Ok(th)) = (tw, th) else {
        return Err(EngineError::options("image input dimensions beyond u32"));
    };
    let rgb = img.resize_exact(tw, th, image::imageops::FilterType::Triangle).to_rgb8();
    let (hw, c) = (l.height * l.width, l.channels);
    let mut out = vec![0f32; hw * c];
    for (i, p) in rgb.pixels().enumerate() {
        let [r, g, b] = p.0.map(|v| f32::from(v) / 255.0);
        let rgb = if prep.bgr { [b, g, r] } else { [r, g, b] };
        for (ch, &value) in rgb.iter().enumerate().take(c) {
            // one channel: ITU-R BT.601 luma
            let v = if c == 1 { 0.299 * r + 0.587 * g + 0.114 * b } else { value };
            let v = (v - prep.mean[ch]) / prep.std[ch];
            let at = if l.channels_last { i * c + ch } else { ch * hw + i };
            out[at] = v;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use edgeport_ir::DType;

    fn png(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(w, h, image::Rgb(rgb));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png).unwrap();
        out
    }

    #[test]
    fn images_become_normalized_samples_in_the_input_layout() {
        let ty = TensorType { dtype: DType::F32, shape: vec![1, 3, 4, 6] };
        let prep = ImagePreprocess { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], bgr: false };
        let files = vec![("a.png".to_string(), png(12, 8, [255, 0, 128]))];
        let c = Calibration::from_images(&files, &[("x".into(), ty)], &prep).unwrap();
        let v = c.samples[0]["x"].to_f32_vec();
        assert_eq!(v.len(), 72);
        assert!((v[0] - 1.0).abs() < 1e-6 && (v[24] + 1.0).abs() < 1e-6 && v[48].abs() < 0.01, "{:?}", &v[..3]);
        // NHWC and BGR
        let ty = TensorType { dtype: DType::F32, shape: vec![1, 4, 6, 3] };
        let bgr = ImagePreprocess { bgr: true, ..ImagePreprocess::default() };
        let c = Calibration::from_images(&files, &[("x".into(), ty)], &bgr).unwrap();
        let v = c.samples[0]["x"].to_f32_vec();
        assert!((v[0] - 128.0 / 255.0).abs() < 1e-6 && v[2] == 1.0, "{:?}", &v[..3]);
    }

    #[test]
    fn bad_images_and_inputs_are_clear() {
        let ty = TensorType { dtype: DType::F32, shape: vec![1, 3, 4, 6] };
        let prep = ImagePreprocess::default();
        let err = Calibration::from_images(&[("x.png".into(), b"not an image".to_vec())], &[("x".into(), ty.clone())], &prep).unwrap_err();
        assert!(err.to_string().contains("x.png"), "{err}");
        let flat = TensorType { dtype: DType::F32, shape: vec![1, 64] };
        let err = Calibration::from_images(&[("a.png".into(), png(2, 2, [0, 0, 0]))], &[("x".into(), flat)], &prep).unwrap_err();
        assert!(err.to_string().contains("[1, C, H, W]"), "{err}");
        let zero = ImagePreprocess { std: [0.0, 1.0, 1.0], ..prep };
        assert!(Calibration::from_images(&[("a.png".into(), png(2, 2, [0, 0, 0]))], &[("x".into(), ty)], &zero).is_err());
    }
}
