//! The zoo's architectures have the arithmetic and parameter counts their papers / model cards
//! state, and every model of the published-latency calibration table has a zoo workload.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use edgeport_sim::{Workload, zoo};

/// (id, G MACs, M params) as published, `None` where no figure is published for that exact
/// configuration; within 10 %. Sources are cited on each builder in `src/zoo/`. Published
/// "FLOPs" that count a multiply-add as two (Ultralytics, MobileBERT's BERT table) are halved.
const PUBLISHED: &[(&str, Option<f64>, Option<f64>)] = &[
    // MobileNet paper Table 8 / TF-slim: 569 M mult-adds, 4.24 M params.
    ("mobilenet_v1_224", Some(0.569), Some(4.24)),
    // MobileNetV2 paper Table 4 (300 M), torchvision (3.50 M).
    ("mobilenet_v2_224", Some(0.300), Some(3.50)),
    // MobileNetV3 paper Table 3 (torchvision: 5.48 M / 2.54 M params).
    ("mobilenet_v3_large_224", Some(0.219), Some(5.4)),
    ("mobilenet_v3_small_224", Some(0.056), Some(2.5)),
    // torchvision ResNet-50 model card: 4.09 GFLOPS (MACs), 25.6 M params; the same weights at 299.
    ("resnet50_224", Some(4.09), Some(25.6)),
    ("resnet50_299", None, Some(25.6)),
    // EfficientNet paper Table 2; EfficientNet-lite README.
    ("efficientnet_b0_224", Some(0.39), Some(5.3)),
    ("efficientnet_lite0_224", Some(0.407), Some(4.7)),
    ("efficientnet_lite4_300", Some(2.64), Some(13.0)),
    // Open Model Zoo googlenet-v4-tf (TF-slim checkpoint): 24.584 GFLOPs / 2, 42.648 M params.
    ("inception_v4_299", Some(24.584 / 2.0), Some(42.648)),
    // MobileNet paper Table 13 (SSD 300 MobileNet).
    ("ssd_mobilenet_v1_300", Some(1.2), Some(6.8)),
    ("ssd_mobilenet_v1_075_300", None, None),
    ("ssd_mobilenet_v2_300", None, None),
    ("ssd_mobilenet_v2_224", None, None),
    // DeepLab quantize.md model table (513x513, OS 16).
    ("deeplabv3_mnv2_dm05_513", Some(0.88), None),
    ("deeplabv3_mnv2_dm05_257", None, None),
    ("deeplabv3_mnv2_513", Some(2.75), None),
    // AI Hub deeplabv3_plus_mobilenet info.yaml.
    ("deeplabv3_plus_mnv2_513", None, Some(5.80)),
    // Ultralytics docs (GFLOPs / 2).
    ("yolov8n_640", Some(8.7 / 2.0), Some(3.2)),
    ("yolo11n_640", Some(6.5 / 2.0), Some(2.6)),
    ("yolo11s_640", Some(21.5 / 2.0), Some(9.4)),
    ("yolo11m_640", Some(68.0 / 2.0), Some(20.1)),
    // AI Hub mediapipe_face / mediapipe_selfie info.yaml; NXP eIQ selfie segmenter (63.84 M MACs).
    ("blazeface_back_256", None, Some(0.135)),
    ("face_landmark_192", None, Some(0.603)),
    ("selfie_segmentation_256", Some(0.06384), Some(0.106)),
    // BERT paper (110 M); MobileBERT paper Table 3 (BERT-base 22.5 G FLOPs, MobileBERT 25.3 M /
    // 5.7 G FLOPs at 128 tokens); DistilBERT paper (66 M).
    ("bert_base_uncased_128", Some(22.5 / 2.0), Some(110.0)),
    ("bert_base_uncased_384", None, Some(110.0)),
    ("distilbert_base_uncased_384", None, Some(66.0)),
    ("mobilebert_uncased_128", Some(5.7 / 2.0), Some(25.3)),
    ("mobilebert_uncased_384", None, None),
];

fn gmacs(w: &Workload) -> f64 {
    w.layers.iter().filter(|l| l.class.is_linear()).map(|l| l.flops / 2).sum::<u64>() as f64 / 1e9
}

fn mparams(w: &Workload) -> f64 {
    w.weight_elems() as f64 / 1e6
}

#[test]
fn macs_and_params_match_the_papers() {
    let mut failures = Vec::new();
    for &(id, published_gmacs, published_mparams) in PUBLISHED {
        let w = zoo::get(id).unwrap_or_else(|| panic!("{id} is in the zoo"));
        let (macs, params) = (gmacs(&w), mparams(&w));
        println!("{id:30} {macs:9.3} G MACs (published {published_gmacs:?})  {params:8.3} M params (published {published_mparams:?})");
        if let Some(g) = published_gmacs
            && (macs / g - 1.0).abs() >= 0.10
        {
            failures.push(format!("{id}: {macs:.3} G MACs, published {g}"));
        }
        if let Some(p) = published_mparams
            && (params / p - 1.0).abs() >= 0.10
        {
            failures.push(format!("{id}: {params:.3} M params, published {p}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_architecture_is_in_the_published_table() {
    for (id, _, _) in zoo::all() {
        assert!(PUBLISHED.iter().any(|(p, _, _)| *p == id), "{id} has a PUBLISHED row (None where nothing is published)");
    }
}

#[test]
fn every_architecture_builds_with_consistent_edges() {
    for (id, _, build) in zoo::all() {
        let w = build();
        assert!(!w.layers.is_empty(), "{id}");
        assert!(w.output_elems > 0, "{id} has outputs");
        for (i, l) in w.layers.iter().enumerate() {
            for op in &l.inputs {
                if let edgeport_sim::Operand::Layer(p) = op {
                    assert!(*p < i, "{id}: layer {i} reads a later layer {p}");
                }
            }
        }
    }
}

/// The `model` column of the calibration table (first field; quoted when it has a comma).
fn models_in(csv: &str) -> Vec<String> {
    csv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            if let Some(rest) = line.strip_prefix('"') {
                let mut out = String::new();
                let mut chars = rest.chars().peekable();
                while let Some(c) = chars.next() {
                    match c {
                        '"' if chars.peek() == Some(&'"') => {
                            out.push('"');
                            chars.next();
                        }
                        '"' => break,
                        c => out.push(c),
                    }
                }
                out
            } else {
                line.split(',').next().unwrap_or_default().to_string()
            }
        })
        .collect()
}

#[test]
fn every_calibration_model_maps_to_the_zoo() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        dir.join("data/published_latency_calibration.csv"),
        dir.join("../../../shared/latency/published_latency_calibration.csv"),
    ];
    let Some(csv) = candidates.iter().find_map(|p| std::fs::read_to_string(p).ok()) else {
        eprintln!("note: published_latency_calibration.csv not found ({candidates:?}); skipping");
        return;
    };
    let models = models_in(&csv);
    assert!(!models.is_empty());
    let ids: Vec<&str> = zoo::all().into_iter().map(|(id, _, _)| id).collect();
    for model in &models {
        let id = zoo::for_published(model).unwrap_or_else(|| panic!("calibration model {model:?} has no zoo id"));
        assert!(ids.contains(&id), "{model:?} maps to {id}, which is not in the zoo");
    }
}
