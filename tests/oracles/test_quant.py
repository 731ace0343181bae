"""Quantized variants run in the real runtimes, and agree with what edgeport's report predicts.

int8 weights (Core ML, iOS16 constexpr_affine_dequantize and iOS18 constexpr_blockwise_shift_scale):
coremltools rebuilds every program, the MIL evaluator runs it and matches edgeport's
`coreml-fp16 --quantize int8-weights` run; see the tests below.

pruning (`--prune`): Core ML stores sparse weights (constexpr_sparse_to_dense), the MIL
evaluator matches edgeport's prediction; TFLite and ONNX hold the zeros dense and match in
LiteRT and onnxruntime.

int8 weights (TFLite): hybrid CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED with int8
per-channel filters, float32 activations; LiteRT matches edgeport's hybrid simulation; see below.

fp16 (TFLite float16 weights, DEQUANTIZE to float32): every fixture and PP-OCR model runs in
LiteRT (XNNPACK and the builtin kernels). Checks:
- the file stores every multi-element float constant as float16, behind DEQUANTIZE ops, and is
  at most 55 % of the float32 file;
- LiteRT's output equals edgeport's own `--variant fp16` run (the runtime behind the report's
  fidelity) within 1e-4 x max(1, max|ref|): the report is about this artifact;
- against onnxruntime, the error stays within 5e-2 x max(1, max|ref|). Float16 weights alone
  are not free: PP-OCR det, whose folded normalizations leave weights above 16 in magnitude,
  is off by 0.038 (its report says so), the fixtures by 3e-3 or less.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from oracle_lib import RESOLVERS, all_case_params, compare_outputs, load_npz, read_tflite, run_tflite, sqnr_db


@pytest.fixture(scope="session")
def fp16_tflite(edgeport, out_root, case_loader):
    done = {}

    def get(name: str):
        if name not in done:
            c = case_loader(name)
            out = out_root / "quant" / f"{name}_fp16.tflite"
            out.parent.mkdir(parents=True, exist_ok=True)
            report = out.with_suffix(".json")
            edgeport.convert_ok(c.model, out, "--quantize", "fp16", "--report", report, *c.shape_args)
            predicted = out_root / "quant" / f"{name}_fp16_predicted.npz"
            res = edgeport.run("run", c.model, "--input", c.input, "--output", predicted, "--variant", "fp16", *c.shape_args)
            assert res.returncode == 0, res.describe()
            done[name] = (out, json.loads(report.read_text()), load_npz(predicted))
        return done[name]

    return get


@pytest.mark.parametrize("resolver", RESOLVERS)
@pytest.mark.parametrize("case", all_case_params(), indirect=True)
def test_fp16_tflite_runs_as_predicted(case, resolver, fp16_tflite, request):
    path, _, predicted = fp16_tflite(case.name)
    expected = load_npz(case.expected)
    got = run_tflite(path, load_npz(case.input), resolver, list(expected))
    failures = compare_outputs(f"{request.node.name}/predicted", got, predicted, rel_tol=1e-4)
    assert not failures, f"{path} vs edgeport --variant fp16:\n" + "\n".join(failures)
    failures = compare_outputs(f"{request.node.name}/onnxruntime", got, expected, rel_tol=5e-2)
    assert not failures, f"{path} vs onnxruntime:\n" + "\n".join(failures)


@pytest.mark.parametrize("case", all_case_params(), indirect=True)
def test_fp16_tflite_stores_float16_weights(case, fp16_tflite, converted):
    path, report, _ = fp16_tflite(case.name)
    fp32 = converted(case.name, False)
    graph = read_tflite(path)
    assert graph.count("DEQUANTIZE") > 0, graph.histogram()
    assert read_tflite(fp32).count("DEQUANTIZE") == 0
    size, size32 = path.stat().st_size, fp32.stat().st_size
    # Where weights dominate the file it halves; tiny models are mostly structure.
    assert size <= (0.55 if size32 > 200_000 else 0.9) * size32, (size, size32)
    assert report["conversion"]["size"] == size and report["conversion"]["options"]["quantize"] == "fp16"
    (fid,) = report["fidelity"]
    assert fid["variant"] == "fp16" and all(o["cosine_similarity"] > 0.999 for o in fid["outputs"]), fid


# --- int8 weights (Core ML) ------------------------------------------------------------------

INT8_TARGETS = ["ios16", "ios18"]


@pytest.fixture(scope="session")
def int8_coreml(edgeport, out_root, case_loader):
    done = {}

    def get(name: str, target: str):
        if (name, target) not in done:
            c = case_loader(name)
            out = out_root / "quant" / f"{name}_int8_{target}.mlpackage"
            out.parent.mkdir(parents=True, exist_ok=True)
            res = edgeport.run("convert", c.model, "--to", "coreml", "--target", target, "--quantize", "int8-weights", "-o", out, *c.shape_args)
            assert res.returncode == 0, res.describe()
            done[(name, target)] = out
        return done[(name, target)]

    return get


def _run_mil(pkg, feed_path) -> tuple[list[str], dict]:
    """The package run by the MIL evaluator: its op types, and its outputs keyed by ONNX name."""
    import mil_eval as me
    from test_coreml import mil_name

    program = me.MilProgram(me.MlPackage(pkg))
    feeds = {mil_name(k): v for k, v in load_npz(feed_path).items()}
    outs = program.run({k: feeds[k] for k in program.inputs})
    return program.op_types(), outs


# Models whose int8 weights cost more than 5e-2: PP-OCR det and rec (per-channel int8 of
# their folded weights compounds to 0.97 and 0.32). Their reports must say so instead.
LOSSY_INT8 = {"ppocr_det", "ppocr_rec"}


@pytest.mark.parametrize("target", INT8_TARGETS)
@pytest.mark.parametrize("case", all_case_params(), indirect=True)
def test_int8_weights_coreml_runs_as_predicted(case, target, int8_coreml, edgeport, tmp_path):
    """coremltools rebuilds the program (type-checking every op, the constexpr ops included);
    the MIL evaluator's outputs agree with edgeport's `coreml-fp16 --quantize int8-weights` run
    (errors against float32 within a factor of 3, as for fp16), and with onnxruntime within
    5e-2 x max(1, max|ref|), except where the prediction itself says the variant is lossy."""
    from test_coreml import mil_name, milproto_rebuild

    pkg = int8_coreml(case.name, target)
    milproto_rebuild(pkg)
    ops, mil = _run_mil(pkg, case.input)
    want = "constexpr_blockwise_shift_scale" if target == "ios18" else "constexpr_affine_dequantize"
    if want not in ops:
        assert case.name in ("mlp_gelu", "ops_misc"), f"{case.name}: no {want} in {sorted(set(ops))}"
        pytest.skip(f"{case.name}: no weight reaches the 2048-element threshold")
    runs = {}
    for variant in ["fp32", "coreml-fp16"]:
        path = tmp_path / f"{variant}.npz"
        args = ["--quantize", "int8-weights"] if variant != "fp32" else []
        res = edgeport.run("run", case.model, "--input", case.input, "--output", path, "--variant", variant, *args, *case.shape_args)
        assert res.returncode == 0, res.describe()
        runs[variant] = load_npz(path)
    expected = load_npz(case.expected)
    for name, ref in runs["fp32"].items():
        got = mil[mil_name(name)].reshape(ref.shape).astype(np.float32)
        scale = max(1.0, float(np.abs(ref).max()))
        predicted = float(np.abs(runs["coreml-fp16"][name] - ref).max())
        actual = float(np.abs(got - ref).max())
        print(f"{case.name}/{target}/{name}: predicted error {predicted:.3g}, the artifact's {actual:.3g}")
        assert max(predicted, actual) <= 3 * min(predicted, actual) + 1e-3 * scale, (predicted, actual)
        if case.name in LOSSY_INT8:
            assert predicted > 5e-2 * scale, "the prediction shows the loss"
        else:
            assert float(np.abs(got - expected[name].reshape(got.shape)).max()) <= 5e-2 * scale


@pytest.mark.parametrize("name", ["mobilenetv2", "resnet"])
def test_int8_weights_store_int8_blobs(name, int8_coreml, edgeport, out_root, case_loader):
    """The weights live in weight.bin as int8 and the package shrinks to well under the fp16
    package (scales and the few small float constants stay float)."""
    c = case_loader(name)
    pkg = int8_coreml(name, "ios16")
    fp16 = out_root / "quant" / f"{name}_fp16.mlpackage"
    assert edgeport.run("convert", c.model, "--to", "coreml", "-o", fp16).returncode == 0
    weight = lambda p: (p / "Data" / "com.apple.CoreML" / "weights" / "weight.bin").stat().st_size
    print(f"{name}: weight.bin int8 {weight(pkg)} bytes, fp16 {weight(fp16)} bytes")
    assert weight(pkg) <= 0.6 * weight(fp16)


def test_int8_weights_bad_options_are_clear(edgeport, case_loader, tmp_path):
    c = case_loader("mobilenetv2")
    res = edgeport.run("convert", c.model, "--to", "coreml", "--target", "ios15", "--quantize", "int8-weights", "-o", tmp_path / "x.mlpackage")
    assert res.returncode == 2 and "iOS16" in res.stderr, res.describe()
    res = edgeport.run("run", c.model, "--hybrid", "--quantize", "int8", "--output", tmp_path / "y.npz")
    assert res.returncode == 2 and "int8-weights" in res.stderr, res.describe()
    assert not (tmp_path / "x.mlpackage").exists() and not (tmp_path / "y.npz").exists()


# --- int8 weights (TFLite hybrid kernels) ------------------------------------------------------

# Where a hybrid kernel rounds a layer's input the other way from edgeport's float accumulation
# (a value on a rounding boundary), the step travels through every later layer; in the deep
# networks that compounds (see test_int8.py) into noise as large as the quantization's own, so
# there the check is on what the report states: the SQNR against the float model. XNNPACK
# (LiteRT's default) runs some of these layers with its own dynamic quantization, or in float
# with the weights decoded, and lands at or above the predicted SQNR (PP-OCR cls: 46 dB
# against 35 predicted); TFLite's builtin hybrid kernels land within 1.5 dB of it.
HYBRID_DEEP = {"mobilenetv2", "ppocr_det", "ppocr_rec", "ppocr_cls"}


@pytest.fixture(scope="session")
def hybrid_tflite(edgeport, out_root, case_loader):
    done = {}

    def get(name: str):
        if name not in done:
            c = case_loader(name)
            out = out_root / "quant" / f"{name}_int8w.tflite"
            out.parent.mkdir(parents=True, exist_ok=True)
            report = out.with_suffix(".json")
            edgeport.convert_ok(c.model, out, "--quantize", "int8-weights", "--report", report, *c.shape_args)
            predicted = out_root / "quant" / f"{name}_int8w_predicted.npz"
            res = edgeport.run(
                "run", c.model, "--input", c.input, "--output", predicted, "--quantize", "int8-weights", "--hybrid", *c.shape_args
            )
            assert res.returncode == 0, res.describe()
            done[name] = (out, json.loads(report.read_text()), load_npz(predicted))
        return done[name]

    return get


@pytest.mark.parametrize("resolver", RESOLVERS)
@pytest.mark.parametrize("case", all_case_params(), indirect=True)
def test_int8_weights_tflite_runs_as_predicted(case, resolver, hybrid_tflite):
    """LiteRT's hybrid kernels compute what edgeport's `--quantize int8-weights --hybrid` run
    (the runtime behind the report) computes: each layer's input quantized row by row."""
    path, _, predicted = hybrid_tflite(case.name)
    expected = load_npz(case.expected)
    got = run_tflite(path, load_npz(case.input), resolver, list(expected))
    for name, want in predicted.items():
        if case.name in HYBRID_DEEP:
            real, said = sqnr_db(got[name], expected[name]), sqnr_db(want, expected[name])
            low = said - 1.5
            high = said + 1.5 if resolver == "builtin_no_delegate" else float("inf")
            assert low <= real <= high, f"{case.name}:{name}: LiteRT SQNR {real:.1f} dB against float, edgeport predicts {said:.1f} dB"
        else:
            failures = compare_outputs(f"{case.name}/predicted", {name: got[name]}, {name: want}, rel_tol=1e-2)
            assert not failures, f"{path} vs edgeport --hybrid:\n" + "\n".join(failures)


