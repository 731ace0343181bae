//! MediaPipe face detector, face landmark (mesh) and selfie segmentation networks, in the layouts
//! Qualcomm AI Hub exports them (`mediapipe_face` from zmurez/MediaPipePyTorch, `mediapipe_selfie`
//! rebuilt from the MediaPipe TFLite graph).

use crate::workload::{T, Workload, WorkloadBuilder};

fn act(b: &mut WorkloadBuilder, x: T, prelu: bool) -> T {
    b.act(x, if prelu { "PRelu" } else { "Relu" })
}

/// `BlazeBlock(cin, cout, 3, stride)` (blazebase.py): depthwise 3x3 (stride 2: explicit
/// bottom/right pad, max-pooled skip), 1x1 to `cout`, skip zero-padded in channels, add, act.
fn blaze_block(b: &mut WorkloadBuilder, x: T, cout: usize, stride: usize, prelu: bool) -> T {
    let s = b.shape(x).to_vec();
    let cin = s[0];
    let (h, skip) = if stride == 2 {
        let padded = b.copy(x, "Pad", vec![cin, s[1] + 2, s[2] + 2]);
        let pooled = b.pool(x, "MaxPool", 2, 2);
        (b.conv_pad(padded, cin, [3, 3], 2, cin, [0, 0]), pooled)
    } else {
        (b.conv(x, cin, 3, 1, cin), x)
    };
    let y = b.conv(h, cout, 1, 1, 1);
    let skip = if cout > cin {
        let ss = b.shape(skip).to_vec();
        b.copy(skip, "Pad", vec![cout, ss[1], ss[2]])
    } else {
        skip
    };
    let y = b.add(y, skip);
    act(b, y, prelu)
}

/// BlazeFace "back" (full-range) detector, 256x256, as AI Hub's `mediapipe_face` FaceDetector
/// (`BlazeFace(back_model=True)`; Bazarevsky et al. 2019, arXiv:1907.05047): 5x5 stride-2 stem,
/// 32 single BlazeBlocks (24/24/48/96 channels, a stride 2 at the head of each group), a final
/// stride-2 block to 8x8, 1x1 classifier/regressor heads on the 16x16 and 8x8 maps (2 and 6
/// anchors per cell, 16 box coordinates), returned as four tensors.
/// Published (AI Hub model card): 135 K params; no MAC count.
pub fn blazeface_back(res: usize) -> Workload {
    let mut b = WorkloadBuilder::new(&format!("BlazeFace back {res}"));
    let x = b.input(&[3, res, res]);
    let x = b.copy(x, "Pad", vec![3, res + 4, res + 4]);
    let x = b.conv_pad(x, 24, [5, 5], 2, 1, [0, 0]);
    let mut x = b.act(x, "Relu");
    for (cout, stride, repeats) in [(24, 1, 7), (24, 2, 1), (24, 1, 7), (48, 2, 1), (48, 1, 7), (96, 2, 1), (96, 1, 7)] {
        for _ in 0..repeats {
            x = blaze_block(&mut b, x, cout, stride, false);
        }
    }
    // FinalBlazeBlock(96): padded depthwise 3x3 stride 2, 1x1, ReLU, no skip.
    let s = b.shape(x).to_vec();
    let h = b.copy(x, "Pad", vec![96, s[1] + 2, s[2] + 2]);
    let h = b.conv_pad(h, 96, [3, 3], 2, 96, [0, 0]);
    let h = b.conv(h, 96, 1, 1, 1);
    let h = b.act(h, "Relu");
    for (map, anchors) in [(x, 2), (h, 6)] {
        let ms = b.shape(map).to_vec();
        let n = ms[1] * ms[2] * anchors;
        for per_anchor in [1, 16] {
            let y = b.conv(map, anchors * per_anchor, 1, 1, 1);
            let y = b.copy(y, "Transpose", vec![ms[1], ms[2], anchors * per_anchor]);
            let y = b.reshape(y, vec![n, per_anchor]);
            b.output(y);
        }
    }
    b.finish()
}

/// Face landmark (face mesh, 468 3-D points) detector, 192x192, as AI Hub's
/// FaceLandmarkDetector (`BlazeFaceLandmark`, zmurez/MediaPipePyTorch; Kartynnik et al. 2019,
/// arXiv:1907.06724): PReLU BlazeBlocks 16/32/64/128 down to 6x6, then two branches: landmarks
/// (3x3 -> 1x1 32 -> block -> valid 3x3 conv to 1404) and face flag (valid 3x3 conv to 1, sigmoid).
/// Published (AI Hub model card): 603 K params; no MAC count.
pub fn face_landmark(res: usize) -> Workload {
    let mut b = WorkloadBuilder::new(&format!("Face landmark {res}"));
    let x = b.input(&[3, res, res]);
    let x = b.copy(x, "Pad", vec![3, res + 1, res + 1]);
    let x = b.conv_pad(x, 16, [3, 3], 2, 1, [0, 0]);
    let mut x = b.act(x, "PRelu");
    let backbone1 = [(16, 1), (16, 1), (32, 2), (32, 1), (32, 1), (64, 2), (64, 1), (64, 1), (128, 2), (128, 1), (128, 1), (128, 2), (128, 1), (128, 1)];
    for (cout, stride) in backbone1 {
        x = blaze_block(&mut b, x, cout, stride, true);
    }
    // backbone2a: landmarks.
    let mut l = blaze_block(&mut b, x, 128, 2, true);
    l = blaze_block(&mut b, l, 128, 1, true);
    l = blaze_block(&mut b, l, 128, 1, true);
    l = b.conv(l, 32, 1, 1, 1);
    l = b.act(l, "PRelu");
    l = blaze_block(&mut b, l, 32, 1, true);
    l = b.conv_pad(l, 1404, [3, 3], 1, 1, [0, 0]);
    let l = b.reshape(l, vec![468, 3]);
    let l = b.act(l, "Div");
    b.output(l);
    // backbone2b: face presence flag.
    let mut f = blaze_block(&mut b, x, 128, 2, true);
    f = b.conv(f, 32, 1, 1, 1);
    f = b.act(f, "PRelu");
    f = blaze_block(&mut b, f, 32, 1, true);
    f = b.conv_pad(f, 1, [3, 3], 1, 1, [0, 0]);
    let f = b.act(f, "Sigmoid");
    b.output(f);
    b.finish()
}

