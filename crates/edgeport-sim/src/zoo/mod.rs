//! Well-known architectures as workloads, built layer by layer with [`WorkloadBuilder`], so the
//! simulator can be calibrated against published latencies of those networks without their
//! weights. Each builder follows the paper / reference implementation's layer list (the family
//! modules cite which, with the published mult-adds and parameter counts that
//! `tests/zoo.rs` checks); shapes are exact, weights are only counted.
//!
//! [`for_published`] maps every `model` spelling of the published-latency calibration table to
//! the zoo id of the same architecture at the same input size.

pub mod bert;
pub mod deeplab;
pub mod efficientnet;
pub mod inception;
pub mod mediapipe;
pub mod mobilenet;
pub mod resnet;
pub mod ssd;
pub mod yolo;

use crate::workload::{T, Workload, WorkloadBuilder};

pub use mobilenet::mobilenet_v2;

/// A zoo entry: (id, description, builder).
pub type Entry = (&'static str, &'static str, fn() -> Workload);

/// Every architecture.
pub fn all() -> Vec<Entry> {
    vec![
        ("mobilenet_v1_224", "MobileNetV1 1.0, 224x224, 1000 classes", || mobilenet::mobilenet_v1(224, 1.0)),
        ("mobilenet_v2_224", "MobileNetV2 1.0, 224x224, 1000 classes", || mobilenet::mobilenet_v2(224, 1.0)),
        ("mobilenet_v3_large_224", "MobileNetV3-Large 1.0, 224x224, 1000 classes", || mobilenet::mobilenet_v3(224, true)),
        ("mobilenet_v3_small_224", "MobileNetV3-Small 1.0, 224x224, 1000 classes", || mobilenet::mobilenet_v3(224, false)),
        ("resnet50_224", "ResNet-50, 224x224, 1000 classes", || resnet::resnet50(224)),
        ("resnet50_299", "ResNet-50, 299x299, 1000 classes", || resnet::resnet50(299)),
        ("efficientnet_b0_224", "EfficientNet-B0, 224x224, 1000 classes", || efficientnet::efficientnet(224, 1.0, 1.0, false)),
        ("efficientnet_lite0_224", "EfficientNet-Lite0, 224x224, 1000 classes", || efficientnet::efficientnet(224, 1.0, 1.0, true)),
        ("efficientnet_lite4_300", "EfficientNet-Lite4 (width 1.4, depth 1.8), 300x300", || efficientnet::efficientnet(300, 1.4, 1.8, true)),
        ("inception_v4_299", "Inception-v4, 299x299, 1001 classes", || inception::inception_v4(299)),
        ("ssd_mobilenet_v1_300", "SSD MobileNet v1 1.0, 300x300, COCO (91 classes)", || ssd::ssd_mobilenet_v1(300, 1.0)),
        ("ssd_mobilenet_v1_075_300", "SSD MobileNet v1 0.75 depth, 300x300, COCO", || ssd::ssd_mobilenet_v1(300, 0.75)),
        ("ssd_mobilenet_v2_300", "SSD MobileNet v2, 300x300, COCO", || ssd::ssd_mobilenet_v2(300)),
        ("ssd_mobilenet_v2_224", "SSD MobileNet v2, 224x224, COCO", || ssd::ssd_mobilenet_v2(224)),
        ("deeplabv3_mnv2_dm05_257", "DeepLabV3 MobileNetV2 0.5, OS 16, 257x257, 21 classes", || deeplab::deeplabv3_mnv2(257, 0.5)),
        ("deeplabv3_mnv2_dm05_513", "DeepLabV3 MobileNetV2 0.5, OS 16, 513x513, 21 classes", || deeplab::deeplabv3_mnv2(513, 0.5)),
        ("deeplabv3_mnv2_513", "DeepLabV3 MobileNetV2 1.0, OS 16, 513x513, 21 classes", || deeplab::deeplabv3_mnv2(513, 1.0)),
        ("deeplabv3_plus_mnv2_513", "DeepLabV3+ MobileNetV2, OS 16, 513x513, 21 classes", || deeplab::deeplabv3_plus_mnv2(513)),
        ("yolov8n_640", "YOLOv8n detection, 640x640, 80 classes", || yolo::yolov8(640, yolo::V8N)),
        ("yolo11n_640", "YOLO11n detection, 640x640, 80 classes", || yolo::yolo11(640, yolo::V11N)),
        ("yolo11s_640", "YOLO11s detection, 640x640, 80 classes", || yolo::yolo11(640, yolo::V11S)),
        ("yolo11m_640", "YOLO11m detection, 640x640, 80 classes", || yolo::yolo11(640, yolo::V11M)),
        ("blazeface_back_256", "MediaPipe BlazeFace full-range face detector, 256x256", || mediapipe::blazeface_back(256)),
        ("face_landmark_192", "MediaPipe face landmark (mesh) detector, 192x192", || mediapipe::face_landmark(192)),
        ("selfie_segmentation_256", "MediaPipe selfie segmentation (general), 256x256", || mediapipe::selfie_segmentation(256)),
        ("bert_base_uncased_384", "BERT-base uncased + MLM head, 384 tokens", || bert::bert("BERT-base uncased", 384, 12, true, true)),
        ("bert_base_uncased_128", "BERT-base uncased encoder, 128 tokens", || bert::bert("BERT-base uncased", 128, 12, true, false)),
        ("distilbert_base_uncased_384", "DistilBERT base uncased + MLM head, 384 tokens", || bert::bert("DistilBERT base uncased", 384, 6, false, true)),
        ("mobilebert_uncased_384", "MobileBERT uncased + MLM head, 384 tokens", || bert::mobilebert(384, true)),
        ("mobilebert_uncased_128", "MobileBERT uncased encoder, 128 tokens", || bert::mobilebert(128, false)),
    ]
}