@pytest.mark.parametrize("case", all_case_params(), indirect=True)
def test_int8_weights_tflite_stores_int8_filters(case, hybrid_tflite, converted):
    """Every convolution and fully connected layer with a weight of at least 2048 values (the
    weight threshold, as coremltools') reads it as int8 per channel, with no DEQUANTIZE: the
    hybrid kernels take it. Biases stay float32."""
    path, report, _ = hybrid_tflite(case.name)
    fp32 = converted(case.name, False)
    graph = read_tflite(path)
    assert graph.count("DEQUANTIZE") == 0 and graph.count("QUANTIZE") == 0, graph.histogram()
    hybrid = 0
    for op in graph.ops:
        if op.name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        w = op.inputs[1]
        if int(np.prod(graph.tensor_shapes[w])) >= 2048:
            assert graph.tensor_types[w] == "INT8", (graph.tensor_names[w], graph.tensor_types[w])
            channels = graph.tensor_shapes[w][3 if op.name == "DEPTHWISE_CONV_2D" else 0]
            assert len(graph.tensor_scales[w]) == channels, graph.tensor_names[w]
            if len(op.inputs) > 2 and op.inputs[2] >= 0:
                assert graph.tensor_types[op.inputs[2]] == "FLOAT32"
            hybrid += 1
    assert hybrid, "no hybrid layer"
    size, size32 = path.stat().st_size, fp32.stat().st_size
    if case.name in ("mobilenetv2", "resnet", "ppocr_det", "ppocr_rec"):
        assert size <= 0.35 * size32, (size, size32)
    assert report["conversion"]["options"]["quantize"] == "int8-weights"
    (fid,) = report["fidelity"]
    assert fid["variant"] == "int8-weights+fp32" and "hybrid" in fid["method"], fid


