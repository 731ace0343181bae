//! Ultralytics YOLOv8 and YOLO11 detection (COCO, 80 classes), as exported to ONNX / TFLite:
//! every `Conv` is a conv (batch norm folded) + SiLU (`Sigmoid` + `Mul`); the Detect head
//! includes the DFL box decoding and the class sigmoid, not NMS.

use super::{Act, conv_act};
use crate::workload::{T, Workload, WorkloadBuilder};

const CLASSES: usize = 80;
/// DFL bins per box side.
const REG_MAX: usize = 16;

/// Model scale: (depth multiple, width multiple, max channels), from the model yaml's `scales`;
/// `c3k`: YOLO11's `parse_model` forces C3k inner blocks in every C3k2 for the m/l/x scales.
#[derive(Clone, Copy)]
pub struct Scale {
    depth: f64,
    width: f64,
    max_channels: usize,
    c3k: bool,
}

impl Scale {
    /// Channels of a layer: `make_divisible(min(c, max_channels) * width, 8)`.
    fn ch(self, c: usize) -> usize {
        ((c.min(self.max_channels) as f64 * self.width / 8.0).ceil() as usize) * 8
    }

    /// Repeats: `max(round(n * depth), 1)`.
    fn n(self, n: usize) -> usize {
        ((n as f64 * self.depth).round() as usize).max(1)
    }
}

/// `yolov8.yaml` n: [0.33, 0.25, 1024].
pub const V8N: Scale = Scale { depth: 0.33, width: 0.25, max_channels: 1024, c3k: false };
/// `yolo11.yaml` n / s / m.
pub const V11N: Scale = Scale { depth: 0.50, width: 0.25, max_channels: 1024, c3k: false };
pub const V11S: Scale = Scale { depth: 0.50, width: 0.50, max_channels: 1024, c3k: false };
pub const V11M: Scale = Scale { depth: 0.50, width: 1.00, max_channels: 512, c3k: true };

fn conv(b: &mut WorkloadBuilder, x: T, c: usize, k: usize, s: usize) -> T {
    conv_act(b, x, c, k, s, 1, Act::Silu)
}

/// `Bottleneck(c1, c2, shortcut, k=(3, 3), e)`: two 3x3 convs (hidden `c2 * e`), residual add.
fn bottleneck(b: &mut WorkloadBuilder, x: T, c2: usize, shortcut: bool, e: f64) -> T {
    let hidden = (c2 as f64 * e) as usize;
    let y = conv(b, x, hidden, 3, 1);
    let y = conv(b, y, c2, 3, 1);
    if shortcut && b.channels(x) == c2 { b.add(x, y) } else { y }
}

/// `C2f(c1, c2, n, shortcut)` (YOLOv8): 1x1 to 2c, split, n bottlenecks (e = 1.0) chained on the
/// second half, concat of all (2 + n) c, 1x1 to c2.
fn c2f(b: &mut WorkloadBuilder, x: T, c2: usize, n: usize, shortcut: bool) -> T {
    let c = c2 / 2;
    let y = conv(b, x, 2 * c, 1, 1);
    let parts = b.split(y, &[c, c]);
    let mut outs = parts.clone();
    let mut last = parts[1];
    for _ in 0..n {
        last = bottleneck(b, last, c, shortcut, 1.0);
        outs.push(last);
    }
    let y = b.concat(&outs);
    conv(b, y, c2, 1, 1)
}

/// `C3k(c1, c2, n=2, shortcut, e=0.5, k=3)`: a C3 with hidden c_ = c2 / 2.
fn c3k(b: &mut WorkloadBuilder, x: T, c2: usize, shortcut: bool) -> T {
    let c = c2 / 2;
    let mut a = conv(b, x, c, 1, 1);
    let side = conv(b, x, c, 1, 1);
    for _ in 0..2 {
        a = bottleneck(b, a, c, shortcut, 1.0);
    }
    let y = b.concat(&[a, side]);
    conv(b, y, c2, 1, 1)
}