/// One architecture by id.
pub fn get(id: &str) -> Option<Workload> {
    all().into_iter().find(|(i, _, _)| *i == id).map(|(_, _, build)| build())
}

/// The zoo id for a `model` value of `published_latency_calibration.csv` (exact spelling).
///
/// Sizes and variants come from each row's source: AI Hub rows from the model's `info.yaml`
/// (YOLOv8 / YOLO11 detection: the N checkpoint at 640x640; DeepLabV3+: 513x513; the BERT
/// family: 384 tokens with the MLM head; the face detector: BlazeFace "back" at 256x256, the
/// landmark model at 192x192), TFLite rows from the hosted-model pages, Coral rows from the
/// Coral benchmark table (SSD MobileNet v2 listed at 224x224). Every spelling in the table maps.
pub fn for_published(model: &str) -> Option<&'static str> {
    Some(match model {
        "MobileNetV1 (224x224)" | "MobileNetV1 1.0 224" => "mobilenet_v1_224",
        "MobileNetV2" | "MobileNetV2 (224x224)" | "MobileNetV2 1.0" | "MobileNetV2 1.0 224" => "mobilenet_v2_224",
        "MobileNetV3-Large" => "mobilenet_v3_large_224",
        "MobileNetV3-Small" => "mobilenet_v3_small_224",
        "ResNet50" => "resnet50_224",
        "ResNet-50 V1 (299x299)" => "resnet50_299",
        "EfficientNet-B0" => "efficientnet_b0_224",
        "EfficientNet-Lite0" => "efficientnet_lite0_224",
        "EfficientNet-Lite4" => "efficientnet_lite4_300",
        "Inception V4" => "inception_v4_299",
        "SSD MobileNet v1 (COCO, 300x300)" => "ssd_mobilenet_v1_300",
        "SSD MobileNet v1 0.75 depth (COCO, 300x300)" => "ssd_mobilenet_v1_075_300",
        "SSD MobileNet v2 (COCO, 300x300)" => "ssd_mobilenet_v2_300",
        "SSD MobileNet v2 (224x224 listed)" => "ssd_mobilenet_v2_224",
        "DeepLabV3 (MobileNet, 257x257)" => "deeplabv3_mnv2_dm05_257",
        "DeepLab V3 (513x513)" => "deeplabv3_mnv2_513",
        "DeepLabV3+ (MobileNetV2 backbone)" => "deeplabv3_plus_mnv2_513",
        "YOLOv8 detection" => "yolov8n_640",
        "YOLO11 detection" | "YOLO11n (640)" => "yolo11n_640",
        "YOLO11s (640)" => "yolo11s_640",
        "YOLO11m (640)" => "yolo11m_640",
        "MediaPipe Face - FaceDetector" => "blazeface_back_256",
        "MediaPipe Face - FaceLandmarkDetector" => "face_landmark_192",
        "MediaPipe Selfie Segmentation" => "selfie_segmentation_256",
        "BERT base uncased" => "bert_base_uncased_384",
        "DistilBERT base uncased" => "distilbert_base_uncased_384",
        "MobileBERT (uncased)" => "mobilebert_uncased_384",
        _ => return None,
    })
}

/// `make_divisible` of the MobileNet / EfficientNet reference code: round to a multiple of
/// `d`, never below `d` nor more than 10 % below `v`.
pub(crate) fn make_divisible(v: f64, d: usize) -> usize {
    let r = (((v + d as f64 / 2.0) as usize) / d * d).max(d);
    if (r as f64) < 0.9 * v { r + d } else { r }
}

/// Activations, as the IR ops an exporter emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    Relu,
    /// ReLU6: `Clip(0, 6)`.
    Relu6,
    HardSwish,
    HardSigmoid,
    Sigmoid,
    /// SiLU / swish: `Sigmoid` then `Mul` with the input.
    Silu,
}

pub(crate) fn apply_act(b: &mut WorkloadBuilder, x: T, act: Act) -> T {
    match act {
        Act::Relu => b.act(x, "Relu"),
        Act::Relu6 => b.act(x, "Clip"),
        Act::HardSwish => b.act(x, "HardSwish"),
        Act::HardSigmoid => b.act(x, "HardSigmoid"),
        Act::Sigmoid => b.act(x, "Sigmoid"),
        Act::Silu => {
            let s = b.act(x, "Sigmoid");
            b.binary(x, s, "Mul")
        }
    }
}

/// Convolution ("same" padding, batch norm folded into its bias) followed by `act`.
pub(crate) fn conv_act(b: &mut WorkloadBuilder, x: T, cout: usize, k: usize, stride: usize, groups: usize, act: Act) -> T {
    let y = b.conv(x, cout, k, stride, groups);
    apply_act(b, y, act)
}

/// Squeeze-and-excitation: global pool, 1x1 to `squeeze` + `inner`, 1x1 back + `gate`, `Mul`.
pub(crate) fn se(b: &mut WorkloadBuilder, x: T, squeeze: usize, inner: Act, gate: Act) -> T {
    let c = b.channels(x);
    let s = b.global_pool(x);
    let s = conv_act(b, s, squeeze, 1, 1, 1, inner);
    let s = conv_act(b, s, c, 1, 1, 1, gate);
    b.binary(x, s, "Mul")
}