# --- palettization (Core ML) -----------------------------------------------------------------

# (target, palette): iOS16/17 tables are per tensor with packed uint8 indices; iOS18 takes
# typed sub-byte indices, 3-bit tables and a table per group of output channels.
PALETTES = [("ios17", "4"), ("ios17", "6:uniform"), ("ios17", "2"), ("ios18", "4:kmeans:g16"), ("ios18", "3")]


@pytest.mark.parametrize("target, palette", PALETTES)
@pytest.mark.parametrize("case", all_case_params(), indirect=True)
def test_palettized_coreml_runs_as_predicted(case, target, palette, edgeport, out_root, tmp_path):
    """Palettized weights (constexpr_lut_to_dense): coremltools rebuilds the program, and
    the MIL evaluator's outputs agree with edgeport's `coreml-fp16 --palettize` run (errors
    against float32 within a factor of 3). No accuracy bound: per-tensor palettes of 2 to 6 bits
    cost what the prediction says (MobileNetV2 at 4 bits: cosine 0.96), which is the point of
    predicting it."""
    from test_coreml import mil_name, milproto_rebuild

    pkg = out_root / "quant" / f"{case.name}_{target}_pal{palette.replace(':', '_')}.mlpackage"
    res = edgeport.run("convert", case.model, "--to", "coreml", "--target", target, "--palettize", palette, "-o", pkg, *case.shape_args)
    assert res.returncode == 0, res.describe()
    milproto_rebuild(pkg)
    ops, mil = _run_mil(pkg, case.input)
    if "constexpr_lut_to_dense" not in ops:
        assert case.name in ("mlp_gelu", "ops_misc"), f"{case.name}: no constexpr_lut_to_dense in {sorted(set(ops))}"
        pytest.skip(f"{case.name}: no weight reaches the 2048-element threshold")
    runs = {}
    for variant, args in [("fp32", []), ("coreml-fp16", ["--palettize", palette])]:
        path = tmp_path / f"{variant}.npz"
        res = edgeport.run("run", case.model, "--input", case.input, "--output", path, "--variant", variant, *args, *case.shape_args)
        assert res.returncode == 0, res.describe()
        runs[variant] = load_npz(path)
    for name, ref in runs["fp32"].items():
        got = mil[mil_name(name)].reshape(ref.shape).astype(np.float32)
        scale = max(1.0, float(np.abs(ref).max()))
        predicted = float(np.abs(runs["coreml-fp16"][name] - ref).max())
        actual = float(np.abs(got - ref).max())
        print(f"{case.name}/{palette}/{name}: predicted error {predicted:.3g}, the artifact's {actual:.3g}")
        assert max(predicted, actual) <= 3 * min(predicted, actual) + 1e-3 * scale, (predicted, actual)


