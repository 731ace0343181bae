//! Structural checks: decode the package back and look at versions, interface, ops, consts,
//! blobs, manifest and zip.

use std::collections::BTreeMap;
use std::io::Read;

use edgeport_ir::ops::{Conv, UnaryOp};
use edgeport_ir::{DType, Graph, Layout, Op, Tensor};

use super::{G, block, export_ok, op_types, opts, value_type};
use crate::blob::{BlobDType, read_blobs};
use crate::proto::{self, DataType};
use crate::{ExportOptions, MODEL_PATH, Metadata, Package, Precision, Target, WEIGHTS_PATH};

pub fn conv_op(pads: [usize; 4], strides: [usize; 2], dilations: [usize; 2], group: usize) -> Op {
    Op::Conv(Conv {
        strides,
        dilations,
        pads,
        group,
        layout: Layout::Nchw,
    })
}

/// input [1,4,8,8] -> conv 3x3 (8 out) -> relu -> output.
fn small_convnet(name: &str) -> Graph {
    let mut b = G::new(name);
    let x = b.input("image", &[1, 4, 8, 8]);
    let w = b.weight("conv.weight", &[8, 4, 3, 3]);
    let bias = b.weight("conv.bias", &[8]);
    let y = b.node(
        "conv",
        conv_op([1, 1, 1, 1], [1, 1], [1, 1], 1),
        &[x, w, bias],
    );
    let z = b.node("relu", Op::Unary(UnaryOp::Relu), &[y]);
    b.output(z);
    b.finish()
}

fn features(m: &proto::Model, outputs: bool) -> Vec<(String, i32, Vec<i64>)> {
    let d = m.description.as_ref().unwrap();
    let list = if outputs { &d.output } else { &d.input };
    list.iter()
        .map(|f| {
            let Some(proto::feature_type::Type::MultiArrayType(a)) =
                f.r#type.as_ref().and_then(|t| t.r#type.as_ref())
            else {
                panic!("{} is not a multi-array", f.name)
            };
            (f.name.clone(), a.data_type, a.shape.clone())
        })
        .collect()
}

fn consts(m: &proto::Model) -> Vec<&proto::Operation> {
    block(m)
        .operations
        .iter()
        .filter(|o| o.r#type == "const")
        .collect()
}

fn const_val(op: &proto::Operation) -> &proto::Value {
    &op.attributes["val"]
}

#[test]
fn spec_version_and_opset_follow_the_target() {
    let g = small_convnet("net");
    for (target, version, opset) in [
        (Target::Ios15, 6, "CoreML5"),
        (Target::Ios16, 7, "CoreML6"),
        (Target::Ios17, 8, "CoreML7"),
        (Target::Ios18, 9, "CoreML8"),
    ] {
        for precision in [Precision::Fp16, Precision::Fp32] {
            let p = export_ok(&g, &opts(target, precision));
            let m = p.model().unwrap();
            assert_eq!(m.specification_version, version, "{target:?}");
            assert!(!m.is_updatable);
            let Some(proto::model::Type::MlProgram(prog)) = &m.r#type else {
                panic!()
            };
            assert_eq!(prog.version, 1);
            assert_eq!(prog.functions.keys().collect::<Vec<_>>(), ["main"]);
            let f = &prog.functions["main"];
            assert_eq!(f.opset, opset);
            assert_eq!(f.block_specializations.keys().collect::<Vec<_>>(), [opset]);
            assert_eq!(f.inputs.len(), 1);
            assert_eq!(f.inputs[0].name, "image");
        }
    }
}

#[test]
fn default_options_are_ios16_fp16() {
    let o = ExportOptions::default();
    assert_eq!((o.target, o.precision), (Target::Ios16, Precision::Fp16));
    let p = export_ok(&small_convnet("net"), &o);
    assert_eq!(p.model().unwrap().specification_version, 7);
    assert_eq!(p.dir_name, "model.mlpackage");
}

