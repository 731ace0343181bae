//! DeepLabV3 and DeepLabV3+ with MobileNetV2 backbones.

use super::mobilenet::mobilenet_v2_features;
use super::{Act, conv_act};
use crate::workload::{Workload, WorkloadBuilder};

/// DeepLabV3 as exported by the TensorFlow DeepLab code for MobileNetV2 (`model_variant
/// mobilenet_v2`, tensorflow/models research/deeplab): output stride 16 (the 160-channel stage
/// dilated), "ASPP-lite" (no atrous branches: a 1x1 256 branch and an image-pooling branch,
/// concatenated and projected to 256), 1x1 logits (21 PASCAL classes) and a bilinear resize to
/// the input size. Published (DeepLab `quantize.md` model table, 513x513, OS 16): depth
/// multiplier 1.0: 2.75 B mult-adds; 0.5: 0.88 B.
///
/// The TFLite hosted `deeplabv3_257_mv_gpu.tflite` (2.7 MB of fp32, ~0.68 M weights) is the
/// depth-multiplier-0.5 network at 257x257; Coral's "DeepLab V3 (513x513)" is
/// `deeplabv3_mnv2_pascal` (depth multiplier 1.0) at 513x513.
pub fn deeplabv3_mnv2(res: usize, width: f64) -> Workload {
    let mut b = WorkloadBuilder::new(&format!("DeepLabV3 MobileNetV2 {width} {res}"));
    let x = b.input(&[3, res, res]);
    let f = mobilenet_v2_features(&mut b, x, width, 16);
    let s = b.shape(f.out).to_vec();
    let pooled = b.global_pool(f.out);
    let pooled = conv_act(&mut b, pooled, 256, 1, 1, 1, Act::Relu);
    let pooled = b.resize(pooled, s[1], s[2], true);
    let branch = conv_act(&mut b, f.out, 256, 1, 1, 1, Act::Relu);
    let x = b.concat(&[pooled, branch]);
    let x = conv_act(&mut b, x, 256, 1, 1, 1, Act::Relu);
    let x = b.conv(x, 21, 1, 1, 1);
    let x = b.resize(x, res, res, true);
    b.output(x);
    b.finish()
}

/// DeepLabV3+ MobileNetV2 as in AI Hub's `deeplabv3_plus_mobilenet` (jfzhang95/pytorch-deeplab-
/// xception, `backbone='mobilenet'`, output stride 16), 513x513, 21 classes: full ASPP on the
/// 320-channel map (1x1 and three 3x3 atrous branches at rates 6/12/18, image pooling, all 256,
/// concatenated 1280 -> 1x1 256), decoder with the stride-4 24-channel features (1x1 to 48,
/// concat with the upsampled ASPP output, two 3x3 256 convs, 1x1 logits), bilinear resize.
/// Published (AI Hub model card): 5.80 M params; no published MAC count.
pub fn deeplabv3_plus_mnv2(res: usize) -> Workload {
    let mut b = WorkloadBuilder::new(&format!("DeepLabV3+ MobileNetV2 {res}"));
    let x = b.input(&[3, res, res]);
    let f = mobilenet_v2_features(&mut b, x, 1.0, 16);
    let s = b.shape(f.out).to_vec();
    let mut branches = vec![conv_act(&mut b, f.out, 256, 1, 1, 1, Act::Relu)];
    for _rate in [6, 12, 18] {
        // Dilated 3x3: same arithmetic and output size as an undilated "same" 3x3.
        branches.push(conv_act(&mut b, f.out, 256, 3, 1, 1, Act::Relu));
    }
    let pooled = b.global_pool(f.out);
    let pooled = conv_act(&mut b, pooled, 256, 1, 1, 1, Act::Relu);
    branches.push(b.resize(pooled, s[1], s[2], true));
    let x = b.concat(&branches);
    let x = conv_act(&mut b, x, 256, 1, 1, 1, Act::Relu);
    let low = b.shape(f.stride4).to_vec();
    let low_level = conv_act(&mut b, f.stride4, 48, 1, 1, 1, Act::Relu);
    let x = b.resize(x, low[1], low[2], true);
    let x = b.concat(&[x, low_level]);
    let x = conv_act(&mut b, x, 256, 3, 1, 1, Act::Relu);
    let x = conv_act(&mut b, x, 256, 3, 1, 1, Act::Relu);
    let x = b.conv(x, 21, 1, 1, 1);
    let x = b.resize(x, res, res, true);
    b.output(x);
    b.finish()
}