def test_palettized_weights_are_small(edgeport, out_root, case_loader, tmp_path):
    c = case_loader("mobilenetv2")
    sizes = {}
    for tag, args in [("fp16", []), ("pal4", ["--palettize", "4"]), ("pal2", ["--palettize", "2"])]:
        pkg = tmp_path / f"{tag}.mlpackage"
        assert edgeport.run("convert", c.model, "--to", "coreml", "-o", pkg, *args).returncode == 0
        sizes[tag] = (pkg / "Data" / "com.apple.CoreML" / "weights" / "weight.bin").stat().st_size
    print(sizes)
    assert sizes["pal4"] <= 0.35 * sizes["fp16"] and sizes["pal2"] <= 0.22 * sizes["fp16"], sizes
    # iOS18: grouped tables (16 channels each) cost a little; 3-bit indices pack tightly
    for tag, args in [("g16", ["--palettize", "4:g16"]), ("pal3", ["--palettize", "3"])]:
        pkg = tmp_path / f"{tag}.mlpackage"
        assert edgeport.run("convert", c.model, "--to", "coreml", "--target", "ios18", "-o", pkg, *args).returncode == 0
        sizes[tag] = (pkg / "Data" / "com.apple.CoreML" / "weights" / "weight.bin").stat().st_size
    assert sizes["g16"] <= 1.1 * sizes["pal4"] and sizes["pal3"] <= 0.27 * sizes["fp16"], sizes