/// `C3k2(c1, c2, n, c3k, e)` (YOLO11): C2f layout whose inner blocks are C3k (when `c3k`) or
/// bottlenecks with e = 0.5; shortcut on.
fn c3k2(b: &mut WorkloadBuilder, x: T, c2: usize, n: usize, use_c3k: bool, e: f64) -> T {
    let c = (c2 as f64 * e) as usize;
    let y = conv(b, x, 2 * c, 1, 1);
    let parts = b.split(y, &[c, c]);
    let mut outs = parts.clone();
    let mut last = parts[1];
    for _ in 0..n {
        last = if use_c3k { c3k(b, last, c, true) } else { bottleneck(b, last, c, true, 0.5) };
        outs.push(last);
    }
    let y = b.concat(&outs);
    conv(b, y, c2, 1, 1)
}

/// `SPPF(c1, c2, k=5)`: 1x1 to c1/2, three chained 5x5 max pools, concat, 1x1 to c2.
fn sppf(b: &mut WorkloadBuilder, x: T, c2: usize) -> T {
    let c = b.channels(x) / 2;
    let y = conv(b, x, c, 1, 1);
    let p1 = b.pool(y, "MaxPool", 5, 1);
    let p2 = b.pool(p1, "MaxPool", 5, 1);
    let p3 = b.pool(p2, "MaxPool", 5, 1);
    let y = b.concat(&[y, p1, p2, p3]);
    conv(b, y, c2, 1, 1)
}

/// `C2PSA(c1, c2, n)` (YOLO11): 1x1 to 2c, split, n PSA blocks (multi-head self-attention over
/// the HxW positions with a depthwise 3x3 positional encoding, then a 2c FFN) on one half,
/// concat, 1x1 back.
fn c2psa(b: &mut WorkloadBuilder, x: T, n: usize) -> T {
    let c1 = b.channels(x);
    let c = c1 / 2;
    let y = conv(b, x, 2 * c, 1, 1);
    let parts = b.split(y, &[c, c]);
    let mut t = parts[1];
    for _ in 0..n {
        let a = psa_attention(b, t);
        t = b.add(t, a);
        let f = conv(b, t, 2 * c, 1, 1);
        let f = b.conv(f, c, 1, 1, 1);
        t = b.add(t, f);
    }
    let y = b.concat(&[parts[0], t]);
    conv(b, y, c1, 1, 1)
}

/// `Attention(dim, num_heads = dim / 64, attn_ratio = 0.5)`.
fn psa_attention(b: &mut WorkloadBuilder, x: T) -> T {
    let s = b.shape(x).to_vec();
    let (dim, h, w) = (s[0], s[1], s[2]);
    let heads = dim / 64;
    let head_dim = dim / heads;
    let key_dim = head_dim / 2;
    let n = h * w;
    let qkv = b.conv(x, dim + 2 * key_dim * heads, 1, 1, 1);
    let qkv = b.reshape(qkv, vec![heads, 2 * key_dim + head_dim, n]);
    let qkv = b.split(qkv, &[heads, heads, heads]);
    let (q, k, v) = (qkv[0], qkv[1], qkv[2]);
    let q = b.copy(q, "Transpose", vec![heads, n, key_dim]);
    let attn = b.matmul_act(q, k, heads, n, key_dim, n);
    let attn = b.act(attn, "Mul"); // x scale
    let attn = b.softmax(attn);
    let attn_t = b.copy(attn, "Transpose", vec![heads, n, n]);
    let o = b.matmul_act(v, attn_t, heads, head_dim, n, n);
    let o = b.reshape(o, vec![dim, h, w]);
    let v_img = b.reshape(v, vec![dim, h, w]);
    let pe = b.conv(v_img, dim, 3, 1, dim);
    let o = b.add(o, pe);
    b.conv(o, dim, 1, 1, 1)
}

