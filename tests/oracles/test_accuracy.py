"""Task accuracy of the quantized TFLite variants on real data, measured in LiteRT.

Two classifiers with labelled evaluation sets:
- digits: the MLP of tests/fixtures/digits (scikit-learn's 8x8 handwritten digits; 540 test
  samples, calibration.npz = 100 training samples), see tests/fixtures/make_digits.py;
- ppocr_cls: PP-OCR's text-direction classifier (0 / 180 degrees) on 200 rendered text lines,
  calibrated on 64 others, see tests/fixtures/ppocr_cls_eval.py.

For each: the float model's accuracy in onnxruntime, then every variant converted by edgeport
and run sample by sample in LiteRT (one interpreter per variant):
- fp16 (`--quantize fp16`): within 0.2 points of float;
- int8 (`--quantize int8 --calibration CALIB.npz`, full-integer with a float32 interface):
  within 1 point of float;
- int8_io (the same with `--interface int8`: int8 input and output tensors; the input is
  quantized with the input tensor's (scale, zero_point), the output dequantized): within 1 point.

The accuracies go to tests/out/oracles/accuracy.json (model -> variant -> accuracy), rewritten
after every test, for the benchmark notes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from oracle_lib import FIXTURES_DIR, load_npz, read_tflite

MODELS = ["digits", pytest.param("ppocr_cls", marks=pytest.mark.ppocr)]

# variant -> (extra convert args, with {calib} for the calibration file; max |acc - float|)
VARIANTS = {
    "fp16": (["--quantize", "fp16"], 0.002),
    "int8": (["--quantize", "int8", "--calibration", "{calib}"], 0.01),
    "int8_io": (["--quantize", "int8", "--calibration", "{calib}", "--interface", "int8"], 0.01),
}

# sanity floors for the float models: the evaluation sets must make the task meaningful
FLOAT_MIN = {"digits": 0.95, "ppocr_cls": 0.90}

# ops whose main input must be int8 in a full-integer model
INTEGER_OPS = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "BATCH_MATMUL")

ACCURACY: dict[str, dict[str, float]] = {}


@dataclass(frozen=True)
class EvalCase:
    name: str
    model: Path
    x: np.ndarray  # [N] + the model's input shape without its batch dim
    y: np.ndarray  # int64 [N]
    calibration: Path  # npz, key = the model's input name
    shape_args: tuple[str, ...] = ()


def _record(out_root: Path, model: str, variant: str, acc: float) -> None:
    ACCURACY.setdefault(model, {})[variant] = acc
    path = out_root / "accuracy.json"
    path.write_text(json.dumps(ACCURACY, indent=2, sort_keys=True) + "\n")


@pytest.fixture(scope="session")
def eval_cases(case_loader, out_root):
    cache: dict[str, EvalCase] = {}

    def get(name: str) -> EvalCase:
        if name in cache:
            return cache[name]
        if name == "digits":
            d = FIXTURES_DIR / "digits"
            test = load_npz(d / "test.npz")
            cache[name] = EvalCase(name, d / "model.onnx", test["x"], test["y"], d / "calibration.npz")
        elif name == "ppocr_cls":
            import ppocr_cls_eval

            c = case_loader("ppocr_cls")
            x, y = ppocr_cls_eval.evaluation_set()
            calib = out_root / "accuracy" / "ppocr_cls_calibration.npz"
            calib.parent.mkdir(parents=True, exist_ok=True)
            from _common import write_npz

            write_npz(calib, {ppocr_cls_eval.INPUT_NAME: ppocr_cls_eval.calibration_set()})
            cache[name] = EvalCase(name, c.model, x, y, calib, c.shape_args)
        else:
            raise KeyError(name)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def float_accuracy(eval_cases, out_root):
    done: dict[str, float] = {}

    def get(name: str) -> float:
        if name not in done:
            from _common import ort_session

            c = eval_cases(name)
            sess = ort_session(c.model)
            inp = sess.get_inputs()[0].name
            out = sess.get_outputs()[0].name
            pred = np.array([int(np.argmax(sess.run([out], {inp: c.x[i : i + 1]})[0])) for i in range(len(c.x))])
            done[name] = float(np.mean(pred == c.y))
            _record(out_root, name, "float", done[name])
        return done[name]

    return get


def _litert_accuracy(path: Path, c: EvalCase, interface: str) -> float:
    """Run every evaluation sample through one LiteRT interpreter; return the accuracy."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path), num_threads=1)
    interp.allocate_tensors()
    (inp,) = interp.get_input_details()
    (out,) = interp.get_output_details()
    want = np.int8 if interface == "int8" else np.float32
    assert inp["dtype"] == want and out["dtype"] == want, (
        f"{path}: interface {inp['dtype'].__name__} -> {out['dtype'].__name__}, expected {want.__name__}"
    )
    shape = tuple(int(d) for d in inp["shape"])
    assert shape == (1, *c.x.shape[1:]), f"{path}: input shape {shape}, samples {c.x.shape}"
    if interface == "int8":
        in_scale, in_zp = inp["quantization"]
        out_scale, out_zp = out["quantization"]
        assert in_scale > 0 and out_scale > 0, (inp["quantization"], out["quantization"])
    correct = 0
    for i in range(len(c.x)):
        x = c.x[i : i + 1]
        if interface == "int8":
            x = np.clip(np.round(x / in_scale) + in_zp, -128, 127).astype(np.int8)
        interp.set_tensor(inp["index"], x)
        interp.invoke()
        logits = interp.get_tensor(out["index"])
        if interface == "int8":
            logits = (logits.astype(np.float32) - out_zp) * out_scale
        correct += int(np.argmax(logits.reshape(-1)) == c.y[i])
    return correct / len(c.x)


