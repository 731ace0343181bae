"""Full-integer models (`--quantize int8`) run in LiteRT and onnxruntime as edgeport predicts.

Every fixture and PP-OCR model is calibrated on 12 samples drawn around its reference input
(the reference input itself plus Gaussian samples with its mean and deviation), converted, and
run in LiteRT (XNNPACK and the builtin kernels). Checks:
- the file is full-integer where TFLite has int8 kernels: int8 weights, int8 activations,
  int32 biases, and it is at most 35 % of the float32 file where weights dominate;
- LiteRT's output on the reference input follows edgeport's own simulation
  (`edgeport run --quantize int8`, the runtime behind the report): within 8 steps of the output's
  int8 grid (int8 outputs) or 5 % of max |output| (outputs computed in float after int8 layers).
  The kernels' fixed-point requantization rounds some values the other way, and in deep networks
  (MobileNetV2 with random weights, PP-OCR) those steps compound: there the check is that LiteRT
  is within 10 dB SQNR of the simulation. XNNPACK and TFLite's builtin kernels differ from each
  other by as much (builtin kernels round requantization twice);
- the report's SQNR per output, computed by edgeport's runtime over the calibration samples, is
  within 1.5 dB of LiteRT's SQNR over the same samples (both against the float model): the
  report describes the artifact.
The same plan written as ONNX QDQ (`--to onnx --quantize int8`) runs in onnxruntime to the same
simulation, with the same tolerances, and holds int8 weights behind DequantizeLinear.
Also: the int8 interface, byte-identical output, and clear errors for bad options.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from oracle_lib import FIXTURES_DIR, RESOLVERS, all_case_params, load_npz, read_tflite, run_tflite, sqnr_db

CALIBRATION_SAMPLES = 12
# where per-layer rounding differences compound (see above)
DEEP = {"mobilenetv2", "ppocr_det", "ppocr_rec", "ppocr_cls"}


def _calibration(case, path: Path) -> Path:
    x = load_npz(case.input)
    rng = np.random.default_rng(7)
    arrays = {}
    for k, v in x.items():
        noise = [(rng.standard_normal(v.shape) * v.std() + v.mean()).astype(v.dtype) for _ in range(CALIBRATION_SAMPLES - 1)]
        arrays[k] = np.concatenate([v, *noise])
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="session")
def int8_tflite(edgeport, out_root, case_loader):
    done = {}

    def get(name: str):
        if name not in done:
            c = case_loader(name)
            d = out_root / "int8"
            d.mkdir(parents=True, exist_ok=True)
            calib = _calibration(c, d / f"{name}_calibration.npz")
            out = d / f"{name}.tflite"
            report = d / f"{name}.json"
            edgeport.convert_ok(c.model, out, "--quantize", "int8", "--calibration", calib, "--report", report, *c.shape_args)
            predicted = d / f"{name}_predicted.npz"
            res = edgeport.run(
                "run", c.model, "--quantize", "int8", "--calibration", calib, "--input", c.input, "--output", predicted, *c.shape_args
            )
            assert res.returncode == 0, res.describe()
            done[name] = (out, calib, json.loads(report.read_text()), load_npz(predicted))
        return done[name]

    return get


def _output_scale(path: Path, name: str) -> float | None:
    """The int8 grid step of output `name`, when the model computes it in int8."""
    g = read_tflite(path)
    for tname, scales in zip(g.tensor_names, g.tensor_scales):
        if tname == f"{name}_int8" and scales:
            return scales[0]
    return None


@pytest.mark.parametrize("resolver", RESOLVERS)
@pytest.mark.parametrize("case", all_case_params(), indirect=True)
def test_int8_tflite_runs_as_predicted(case, resolver, int8_tflite):
    path, _, _, predicted = int8_tflite(case.name)
    got = run_tflite(path, load_npz(case.input), resolver, list(predicted))
    for name, want in predicted.items():
        diff = float(np.abs(got[name] - want).max())
        scale = _output_scale(path, name)
        tol = 8 * scale + 1e-6 if scale else 0.05 * max(1.0, float(np.abs(want).max()))
        if case.name in DEEP:
            sqnr = sqnr_db(got[name], want)
            assert sqnr >= 10, f"{case.name}:{name}: LiteRT vs edgeport's simulation SQNR {sqnr:.1f} dB < 10 dB"
        else:
            assert diff <= tol, f"{case.name}:{name}: LiteRT vs edgeport's simulation max |diff| {diff:.4g} > {tol:.4g}"


@pytest.mark.parametrize("case", all_case_params(), indirect=True)
def test_int8_report_predicts_litert_sqnr(case, int8_tflite, edgeport, out_root):
    path, calib, report, _ = int8_tflite(case.name)
    (fid,) = report["fidelity"]
    assert fid["inputs"] == "given" and fid["samples"] == CALIBRATION_SAMPLES, fid
    samples = load_npz(calib)
    ref_path = out_root / "int8" / f"{case.name}_float.npz"
    litert: dict[str, list] = {}
    floats: dict[str, list] = {}
    for i in range(CALIBRATION_SAMPLES):
        x = {k: v[i : i + 1] for k, v in samples.items()}
        feed = out_root / "int8" / f"{case.name}_sample.npz"
        np.savez(feed, **x)
        res = edgeport.run("run", case.model, "--input", feed, "--output", ref_path, *case.shape_args)
        assert res.returncode == 0, res.describe()
        ref = load_npz(ref_path)
        got = run_tflite(path, x, "default", list(ref))
        for k in ref:
            litert.setdefault(k, []).append(got[k])
            floats.setdefault(k, []).append(ref[k])
    for o in fid["outputs"]:
        k = o["output"]
        real = sqnr_db(np.concatenate(litert[k]), np.concatenate(floats[k]))
        said = o.get("sqnr_db", float("inf"))
        assert abs(real - said) <= 1.5 or min(real, said) > 60, f"{case.name}:{k}: report says {said:.2f} dB, LiteRT gives {real:.2f} dB"


@pytest.mark.parametrize("case", all_case_params(), indirect=True)
def test_int8_tflite_is_full_integer(case, int8_tflite, converted):
    path, _, _, _ = int8_tflite(case.name)
    g = read_tflite(path)
    weighted = [op for op in g.ops if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")]
    int8_ops = [op for op in weighted if g.tensor_types[op.inputs[0]] == "INT8"]
    for op in int8_ops:
        w = op.inputs[1]
        assert g.tensor_types[w] == "INT8" and len(g.tensor_scales[w]) >= 1, (op.name, g.tensor_names[w])
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            assert g.tensor_types[op.inputs[2]] == "INT32", (op.name, g.tensor_names[op.inputs[2]])
        assert g.tensor_types[op.outputs[0]] == "INT8", (op.name, g.tensor_names[op.outputs[0]])
    # Grouped and transposed convolutions stay float (ops_misc, PP-OCR det's head); the rest is int8.
    assert len(int8_ops) >= (0.5 if case.name == "ops_misc" else 0.9) * len(weighted), (len(int8_ops), len(weighted))
    float_size = converted(case.name, False).stat().st_size
    if float_size > 1_000_000:
        assert path.stat().st_size <= 0.36 * float_size, (path.stat().st_size, float_size)


def test_int8_interface_and_determinism(edgeport, case_loader, int8_tflite, tmp_path):
    c = case_loader("mobilenetv2")
    path, calib, _, predicted = int8_tflite("mobilenetv2")
    again = tmp_path / "again.tflite"
    edgeport.convert_ok(c.model, again, "--quantize", "int8", "--calibration", calib)
    assert again.read_bytes() == path.read_bytes(), "int8 conversion is not deterministic"

    io = tmp_path / "io.tflite"
    edgeport.convert_ok(c.model, io, "--quantize", "int8", "--calibration", calib, "--interface", "int8")
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(io), num_threads=1)
    it.allocate_tensors()
    (ind,), (outd,) = it.get_input_details(), it.get_output_details()
    assert ind["dtype"] == np.int8 and outd["dtype"] == np.int8, (ind, outd)
    scale, zp = ind["quantization"]
    x = next(iter(load_npz(c.input).values()))
    q = np.clip(np.round(x / scale) + zp, -128, 127).astype(np.int8)
    it.set_tensor(ind["index"], q)
    it.invoke()
    oscale, ozp = outd["quantization"]
    y = (it.get_tensor(outd["index"]).astype(np.float32) - ozp) * oscale
    want = next(iter(predicted.values()))
    # the float-interface model's output, through int8 tensors at both ends (MobileNetV2 is deep:
    # the SQNR criterion of test_int8_tflite_runs_as_predicted)
    assert sqnr_db(y, want) >= 10, sqnr_db(y, want)


def test_int8_bad_options_are_clear(edgeport, case_loader, tmp_path):
    c = case_loader("mobilenetv2")
    out = tmp_path / "x.tflite"
    bad = tmp_path / "bad.npz"
    np.savez(bad, input=np.zeros((4, 3, 32, 32), np.float32))
    res = edgeport.run("convert", c.model, "--to", "tflite", "--quantize", "int8", "--calibration", bad, "-o", out)
    assert res.returncode == 2 and "calibration array 'input'" in res.stderr and "224" in res.stderr, res.describe()
    np.savez(bad, other=np.zeros((4, 3, 224, 224), np.float32))
    res = edgeport.run("convert", c.model, "--to", "tflite", "--quantize", "int8", "--calibration", bad, "-o", out)
    assert res.returncode == 2 and "'other' is not an input" in res.stderr, res.describe()
    np.savez(bad, input=np.zeros((4, 3, 224, 224), np.int32))
    res = edgeport.run("convert", c.model, "--to", "tflite", "--quantize", "int8", "--calibration", bad, "-o", out)
    assert res.returncode == 2 and "float32" in res.stderr, res.describe()
    res = edgeport.run("convert", c.model, "--to", "tflite", "--quantize", "int8", "--keep-float", "no_such_node", "-o", out)
    assert res.returncode == 2 and "no_such_node" in res.stderr, res.describe()
    res = edgeport.run("convert", c.model, "--to", "tflite", "--quantize", "fp16", "--calibration", bad, "-o", out)
    assert res.returncode == 2 and "--quantize int8" in res.stderr, res.describe()
    res = edgeport.run("convert", c.model, "--to", "coreml", "--quantize", "int8", "-o", tmp_path / "x.mlpackage")
    assert res.returncode == 4 and "int8-weights" in res.stderr, res.describe()
    res = edgeport.run("convert", c.model, "--to", "onnx", "--quantize", "int8", "--interface", "int8", "-o", tmp_path / "x.onnx")
    assert res.returncode == 2 and "tflite" in res.stderr, res.describe()
    assert not out.exists()


def test_int8_without_calibration_warns(edgeport, case_loader, tmp_path):
    c = case_loader("mlp_gelu")
    out = tmp_path / "x.tflite"
    res = edgeport.run("convert", c.model, "--to", "tflite", "--quantize", "int8", "-o", out, "--report", tmp_path / "r.json")
    assert res.returncode == 0 and "no --calibration data" in res.stderr, res.describe()
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["fidelity"][0]["inputs"] == "generated"


@pytest.mark.parametrize("case", all_case_params(), indirect=True)
def test_int8_onnx_runs_as_predicted(case, int8_tflite, edgeport, out_root):
    import onnx
    import onnxruntime as ort

    _, calib, _, predicted = int8_tflite(case.name)
    out = out_root / "int8" / f"{case.name}.qdq.onnx"
    res = edgeport.run("convert", case.model, "--to", "onnx", "-o", out, "--quantize", "int8", "--calibration", calib, *case.shape_args)
    assert res.returncode == 0, res.describe()
    model = onnx.load(out)
    onnx.checker.check_model(model, full_check=True)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("QuantizeLinear") > 0 and ops.count("DequantizeLinear") > ops.count("QuantizeLinear"), ops
    assert any(t.data_type == onnx.TensorProto.INT8 for t in model.graph.initializer)
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, load_npz(case.input))))
    for name, want in predicted.items():
        if case.name in DEEP:
            sqnr = sqnr_db(got[name], want)
            assert sqnr >= 10, f"{case.name}:{name}: onnxruntime vs edgeport's simulation SQNR {sqnr:.1f} dB < 10 dB"
        else:
            diff = float(np.abs(got[name] - want).max())
            tol = 0.05 * max(1.0, float(np.abs(want).max()))
            assert diff <= tol, f"{case.name}:{name}: onnxruntime vs edgeport's simulation max |diff| {diff:.4g} > {tol:.4g}"


def test_int8_report_layers_and_keep_float(edgeport, case_loader, int8_tflite, tmp_path):
    c = case_loader("mobilenetv2")
    path, calib, report, _ = int8_tflite("mobilenetv2")
    (fid,) = report["fidelity"]
    layers = fid["layers"]
    assert len(layers) > 10 and all(l["node"] and l["op"] for l in layers)
    sqnrs = [l.get("sqnr_db", float("inf")) for l in layers]
    assert sqnrs == sorted(sqnrs), "layers are listed worst first"
    base = fid["outputs"][0]["sqnr_db"]

    # auto: the layers that lose the most stay float and the report says which and why. Keeping
    # a layer float removes its own rounding only; on this random-weight network the error made
    # upstream dominates, so the output's SQNR must not get worse rather than better.
    auto, auto_report = tmp_path / "auto.tflite", tmp_path / "auto.json"
    edgeport.convert_ok(c.model, auto, "--quantize", "int8", "--calibration", calib, "--keep-float", "auto", "--report", auto_report)
    (afid,) = json.loads(auto_report.read_text())["fidelity"]
    auto_kept = [k for k in afid["kept_float"] if "auto" in k["reason"]]
    assert auto_kept and all("dB" in k["reason"] for k in auto_kept), afid["kept_float"]
    assert afid["outputs"][0]["sqnr_db"] >= base - 0.5, (afid["outputs"][0]["sqnr_db"], base)
    kept_nodes = {k["node"] for k in auto_kept}
    assert all(not l.get("int8") for l in afid["layers"] if l["node"] in kept_nodes)
    got = run_tflite(auto, load_npz(c.input), "default")
    assert all(np.isfinite(v).all() for v in got.values())

    # by name: that node's TFLite op reads float
    name = next(l["node"] for l in layers if l["op"] == "Conv" and l.get("int8"))
    named, named_report = tmp_path / "named.tflite", tmp_path / "named.json"
    edgeport.convert_ok(c.model, named, "--quantize", "int8", "--calibration", calib, "--keep-float", name, "--report", named_report)
    (nfid,) = json.loads(named_report.read_text())["fidelity"]
    assert any(k["node"] == name and "--keep-float" in k["reason"] for k in nfid["kept_float"]), nfid["kept_float"]
    g = read_tflite(named)
    float_convs = [op for op in g.ops if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D") and g.tensor_types[op.inputs[0]] == "FLOAT32"]
    assert len(float_convs) == 1, len(float_convs)
    assert g.count("DEQUANTIZE") >= 2 and g.count("QUANTIZE") >= 2, g.histogram()


def test_int8_calibration_from_npy(edgeport, tmp_path):
    """A single-input model takes its calibration samples as one .npy array: the same model."""
    d = FIXTURES_DIR / "digits"
    npy = tmp_path / "calibration.npy"
    np.save(npy, load_npz(d / "calibration.npz")["pixels"])
    a, b = tmp_path / "a.tflite", tmp_path / "b.tflite"
    edgeport.convert_ok(d / "model.onnx", a, "--quantize", "int8", "--calibration", d / "calibration.npz")
    edgeport.convert_ok(d / "model.onnx", b, "--quantize", "int8", "--calibration", npy)
    assert a.read_bytes() == b.read_bytes()
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["y"], name="add")],
        "two_inputs",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 64]) for n in ("a", "b")],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])],
    )
    two = tmp_path / "two.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), two)
    res = edgeport.run("convert", two, "--to", "tflite", "--quantize", "int8", "--calibration", npy, "-o", tmp_path / "c.tflite")
    assert res.returncode == 2 and "one array per input" in res.stderr, res.describe()


# --- Core ML W8A8 ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def w8a8_coreml(edgeport, out_root, case_loader):
    done = {}

    def get(name: str):
        if name not in done:
            c = case_loader(name)
            d = out_root / "int8"
            d.mkdir(parents=True, exist_ok=True)
            calib = _calibration(c, d / f"{name}_w8a8_calibration.npz")
            pkg = d / f"{name}_w8a8.mlpackage"
            report = d / f"{name}_w8a8.json"
            args = ("--to", "coreml", "--target", "ios17", "--quantize", "w8a8", "--calibration", calib)
            res = edgeport.run("convert", c.model, *args, "-o", pkg, "--report", report, *c.shape_args)
            assert res.returncode == 0, res.describe()
            predicted = d / f"{name}_w8a8_predicted.npz"
            res = edgeport.run(
                "run", c.model, "--variant", "coreml-fp16", "--quantize", "w8a8", "--calibration", calib,
                "--input", c.input, "--output", predicted, *c.shape_args,
            )
            assert res.returncode == 0, res.describe()
            done[name] = (pkg, json.loads(report.read_text()), load_npz(predicted))
        return done[name]

    return get


@pytest.mark.parametrize("case", all_case_params(), indirect=True)
def test_w8a8_coreml_runs_as_predicted(case, w8a8_coreml):
    """Core ML W8A8 (iOS17): coremltools rebuilds the program (quantize/dequantize pairs on the
    int8 plan's activations, int8 weights behind constexpr_affine_dequantize), and the MIL
    evaluator's outputs follow edgeport's `coreml-fp16 --quantize w8a8` simulation (the runtime
    behind the report; scales on the float16 grid, as the program holds them). The program
    computes in float16 and rounds ties to even, so a value on a step boundary can land one step
    over; in the deep networks those steps compound (PP-OCR cls moves its top probability by
    0.035), so the bound there is 10 dB SQNR against the simulation, 25 dB elsewhere (measured:
    29 to 74 dB on the fixtures, 13 to 26 dB on MobileNetV2 and PP-OCR)."""
    from test_coreml import mil_name, milproto_rebuild
    from test_quant import _run_mil

    pkg, report, predicted = w8a8_coreml(case.name)
    milproto_rebuild(pkg)
    ops, mil = _run_mil(pkg, case.input)
    assert "quantize" in ops and "dequantize" in ops, sorted(set(ops))
    for name, want in predicted.items():
        got = mil[mil_name(name)].reshape(want.shape).astype(np.float32)
        sqnr = sqnr_db(got, want)
        floor = 10 if case.name in DEEP else 25
        ref = load_npz(case.expected)[name]
        print(f"{case.name}:{name}: MIL evaluator vs simulation SQNR {sqnr:.1f} dB; vs float: MIL {sqnr_db(got, ref):.1f} predicted {sqnr_db(want, ref):.1f}")
        assert sqnr >= floor, f"{case.name}:{name}: MIL evaluator vs edgeport's W8A8 simulation SQNR {sqnr:.1f} dB < {floor} dB"
    (fid,) = report["fidelity"]
    assert fid["variant"] == "w8a8+coreml-fp16" and fid["inputs"] == "given", fid


def test_w8a8_bad_options_are_clear(edgeport, case_loader, tmp_path):
    c = case_loader("mobilenetv2")
    for args, code, words in [
        (["--to", "coreml", "--quantize", "w8a8"], 2, "ios17"),
        (["--to", "tflite", "--quantize", "w8a8"], 2, "int8"),
        (["--to", "coreml", "--target", "ios17", "--quantize", "int8"], 4, "w8a8"),
        (["--to", "coreml", "--target", "ios17", "--quantize", "w8a8", "--prune", "0.5"], 4, "ios18"),
    ]:
        out = tmp_path / "x.out"
        res = edgeport.run("convert", c.model, *args, "-o", out)
        assert res.returncode == code and words in res.stderr, (args, res.describe())
        assert not out.exists()


def test_calibration_from_images(edgeport, case_loader, tmp_path):
    """A directory of PNGs calibrates an image model as the same pixels in an .npz do (resized
    to the input, scaled to [0, 1], normalized by --image-mean/--image-std, NCHW): the two
    artifacts are byte-identical. Bad images and non-image models are refused clearly."""
    from PIL import Image

    c = case_loader("mobilenetv2")
    (name, x), = load_npz(c.input).items()
    _, ch, h, w = x.shape
    rng = np.random.default_rng(3)
    d = tmp_path / "images"
    d.mkdir()
    mean, std = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)
    samples = []
    for i in range(4):
        pix = rng.integers(0, 256, (h, w, ch), dtype=np.uint8)
        Image.fromarray(pix).save(d / f"{i}.png")
        samples.append(((pix.astype(np.float32) / 255 - mean) / std).transpose(2, 0, 1))
    (d / "notes.txt").write_text("not an image, skipped")
    npz = tmp_path / "calib.npz"
    np.savez(npz, **{name: np.stack(samples).astype(np.float32)})
    img_args = ("--image-mean", "0.485,0.456,0.406", "--image-std", "0.229,0.224,0.225")
    a, b = tmp_path / "a.tflite", tmp_path / "b.tflite"
    edgeport.convert_ok(c.model, a, "--quantize", "int8", "--calibration", d, *img_args)
    edgeport.convert_ok(c.model, b, "--quantize", "int8", "--calibration", npz)
    assert a.read_bytes() == b.read_bytes()
    one = tmp_path / "one.tflite"
    edgeport.convert_ok(c.model, one, "--quantize", "int8", "--calibration", d / "0.png", *img_args)

    (tmp_path / "bad.png").write_bytes(b"not a png")
    res = edgeport.run("convert", c.model, "--to", "tflite", "--quantize", "int8", "--calibration", tmp_path / "bad.png", "-o", tmp_path / "x.tflite")
    assert res.returncode == 2 and "bad.png" in res.stderr, res.describe()
    digits = FIXTURES_DIR / "digits" / "model.onnx"
    res = edgeport.run("convert", digits, "--to", "tflite", "--quantize", "int8", "--calibration", d, "-o", tmp_path / "x.tflite")
    assert res.returncode == 2 and "[1, C, H, W]" in res.stderr, res.describe()
    assert not (tmp_path / "x.tflite").exists()