/// Detect head over P3/P4/P5: per level a box branch (two 3x3 convs of c2, 1x1 to 4 x 16 bins)
/// and a class branch (v8: two 3x3 convs of c3; YOLO11: depthwise 3x3 + 1x1, twice), 1x1 to 80;
/// then concat over levels, DFL (softmax over 16 bins, fixed 1x1 conv), box decoding, sigmoid.
fn detect(b: &mut WorkloadBuilder, levels: &[T], v11: bool) {
    let c2 = (b.channels(levels[0]) / 4).max(REG_MAX * 4).max(16);
    let c3 = b.channels(levels[0]).max(CLASSES.min(100));
    let (mut per_level, mut anchors) = (Vec::new(), 0);
    for &x in levels {
        let s = b.shape(x).to_vec();
        let n = s[1] * s[2];
        anchors += n;
        let r = conv(b, x, c2, 3, 1);
        let r = conv(b, r, c2, 3, 1);
        let r = b.conv(r, 4 * REG_MAX, 1, 1, 1);
        let mut c = x;
        for _ in 0..2 {
            if v11 {
                let ch = b.channels(c);
                c = conv_act(b, c, ch, 3, 1, ch, Act::Silu);
                c = conv(b, c, c3, 1, 1);
            } else {
                c = conv(b, c, c3, 3, 1);
            }
        }
        let c = b.conv(c, CLASSES, 1, 1, 1);
        let level = b.concat(&[r, c]);
        per_level.push(b.reshape(level, vec![n, 4 * REG_MAX + CLASSES]));
    }
    let all = b.concat(&per_level);
    let all = b.reshape(all, vec![4 * REG_MAX + CLASSES, anchors]);
    let parts = b.split(all, &[4 * REG_MAX, CLASSES]);
    let (boxes, classes) = (parts[0], parts[1]);
    // DFL: [4, 16, A] -> softmax over bins -> 1x1 conv with the fixed weights 0..15.
    let d = b.reshape(boxes, vec![4, REG_MAX, anchors]);
    let d = b.copy(d, "Transpose", vec![REG_MAX, 4, anchors]);
    let d = b.softmax(d);
    let d = b.conv(d, 1, 1, 1, 1);
    let d = b.reshape(d, vec![4, anchors]);
    // dist2bbox: lt / rb halves, x1y1 = anchor - lt, x2y2 = anchor + rb, centre and size, x stride.
    let lt_rb = b.split(d, &[2, 2]);
    let x1y1 = b.act(lt_rb[0], "Sub");
    let x2y2 = b.act(lt_rb[1], "Add");
    let c_xy = b.add(x1y1, x2y2);
    let c_xy = b.act(c_xy, "Div");
    let wh = b.binary(x2y2, x1y1, "Sub");
    let bbox = b.concat(&[c_xy, wh]);
    let bbox = b.act(bbox, "Mul");
    let classes = b.act(classes, "Sigmoid");
    let out = b.concat(&[bbox, classes]);
    b.output(out);
}