def _assert_full_integer(path: Path) -> None:
    """Every matmul / conv of the file computes on int8 activations."""
    from ai_edge_litert.interpreter import Interpreter

    graph = read_tflite(path)
    dtypes = {d["index"]: d["dtype"] for d in Interpreter(model_path=str(path)).get_tensor_details()}
    compute = [op for op in graph.ops if op.name in INTEGER_OPS]
    assert compute, f"{path}: no {INTEGER_OPS} op; {graph.histogram()}"
    floats = [
        f"#{op.index} {op.name} reads {graph.tensor_names[op.inputs[0]]!r} ({dtypes.get(op.inputs[0])})"
        for op in compute
        if dtypes.get(op.inputs[0]) != np.int8
    ]
    assert not floats, f"{path}: not full-integer:\n" + "\n".join(floats)


@pytest.mark.parametrize("model", MODELS)
def test_float_accuracy(model, float_accuracy):
    acc = float_accuracy(model)
    print(f"{model}: float accuracy (onnxruntime) {acc:.4f}")
    assert acc >= FLOAT_MIN[model], f"{model}: float accuracy {acc:.4f} < {FLOAT_MIN[model]}"


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("model", MODELS)
def test_quantized_accuracy(model, variant, eval_cases, float_accuracy, edgeport, out_root):
    c = eval_cases(model)
    ref = float_accuracy(model)
    args, bound = VARIANTS[variant]
    args = [a.format(calib=c.calibration) for a in args]
    out = out_root / "accuracy" / f"{model}_{variant}.tflite"
    out.parent.mkdir(parents=True, exist_ok=True)
    res = edgeport.run("convert", c.model, "--to", "tflite", *args, "-o", out, *c.shape_args)
    assert res.returncode == 0, res.describe()
    assert out.is_file(), res.describe()
    if variant.startswith("int8"):
        _assert_full_integer(out)
    acc = _litert_accuracy(out, c, "int8" if variant == "int8_io" else "float32")
    _record(out_root, model, variant, acc)
    print(f"{model}/{variant}: accuracy {acc:.4f} (float {ref:.4f}, {out.stat().st_size} bytes)")
    assert abs(acc - ref) <= bound + 1e-9, (
        f"{model}/{variant}: accuracy {acc:.4f}, float {ref:.4f}: off by "
        f"{100 * abs(acc - ref):.2f} points (allowed {100 * bound:.1f})"
    )