#[test]
fn fp16_keeps_float32_interface_with_casts_and_fp16_weights() {
    let p = export_ok(&small_convnet("net"), &opts(Target::Ios16, Precision::Fp16));
    let m = p.model().unwrap();
    let f32_code = proto::ArrayDataType::Float32 as i32;
    assert_eq!(
        features(&m, false),
        [("image".to_string(), f32_code, vec![1, 4, 8, 8])]
    );
    assert_eq!(
        features(&m, true),
        [("relu".to_string(), f32_code, vec![1, 8, 8, 8])]
    );
    assert_eq!(op_types(&p), ["cast", "conv", "relu", "cast"]);
    let b = block(&m);
    assert_eq!(b.outputs, ["relu"]);
    // Input cast to fp16, final cast to fp32 writes the output name.
    let casts: Vec<&proto::Operation> =
        b.operations.iter().filter(|o| o.r#type == "cast").collect();
    assert_eq!(
        casts[0].inputs["x"].arguments[0].binding,
        Some(proto::argument::binding::Binding::Name("image".into()))
    );
    assert_eq!(
        value_type(&m, &casts[0].outputs[0].name),
        (DataType::Float16, vec![1, 4, 8, 8])
    );
    assert_eq!(casts[1].outputs[0].name, "relu");
    assert_eq!(
        value_type(&m, "relu"),
        (DataType::Float32, vec![1, 8, 8, 8])
    );
    // Weight and bias are fp16 consts; the weight (288 elements) lives in weight.bin, the
    // bias (8 elements) is immediate bytes.
    let w = consts(&m)
        .into_iter()
        .find(|o| o.outputs[0].name == "conv_weight")
        .unwrap();
    assert!(matches!(
        const_val(w).value,
        Some(proto::value::Value::BlobFileValue(_))
    ));
    assert_eq!(
        value_type(&m, "conv_weight"),
        (DataType::Float16, vec![8, 4, 3, 3])
    );
    let bias = consts(&m)
        .into_iter()
        .find(|o| o.outputs[0].name == "conv_bias")
        .unwrap();
    let Some(proto::value::Value::ImmediateValue(iv)) = &const_val(bias).value else {
        panic!("bias not immediate")
    };
    let Some(proto::value::immediate_value::Value::Tensor(t)) = &iv.value else {
        panic!()
    };
    let Some(proto::tensor_value::Value::Bytes(bytes)) = &t.value else {
        panic!("fp16 immediates are bytes")
    };
    assert_eq!(bytes.values.len(), 16);
}

#[test]
fn fp32_has_no_casts_and_fp32_weights() {
    let p = export_ok(&small_convnet("net"), &opts(Target::Ios16, Precision::Fp32));
    let m = p.model().unwrap();
    assert_eq!(op_types(&p), ["conv", "relu"]);
    assert_eq!(block(&m).outputs, ["relu"]);
    assert_eq!(value_type(&m, "conv_weight").0, DataType::Float32);
    let blobs = read_blobs(p.weights()).unwrap();
    assert_eq!(blobs.len(), 1);
    assert_eq!(blobs[0].dtype, BlobDType::Float32);
    assert_eq!(blobs[0].data.len(), 288 * 4);
}

#[test]
fn every_op_has_a_name_attribute_and_consts_a_val() {
    let p = export_ok(&small_convnet("net"), &ExportOptions::default());
    let m = p.model().unwrap();
    for op in &block(&m).operations {
        let keys: Vec<&String> = op.attributes.keys().collect();
        if op.r#type == "const" {
            assert_eq!(keys, ["name", "val"]);
        } else {
            assert_eq!(keys, ["name"]);
        }
        assert!(op.blocks.is_empty());
    }
}