/// MediaPipe selfie segmentation, general (square) model, 256x256, as AI Hub's
/// `mediapipe_selfie` `SelfieSegmentation(image_type="square")` (conv1 .. conv43, depthwise1 ..
/// depthwise11, transpose conv): a MobileNetV3-like encoder with SE gates to 1/16, and a decoder
/// that upsamples x2 three times, each stage gating the skip with a pooled SE-style attention.
/// Published: 106 K params (AI Hub model card); 63.84 M MACs (NXP eIQ model zoo, general model).
pub fn selfie_segmentation(res: usize) -> Workload {
    let mut b = WorkloadBuilder::new(&format!("Selfie segmentation {res}"));
    let x = b.input(&[3, res, res]);
    let x = b.conv(x, 16, 3, 2, 1);
    let x1 = b.act(x, "HardSwish");
    let x = b.conv(x1, 16, 1, 1, 1);
    let x = b.act(x, "Relu");
    let x = b.conv(x, 16, 3, 2, 16);
    let x1_1 = b.act(x, "Relu");
    let g = gate(&mut b, x1_1, 8, 16);
    let x = b.binary(x1_1, g, "Mul");
    let x3 = b.conv(x, 16, 1, 1, 1);
    // Stride-8 stage.
    let x = conv_relu(&mut b, x3, 72, 1, 1, 1);
    let x = conv_relu(&mut b, x, 72, 3, 2, 72);
    let x4 = b.conv(x, 24, 1, 1, 1);
    let x = conv_relu(&mut b, x4, 88, 1, 1, 1);
    let x = conv_relu(&mut b, x, 88, 3, 1, 88);
    let x = b.conv(x, 24, 1, 1, 1);
    let x2 = b.add(x, x4);
    // Stride-16 stage: HardSwish inverted residuals with SE gates.
    let mut x = se_block(&mut b, x2, 96, 24, 32, 2);
    for hidden in [128, 128, 96, 96] {
        let y = se_block(&mut b, x, hidden, hidden / 4, 32, 1);
        x = b.add(y, x);
    }
    let x7_7 = x;
    let x = conv_relu(&mut b, x, 128, 1, 1, 1);
    let pooled = b.global_pool(x7_7);
    let g = b.conv(pooled, 128, 1, 1, 1);
    let g = b.act(g, "Sigmoid");
    let x = b.binary(x, g, "Mul");
    // Decoder: x2 upsampling stages back to 1/2.
    let x = decoder_stage(&mut b, x, x2, 24);
    let x = decoder_stage(&mut b, x, x3, 16);
    let x = decoder_stage(&mut b, x, x1, 16);
    let x = b.conv_transpose(x, 1, 2, 2);
    let x = b.act(x, "Sigmoid");
    b.output(x);
    b.finish()
}

fn conv_relu(b: &mut WorkloadBuilder, x: T, c: usize, k: usize, s: usize, g: usize) -> T {
    let y = b.conv(x, c, k, s, g);
    b.act(y, "Relu")
}

/// Pooled gate: average pool over the whole map, 1x1 to `squeeze` + ReLU, 1x1 to `c` + sigmoid.
fn gate(b: &mut WorkloadBuilder, x: T, squeeze: usize, c: usize) -> T {
    let k = b.shape(x)[1];
    let p = b.pool_valid(x, "AveragePool", k, k);
    let p = conv_relu(b, p, squeeze, 1, 1, 1);
    let p = b.conv(p, c, 1, 1, 1);
    b.act(p, "Sigmoid")
}

/// 1x1 expand + HardSwish, depthwise 5x5 + HardSwish, SE gate, 1x1 project.
fn se_block(b: &mut WorkloadBuilder, x: T, hidden: usize, squeeze: usize, cout: usize, stride: usize) -> T {
    let y = b.conv(x, hidden, 1, 1, 1);
    let y = b.act(y, "HardSwish");
    let y = b.conv(y, hidden, 5, stride, hidden);
    let y = b.act(y, "HardSwish");
    let g = gate(b, y, squeeze, hidden);
    let y = b.binary(y, g, "Mul");
    b.conv(y, cout, 1, 1, 1)
}

/// Bilinear x2, 1x1 to the skip's channels, gate the skip with a pooled attention of their sum,
/// 1x1 + ReLU, depthwise 3x3 residual.
fn decoder_stage(b: &mut WorkloadBuilder, x: T, skip: T, c: usize) -> T {
    let s = b.shape(x).to_vec();
    let x = b.resize(x, 2 * s[1], 2 * s[2], true);
    let up = b.conv(x, c, 1, 1, 1);
    let sum = b.add(skip, up);
    let g = gate(b, sum, c, c);
    let gated = b.binary(skip, g, "Mul");
    let x = b.add(up, gated);
    let x = conv_relu(b, x, c, 1, 1, 1);
    let d = conv_relu(b, x, c, 3, 1, c);
    b.add(x, d)
}