def test_palettize_bad_options_are_clear(edgeport, case_loader, tmp_path):
    c = case_loader("mobilenetv2")
    for args, code, words in [
        (["--to", "coreml", "--palettize", "5"], 2, "5-bit"),
        (["--to", "coreml", "--palettize", "4:median"], 2, "median"),
        (["--to", "tflite", "--palettize", "4"], 2, "TFLite"),
        (["--to", "coreml", "--target", "ios15", "--palettize", "4"], 2, "iOS16"),
        (["--to", "coreml", "--target", "ios17", "--palettize", "4:g16"], 2, "iOS18"),
        (["--to", "coreml", "--target", "ios17", "--palettize", "3"], 4, "iOS18"),
        (["--to", "coreml", "--target", "ios18", "--palettize", "4:g0"], 2, "group"),
        (["--to", "coreml", "--palettize", "4", "--quantize", "int8-weights"], 4, "int8"),
    ]:
        out = tmp_path / "x.out"
        res = edgeport.run("convert", c.model, *args, "-o", out)
        assert res.returncode == code and words in res.stderr, (args, res.describe())
        assert not out.exists()


# --- pruning ----------------------------------------------------------------------------------

# (target, prune, joint compression): iOS16/17 store a packed mask and float values; iOS18 a
# uint1 mask, and the nonzero values as int8 (constexpr_sparse_blockwise_shift_scale) or as
# palette indices (constexpr_lut_to_sparse) before constexpr_sparse_to_dense.
PRUNES = [
    ("ios17", "0.5", ()),
    ("ios17", "threshold:0.02", ()),
    ("ios18", "0.5", ()),
    ("ios18", "0.5", ("--quantize", "int8-weights")),
    ("ios18", "0.5", ("--palettize", "4:g16")),
]