#[test]
fn blobs_are_aligned_and_hold_the_const_data() {
    let mut b = G::new("blobs");
    let x = b.input("x", &[2, 16]);
    let w1 = b.weight("w1", &[16, 33]); // odd byte counts exercise the alignment padding
    let y = b.node("mm1", Op::MatMul, &[x, w1]);
    let w2 = b.weight("w2", &[33, 5]);
    let z = b.node("mm2", Op::MatMul, &[y, w2]);
    b.output(z);
    let g = b.finish();
    for precision in [Precision::Fp16, Precision::Fp32] {
        let p = export_ok(&g, &opts(Target::Ios16, precision));
        let file = p.weights();
        let blobs = read_blobs(file).unwrap();
        assert_eq!(
            u32::from_le_bytes(file[0..4].try_into().unwrap()),
            blobs.len() as u32
        );
        assert_eq!(u32::from_le_bytes(file[4..8].try_into().unwrap()), 2);
        assert_eq!(blobs.len(), 2);
        assert_eq!((blobs[0].offset, blobs[0].data_offset), (64, 128));
        for r in &blobs {
            assert_eq!(r.offset % 64, 0);
            assert_eq!(r.data_offset, r.offset + 64);
        }
        let m = p.model().unwrap();
        let by_offset: BTreeMap<u64, &crate::BlobRecord> =
            blobs.iter().map(|r| (r.offset, r)).collect();
        let mut seen = 0;
        for op in consts(&m) {
            let Some(proto::value::Value::BlobFileValue(bf)) = &const_val(op).value else {
                continue;
            };
            assert_eq!(bf.file_name, "@model_path/weights/weight.bin");
            let rec = by_offset[&bf.offset];
            let (dtype, shape) = value_type(&m, &op.outputs[0].name);
            let n: usize = shape.iter().product();
            // linear stores the transposed [N, K] weight.
            let src = if op.outputs[0].name == "mm1_weight" {
                g.constant(w1)
            } else {
                g.constant(w2)
            }
            .unwrap();
            let t = edgeport_ir::eval::transpose(src, &[1, 0]).unwrap();
            let want: Vec<u8> = match dtype {
                DataType::Float16 => {
                    assert_eq!(rec.dtype, BlobDType::Float16);
                    t.cast(DType::F16).to_le_bytes()
                }
                DataType::Float32 => {
                    assert_eq!(rec.dtype, BlobDType::Float32);
                    t.to_le_bytes()
                }
                d => panic!("unexpected {d:?}"),
            };
            assert_eq!(
                rec.data.len(),
                n * if dtype == DataType::Float16 { 2 } else { 4 }
            );
            assert_eq!(rec.data, want, "{}", op.outputs[0].name);
            seen += 1;
        }
        assert_eq!(seen, 2);
    }
}

#[test]
fn small_constants_stay_immediate() {
    let mut b = G::new("small");
    let x = b.input("x", &[1, 9]);
    let c9 = b.weight("c9", &[1, 9]);
    let y = b.node("add", Op::Binary(edgeport_ir::ops::BinaryOp::Add), &[x, c9]);
    let c10 = b.weight("c10", &[10, 1]);
    let z = b.node(
        "mul",
        Op::Binary(edgeport_ir::ops::BinaryOp::Mul),
        &[y, c10],
    );
    b.output(z);
    let p = export_ok(&b.finish(), &opts(Target::Ios16, Precision::Fp32));
    let m = p.model().unwrap();
    let kind = |name: &str| {
        let op = consts(&m)
            .into_iter()
            .find(|o| o.outputs[0].name == name)
            .unwrap();
        matches!(
            const_val(op).value,
            Some(proto::value::Value::BlobFileValue(_))
        )
    };
    assert!(!kind("c9"), "9 elements stay immediate");
    assert!(kind("c10"), "10 elements go to weight.bin");
    assert_eq!(read_blobs(p.weights()).unwrap().len(), 1);
}

#[test]
fn weight_file_exists_without_blobs() {
    let mut b = G::new("noblobs");
    let x = b.input("x", &[1, 3]);
    let y = b.node("t", Op::Unary(UnaryOp::Tanh), &[x]);
    b.output(y);
    let p = export_ok(&b.finish(), &ExportOptions::default());
    let file = p.weights();
    assert_eq!(file.len(), 64);
    assert_eq!(&file[0..8], &[0, 0, 0, 0, 2, 0, 0, 0]);
    assert!(read_blobs(file).unwrap().is_empty());
}

fn manifest_json(p: &Package) -> String {
    String::from_utf8(p.file("Manifest.json").unwrap().to_vec()).unwrap()
}

/// The (id, path) items of a manifest and its root id, read with a tiny scanner.
fn manifest_items(json: &str) -> (Vec<(String, String)>, String) {
    let mut items = Vec::new();
    let mut current = None;
    let mut root = String::new();
    for line in json.lines().map(str::trim) {
        let value = |l: &str| l.split('"').nth(3).unwrap_or_default().to_string();
        if line.ends_with(": {")
            && line.starts_with('"')
            && !line.starts_with("\"itemInfoEntries\"")
        {
            current = Some(line.split('"').nth(1).unwrap().to_string());
        } else if line.starts_with("\"path\"") {
            items.push((current.clone().unwrap(), value(line)));
        } else if line.starts_with("\"rootModelIdentifier\"") {
            root = value(line);
        }
    }
    (items, root)
}

