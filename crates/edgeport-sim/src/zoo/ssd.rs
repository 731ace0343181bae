//! SSD with MobileNet feature extractors (TensorFlow Object Detection API, COCO).

use super::mobilenet::{mobilenet_v1_features, mobilenet_v2_features};
use super::{Act, conv_act};
use crate::workload::{T, Workload, WorkloadBuilder};

/// COCO label map of the TF Object Detection API: 90 classes + background.
const CLASSES: usize = 91;

/// SSD MobileNet v1 (`ssd_mobilenet_v1_coco.config` / `ssd_mobilenet_v1_0.75_depth_coco.config`):
/// feature maps from `Conv2d_11_pointwise` and `Conv2d_13_pointwise` plus four extra layers
/// (1x1 to half depth, 3x3 stride 2 to 512 / 256 / 256 / 128, all scaled by the depth multiplier,
/// min depth 16), 1x1 box predictors with 3 anchors on the first map and 6 on the others.
/// Published (MobileNet paper Table 13, SSD 300 MobileNet 1.0): 1.2 B mult-adds, 6.8 M params.
/// The 0.75-depth variant has no published count (built: see tests/zoo.rs).
pub fn ssd_mobilenet_v1(res: usize, depth: f64) -> Workload {
    let mut b = WorkloadBuilder::new(&format!("SSD MobileNet v1 {depth} {res}"));
    let x = b.input(&[3, res, res]);
    let (c11, c13) = mobilenet_v1_features(&mut b, x, depth, 16);
    let maps = extra_layers(&mut b, [c11, c13], depth);
    heads(&mut b, &maps);
    b.finish()
}

/// SSD MobileNet v2 (`ssd_mobilenet_v2_coco.config`, regular (not SSDLite) 1x1 box predictors):
/// feature maps from `layer_15/expansion_output` (576) and `layer_19` (the 1x1 1280 conv), then
/// the same four extra layers as v1. No published mult-add / parameter count.
pub fn ssd_mobilenet_v2(res: usize) -> Workload {
    let mut b = WorkloadBuilder::new(&format!("SSD MobileNet v2 {res}"));
    let x = b.input(&[3, res, res]);
    let f = mobilenet_v2_features(&mut b, x, 1.0, 32);
    let layer_19 = conv_act(&mut b, f.out, 1280, 1, 1, 1, Act::Relu6);
    let maps = extra_layers(&mut b, [f.expansion_15, layer_19], 1.0);
    heads(&mut b, &maps);
    b.finish()
}

/// `multi_resolution_feature_maps`: layer depths 512, 256, 256, 128 (x depth multiplier, min 16).
fn extra_layers(b: &mut WorkloadBuilder, base: [T; 2], depth: f64) -> Vec<T> {
    let d = |c: usize| ((c as f64 * depth) as usize).max(16);
    let mut maps = base.to_vec();
    let mut x = base[1];
    for c in [512, 256, 256, 128] {
        x = conv_act(b, x, d(c / 2), 1, 1, 1, Act::Relu6);
        x = conv_act(b, x, d(c), 3, 2, 1, Act::Relu6);
        maps.push(x);
    }
    maps
}

/// Convolutional box predictors (kernel 1), reshaped and concatenated to
/// `[anchors, 4]` box encodings and `[anchors, 91]` class scores; the NMS post-processing op is
/// not part of the network.
fn heads(b: &mut WorkloadBuilder, maps: &[T]) {
    let (mut boxes, mut scores) = (Vec::new(), Vec::new());
    for (i, &m) in maps.iter().enumerate() {
        let anchors = if i == 0 { 3 } else { 6 };
        let s = b.shape(m).to_vec();
        let n = s[1] * s[2] * anchors;
        let bx = b.conv(m, anchors * 4, 1, 1, 1);
        boxes.push(b.reshape(bx, vec![n, 4]));
        let cl = b.conv(m, anchors * CLASSES, 1, 1, 1);
        scores.push(b.reshape(cl, vec![n, CLASSES]));
    }
    let boxes = b.concat(&boxes);
    let scores = b.concat(&scores);
    let scores = b.act(scores, "Sigmoid");
    b.output(boxes);
    b.output(scores);
}