@pytest.mark.parametrize("target, prune, joint", PRUNES)
@pytest.mark.parametrize("case", all_case_params(), indirect=True)
def test_pruned_coreml_runs_as_predicted(case, target, prune, joint, edgeport, out_root, tmp_path):
    """Pruned weights (constexpr_sparse_to_dense, alone or after the iOS18 sparse int8 and
    palette ops): coremltools rebuilds the program, and the MIL evaluator's outputs agree with
    edgeport's `coreml-fp16 --prune` run (errors against float32 within a factor of 3, as for
    palettes: both round intermediates to float16)."""
    from test_coreml import mil_name, milproto_rebuild

    tag = "_".join([target, prune.replace(":", "_"), *[j.replace(":", "_").lstrip("-") for j in joint]])
    pkg = out_root / "quant" / f"{case.name}_prune_{tag}.mlpackage"
    res = edgeport.run("convert", case.model, "--to", "coreml", "--target", target, "--prune", prune, *joint, "-o", pkg, *case.shape_args)
    assert res.returncode == 0, res.describe()
    milproto_rebuild(pkg)
    ops, mil = _run_mil(pkg, case.input)
    joint_op = {"int8-weights": "constexpr_sparse_blockwise_shift_scale", "4:g16": "constexpr_lut_to_sparse"}
    for j in joint:
        if j in joint_op and "constexpr_sparse_to_dense" in ops:
            assert joint_op[j] in ops, f"{joint_op[j]} missing from {sorted(set(ops))}"
    if "constexpr_sparse_to_dense" not in ops:
        assert case.name in ("mlp_gelu", "ops_misc"), f"{case.name}: no constexpr_sparse_to_dense in {sorted(set(ops))}"
        pytest.skip(f"{case.name}: no weight reaches the 2048-element threshold")
    runs = {}
    for variant, args in [("fp32", []), ("coreml-fp16", ["--prune", prune, *joint])]:
        path = tmp_path / f"{variant}.npz"
        res = edgeport.run("run", case.model, "--input", case.input, "--output", path, "--variant", variant, *args, *case.shape_args)
        assert res.returncode == 0, res.describe()
        runs[variant] = load_npz(path)
    for name, ref in runs["fp32"].items():
        got = mil[mil_name(name)].reshape(ref.shape).astype(np.float32)
        scale = max(1.0, float(np.abs(ref).max()))
        predicted = float(np.abs(runs["coreml-fp16"][name] - ref).max())
        actual = float(np.abs(got - ref).max())
        print(f"{case.name}/prune {prune}/{name}: predicted error {predicted:.3g}, the artifact's {actual:.3g}")
        assert max(predicted, actual) <= 3 * min(predicted, actual) + 1e-3 * scale, (predicted, actual)