#[test]
fn manifest_names_files_by_content_derived_ids() {
    let p = export_ok(&small_convnet("net"), &ExportOptions::default());
    let json = manifest_json(&p);
    assert!(json.contains("\"fileFormatVersion\": \"1.0.0\""));
    assert_eq!(json.matches("\"author\": \"com.apple.CoreML\"").count(), 2);
    let (items, root) = manifest_items(&json);
    assert_eq!(items.len(), 2);
    let paths: Vec<&str> = items.iter().map(|(_, p)| p.as_str()).collect();
    assert!(
        paths.contains(&"com.apple.CoreML/model.mlmodel")
            && paths.contains(&"com.apple.CoreML/weights")
    );
    let root_path = &items.iter().find(|(id, _)| *id == root).unwrap().1;
    assert_eq!(root_path, "com.apple.CoreML/model.mlmodel");
    for (id, _) in &items {
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }
    // Ids follow the content: other weights, another weights id (the model protobuf, which
    // refers to blobs by offset, is unchanged).
    let mut g2 = small_convnet("net");
    let w = g2
        .values()
        .iter()
        .position(|v| v.name == "conv.weight")
        .unwrap();
    g2.set_const(
        edgeport_ir::ValueId(w as u32),
        Tensor::from_f32(vec![8, 4, 3, 3], vec![0.5; 288]).unwrap(),
    );
    let p2 = export_ok(&g2, &ExportOptions::default());
    let (items2, root2) = manifest_items(&manifest_json(&p2));
    assert_eq!(root, root2);
    let weights_id = |items: &[(String, String)]| {
        items
            .iter()
            .find(|(_, p)| p.ends_with("weights"))
            .unwrap()
            .0
            .clone()
    };
    assert_ne!(weights_id(&items), weights_id(&items2));
}

#[test]
fn package_files_are_sorted_and_named() {
    let p = export_ok(
        &small_convnet("My Net/v2"),
        &ExportOptions {
            name: "My Net/v2".into(),
            ..ExportOptions::default()
        },
    );
    assert_eq!(p.dir_name, "My_Net_v2.mlpackage");
    let paths: Vec<&str> = p.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, [MODEL_PATH, WEIGHTS_PATH, "Manifest.json"]);
}

#[test]
fn export_and_zip_are_deterministic() {
    let a = export_ok(&small_convnet("net"), &ExportOptions::default());
    let b = export_ok(&small_convnet("net"), &ExportOptions::default());
    assert_eq!(a, b);
    assert_eq!(a.to_zip().unwrap(), b.to_zip().unwrap());
    let c = export_ok(&small_convnet("net"), &opts(Target::Ios16, Precision::Fp32));
    assert_ne!(a.model_bytes(), c.model_bytes());
}

#[test]
fn zip_holds_the_package_with_fixed_timestamps() {
    let p = export_ok(
        &small_convnet("net"),
        &ExportOptions {
            name: "net".into(),
            ..ExportOptions::default()
        },
    );
    let bytes = p.to_zip().unwrap();
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let names: Vec<String> = (0..z.len())
        .map(|i| z.by_index(i).unwrap().name().unwrap().to_string())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert_eq!(
        names,
        [
            "net.mlpackage/",
            "net.mlpackage/Data/",
            "net.mlpackage/Data/com.apple.CoreML/",
            "net.mlpackage/Data/com.apple.CoreML/model.mlmodel",
            "net.mlpackage/Data/com.apple.CoreML/weights/",
            "net.mlpackage/Data/com.apple.CoreML/weights/weight.bin",
            "net.mlpackage/Manifest.json",
        ]
    );
    for i in 0..z.len() {
        let mut e = z.by_index(i).unwrap();
        let t = e.last_modified().unwrap();
        assert_eq!(
            (
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            ),
            (1980, 1, 1, 0, 0, 0)
        );
        if !e.is_dir() {
            let path = e
                .name()
                .unwrap()
                .strip_prefix("net.mlpackage/")
                .unwrap()
                .to_string();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            assert_eq!(Some(data.as_slice()), p.file(&path), "{path}");
        }
    }
}