/// YOLOv8 detection (`ultralytics/cfg/models/v8/yolov8.yaml`). Published (Ultralytics docs,
/// YOLOv8n at 640): 3.2 M params, 8.7 GFLOPs (Ultralytics' "FLOPs" are 2 x thop MACs: 4.35 G MACs).
pub fn yolov8(res: usize, scale: Scale) -> Workload {
    let mut b = WorkloadBuilder::new(&format!("YOLOv8 {res}"));
    let x = b.input(&[3, res, res]);
    let x = conv(&mut b, x, scale.ch(64), 3, 2);
    let x = conv(&mut b, x, scale.ch(128), 3, 2);
    let x = c2f(&mut b, x, scale.ch(128), scale.n(3), true);
    let x = conv(&mut b, x, scale.ch(256), 3, 2);
    let p3 = c2f(&mut b, x, scale.ch(256), scale.n(6), true);
    let x = conv(&mut b, p3, scale.ch(512), 3, 2);
    let p4 = c2f(&mut b, x, scale.ch(512), scale.n(6), true);
    let x = conv(&mut b, p4, scale.ch(1024), 3, 2);
    let x = c2f(&mut b, x, scale.ch(1024), scale.n(3), true);
    let p5 = sppf(&mut b, x, scale.ch(1024));
    // Head (PAN).
    let up = upsample(&mut b, p5);
    let x = b.concat(&[up, p4]);
    let h4 = c2f(&mut b, x, scale.ch(512), scale.n(3), false);
    let up = upsample(&mut b, h4);
    let x = b.concat(&[up, p3]);
    let o3 = c2f(&mut b, x, scale.ch(256), scale.n(3), false);
    let x = conv(&mut b, o3, scale.ch(256), 3, 2);
    let x = b.concat(&[x, h4]);
    let o4 = c2f(&mut b, x, scale.ch(512), scale.n(3), false);
    let x = conv(&mut b, o4, scale.ch(512), 3, 2);
    let x = b.concat(&[x, p5]);
    let o5 = c2f(&mut b, x, scale.ch(1024), scale.n(3), false);
    detect(&mut b, &[o3, o4, o5], false);
    b.finish()
}

/// YOLO11 detection (`ultralytics/cfg/models/11/yolo11.yaml`; C3k blocks forced for m/l/x).
/// Published (Ultralytics docs, 640): n 2.6 M params / 6.5 GFLOPs, s 9.4 M / 21.5, m 20.1 M / 68.0
/// (GFLOPs = 2 x G MACs).
pub fn yolo11(res: usize, scale: Scale) -> Workload {
    let mut b = WorkloadBuilder::new(&format!("YOLO11 {res}"));
    let forced = scale.c3k;
    let x = b.input(&[3, res, res]);
    let x = conv(&mut b, x, scale.ch(64), 3, 2);
    let x = conv(&mut b, x, scale.ch(128), 3, 2);
    let x = c3k2(&mut b, x, scale.ch(256), scale.n(2), forced, 0.25);
    let x = conv(&mut b, x, scale.ch(256), 3, 2);
    let p3 = c3k2(&mut b, x, scale.ch(512), scale.n(2), forced, 0.25);
    let x = conv(&mut b, p3, scale.ch(512), 3, 2);
    let p4 = c3k2(&mut b, x, scale.ch(512), scale.n(2), true, 0.5);
    let x = conv(&mut b, p4, scale.ch(1024), 3, 2);
    let x = c3k2(&mut b, x, scale.ch(1024), scale.n(2), true, 0.5);
    let x = sppf(&mut b, x, scale.ch(1024));
    let p5 = c2psa(&mut b, x, scale.n(2));
    // Head.
    let up = upsample(&mut b, p5);
    let x = b.concat(&[up, p4]);
    let h4 = c3k2(&mut b, x, scale.ch(512), scale.n(2), forced, 0.5);
    let up = upsample(&mut b, h4);
    let x = b.concat(&[up, p3]);
    let o3 = c3k2(&mut b, x, scale.ch(256), scale.n(2), forced, 0.5);
    let x = conv(&mut b, o3, scale.ch(256), 3, 2);
    let x = b.concat(&[x, h4]);
    let o4 = c3k2(&mut b, x, scale.ch(512), scale.n(2), forced, 0.5);
    let x = conv(&mut b, o4, scale.ch(512), 3, 2);
    let x = b.concat(&[x, p5]);
    let o5 = c3k2(&mut b, x, scale.ch(1024), scale.n(2), true, 0.5);
    detect(&mut b, &[o3, o4, o5], true);
    b.finish()
}

/// `nn.Upsample(scale_factor=2, mode="nearest")`.
fn upsample(b: &mut WorkloadBuilder, x: T) -> T {
    let s = b.shape(x).to_vec();
    b.resize(x, 2 * s[1], 2 * s[2], false)
}