@pytest.mark.parametrize("case", all_case_params(), indirect=True)
def test_pruned_tflite_and_onnx_run_as_predicted(case, edgeport, out_root, tmp_path, request):
    """TFLite and ONNX store the pruned weights dense: LiteRT and onnxruntime compute what
    `edgeport run --prune 0.5` computes, within 1e-4 x max(1, max|ref|)."""
    from test_onnx_export import run_ort

    predicted = tmp_path / "predicted.npz"
    res = edgeport.run("run", case.model, "--input", case.input, "--output", predicted, "--prune", "0.5", *case.shape_args)
    assert res.returncode == 0, res.describe()
    want = load_npz(predicted)
    inputs = load_npz(case.input)
    tfl = out_root / "quant" / f"{case.name}_prune50.tflite"
    edgeport.convert_ok(case.model, tfl, "--prune", "0.5", *case.shape_args)
    got = run_tflite(tfl, inputs, "builtin_no_delegate", list(want))
    failures = compare_outputs(f"{request.node.name}/litert", got, want, rel_tol=1e-4)
    onnx_path = out_root / "quant" / f"{case.name}_prune50.onnx"
    res = edgeport.run("convert", case.model, "--to", "onnx", "--prune", "0.5", "-o", onnx_path, *case.shape_args)
    assert res.returncode == 0, res.describe()
    failures += compare_outputs(f"{request.node.name}/onnxruntime", run_ort(onnx_path, inputs), want, rel_tol=1e-4)
    assert not failures, "\n".join(failures)


def test_pruned_weights_are_sparse_and_small(edgeport, case_loader, tmp_path):
    c = case_loader("mobilenetv2")
    sizes = {}
    for tag, args in [
        ("fp16", []),
        ("p50", ["--prune", "0.5"]),
        ("p75", ["--prune", "0.75"]),
        ("p50int8", ["--target", "ios18", "--prune", "0.5", "--quantize", "int8-weights"]),
        ("p50pal4", ["--target", "ios18", "--prune", "0.5", "--palettize", "4"]),
    ]:
        pkg = tmp_path / f"{tag}.mlpackage"
        assert edgeport.run("convert", c.model, "--to", "coreml", "-o", pkg, *args).returncode == 0
        sizes[tag] = (pkg / "Data" / "com.apple.CoreML" / "weights" / "weight.bin").stat().st_size
    print(sizes)
    # the kept values plus a bit per value (1/16 of float16 storage), plus the small tensors
    assert sizes["p50"] <= 0.6 * sizes["fp16"] and sizes["p75"] <= 0.4 * sizes["fp16"], sizes
    # iOS18 joint forms: half the values as int8 (a quarter of fp16) or 4-bit indices, plus the mask
    assert sizes["p50int8"] <= 0.4 * sizes["fp16"] and sizes["p50pal4"] <= 0.26 * sizes["fp16"], sizes
    # the TFLite file holds the zeros: every large weight is at least half zeros
    tfl = tmp_path / "p50.tflite"
    edgeport.convert_ok(c.model, tfl, "--prune", "0.5")
    from ai_edge_litert import schema_py_generated as fb

    model = fb.Model.GetRootAs(tfl.read_bytes(), 0)
    sg = model.Subgraphs(0)
    large = 0
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        data = model.Buffers(t.Buffer()).DataAsNumpy()
        if t.Type() != fb.TensorType.FLOAT32 or isinstance(data, int) or data.size < 4 * 2048:
            continue
        w = data.view(np.float32)
        assert np.mean(w == 0) >= 0.5, (t.Name(), float(np.mean(w == 0)))
        large += 1
    assert large > 0


def test_prune_bad_options_are_clear(edgeport, case_loader, tmp_path):
    c = case_loader("mobilenetv2")
    for args, code, words in [
        (["--to", "coreml", "--prune", "1"], 2, "[0, 1)"),
        (["--to", "coreml", "--prune=-0.1"], 2, "[0, 1)"),
        (["--to", "coreml", "--prune", "half"], 2, "threshold:T"),
        (["--to", "coreml", "--prune", "threshold:-1"], 2, "threshold"),
        (["--to", "coreml", "--target", "ios15", "--prune", "0.5"], 2, "iOS16"),
        (["--to", "coreml", "--prune", "0.5", "--quantize", "int8-weights"], 4, "ios18"),
        (["--to", "coreml", "--prune", "0.5", "--palettize", "4"], 4, "ios18"),
    ]:
        out = tmp_path / "x.out"
        res = edgeport.run("convert", c.model, *args, "-o", out)
        assert res.returncode == code and words in res.stderr, (args, res.describe())
        assert not out.exists()