#[test]
fn interface_names_become_mil_identifiers() {
    let mut b = G::new("names");
    let x = b.input("0:input/x", &[1, 3]);
    let y = b.node("fp32", Op::Unary(UnaryOp::Tanh), &[x]);
    let z = b.node("out.prob", Op::Unary(UnaryOp::Sigmoid), &[y]);
    b.output(y);
    b.output(z);
    let p = export_ok(&b.finish(), &opts(Target::Ios16, Precision::Fp32));
    let m = p.model().unwrap();
    let ins: Vec<String> = features(&m, false).into_iter().map(|f| f.0).collect();
    let outs: Vec<String> = features(&m, true).into_iter().map(|f| f.0).collect();
    assert_eq!(ins, ["var_0_input_x"]);
    assert_eq!(outs, ["fp32_workaround", "out_prob"]);
    assert_eq!(block(&m).outputs, outs);
    let d = m.description.unwrap();
    assert_eq!(
        d.input[0].short_description,
        "input '0:input/x' of the source model"
    );
    assert_eq!(
        d.output[1].short_description,
        "output 'out.prob' of the source model"
    );
}

#[test]
fn metadata_is_written() {
    let mut user = BTreeMap::new();
    user.insert("com.edgeport.source_sha256".to_string(), "ab".repeat(32));
    user.insert("team".to_string(), "vision".to_string());
    let o = ExportOptions {
        metadata: Metadata {
            author: "A. Author".into(),
            short_description: "a test net".into(),
            version: "1.2.3".into(),
            license: "Apache-2.0".into(),
            user_defined: user.clone(),
        },
        ..ExportOptions::default()
    };
    let m = export_ok(&small_convnet("net"), &o).model().unwrap();
    let md = m.description.unwrap().metadata.unwrap();
    assert_eq!(
        (
            md.author.as_str(),
            md.short_description.as_str(),
            md.version_string.as_str(),
            md.license.as_str()
        ),
        ("A. Author", "a test net", "1.2.3", "Apache-2.0")
    );
    assert_eq!(md.user_defined, user);
}

#[test]
fn integer_interface_is_int32() {
    let mut b = G::new("ints");
    let x = b.input_t("ids", DType::I64, &[1, 4]);
    let one = b.konst("one", Tensor::from_i64(vec![1], vec![1]).unwrap());
    let y = b.node(
        "inc",
        Op::Binary(edgeport_ir::ops::BinaryOp::Add),
        &[x, one],
    );
    b.output(y);
    let p = export_ok(&b.finish(), &ExportOptions::default());
    let m = p.model().unwrap();
    let i32_code = proto::ArrayDataType::Int32 as i32;
    assert_eq!(features(&m, false)[0].1, i32_code);
    assert_eq!(features(&m, true)[0].1, i32_code);
    assert_eq!(op_types(&p), ["add"]);
    assert_eq!(value_type(&m, "inc"), (DataType::Int32, vec![1, 4]));
}

#[test]
fn float16_interface_from_ios16() {
    let mut b = G::new("halves");
    let x = b.input_t("x", DType::F16, &[2, 3]);
    let y = b.node("r", Op::Unary(UnaryOp::Relu), &[x]);
    b.output(y);
    let g = b.finish();
    for precision in [Precision::Fp16, Precision::Fp32] {
        let p = export_ok(&g, &opts(Target::Ios16, precision));
        let m = p.model().unwrap();
        assert_eq!(
            features(&m, false)[0].1,
            proto::ArrayDataType::Float16 as i32
        );
        assert_eq!(op_types(&p), ["relu"]);
    }
}

#[test]
fn passthrough_and_constant_outputs_get_their_own_op() {
    let mut b = G::new("pass");
    let x = b.input("x", &[1, 3]);
    let c = b.weight("table", &[4, 4]);
    b.output(x);
    b.output(c);
    let g = b.finish();
    let p = export_ok(&g, &opts(Target::Ios16, Precision::Fp16));
    let m = p.model().unwrap();
    let outs: Vec<String> = features(&m, true).into_iter().map(|f| f.0).collect();
    assert_eq!(outs, ["x_0", "table"]);
    // The input is passed on as it came (no round trip through fp16); the constant is fp16.
    assert_eq!(op_types(&p), ["identity", "cast"]);
    let p = export_ok(&g, &opts(Target::Ios16, Precision::Fp32));
    assert_eq!(op_types(&p), ["identity", "identity"]);
}
