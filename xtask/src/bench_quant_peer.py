"""`cargo xtask bench quant`: edgeport's full-integer int8 against onnxruntime's quantize_static.

Usage: python bench_quant_peer.py CLI REPO WORK RUNS [ONNX2TF]

For each model with labelled data (digits; PP-OCR cls on rendered text), with the same
calibration samples for every tool:
- edgeport: `convert --quantize int8 --calibration` to TFLite (run in LiteRT) and to ONNX QDQ
  (run in onnxruntime);
- onnxruntime.quantization.quantize_static: QDQ, per-channel int8 weights, int8 activations,
  MinMax calibration (its defaults otherwise), run in onnxruntime;
- with ONNX2TF (the onnx2tf executable of its own venv): `onnx2tf -oiqt` with the samples as
  `-cind` (NHWC for image inputs, mean 0 and std 1: they are normalized already); its
  `model_integer_quant.tflite` (int8 inside a float32 interface) runs in LiteRT.
Reports top-1 accuracy on the evaluation set, agreement of top-1 with the float model, the
artifact size and the quantization wall time (median of RUNS, whole process for edgeport,
the quantize_static call for onnxruntime). Prints a markdown table.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort


def one(x, i):
    """Sample i with its batch axis of 1 (rows of [N, ...] where the model takes [1, ...])."""
    return x[i] if x.ndim > 2 and x.shape[1] == 1 else x[i : i + 1]


def run_ort(path, name, x):
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.concatenate([s.run(None, {name: one(x, i)})[0] for i in range(len(x))])


def run_litert(path, x):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    (ind,), (outd,) = it.get_input_details(), it.get_output_details()
    outs = []
    for i in range(len(x)):
        it.set_tensor(ind["index"], one(x, i))
        it.invoke()
        outs.append(it.get_tensor(outd["index"]).copy())
    return np.concatenate(outs)


def timed(fn, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def ort_quantize(model, out, name, calib):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{name: one(calib, i)} for i in range(len(calib))])

        def get_next(self):
            return next(self.it, None)

    quantize_static(
        str(model),
        str(out),
        Reader(),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QInt8,
        weight_type=QuantType.QInt8,
    )


def main():
    cli, repo, work, runs = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    onnx2tf = sys.argv[5] if len(sys.argv) > 5 else None
    sys.path.insert(0, str(repo / "tests" / "fixtures"))
    models = []
    d = repo / "tests" / "fixtures" / "digits"
    test = np.load(d / "test.npz")
    models.append(("digits (scikit-learn, 540 test images)", d / "model.onnx", "pixels", test["x"], test["y"], d / "calibration.npz", []))
    try:
        import ppocr
        import ppocr_cls_eval

        cls = ppocr.MODELS["cls"]
        model = ppocr.fetch_models()["cls"]
        x, y = ppocr_cls_eval.evaluation_set()
        cx = ppocr_cls_eval.calibration_set()
        x = x.reshape((-1, *cls.input_shape)).astype(np.float32)  # [N, 1, 3, 48, 192]
        cpath = work / "cls_calibration.npz"
        cx = cx.reshape((-1, *cls.input_shape[1:])).astype(np.float32)
        np.savez(cpath, **{cls.input_name: cx})
        models.append(("PP-OCR cls (200 rendered text lines)", Path(model), cls.input_name, x, y, cpath, ["--input-shape", cls.shape_arg]))
    except Exception as e:  # noqa: BLE001 - the table says what was left out
        print(f"note: PP-OCR cls left out: {e}", file=sys.stderr)

    rows = []
    failed = []
    for label, model, name, x, y, calib_path, extra in models:
        calib = np.load(calib_path)[name]
        calib = calib.reshape((-1, 1, *calib.shape[1:])) if x.ndim > 2 else calib
        ref = run_ort(model, name, x)
        float_acc = float(np.mean(ref.argmax(-1) == y))
        ours_t = work / "edgeport.tflite"
        ours_o = work / "edgeport.onnx"
        base = [cli, "convert", str(model), "--quantize", "int8", "--calibration", str(calib_path), *extra]
        t_ours = timed(lambda: subprocess.run([*base, "--to", "tflite", "-o", str(ours_t)], check=True, capture_output=True), runs)
        subprocess.run([*base, "--to", "onnx", "-o", str(ours_o)], check=True, capture_output=True)
        peer = work / "ort_qdq.onnx"
        t_peer = timed(lambda: ort_quantize(model, peer, name, calib), runs)
        results = [
            ("edgeport int8 TFLite (LiteRT)", run_litert(ours_t, x), ours_t, t_ours),
            ("edgeport int8 ONNX QDQ (onnxruntime)", run_ort(ours_o, name, x), ours_o, None),
            ("onnxruntime quantize_static QDQ (onnxruntime)", run_ort(peer, name, x), peer, t_peer),
        ]
        if onnx2tf:
            image = x.ndim == 5
            cal = calib.reshape((-1, *calib.shape[2:])) if image else calib
            npy = work / "onnx2tf_calibration.npy"
            np.save(npy, cal.transpose(0, 2, 3, 1) if image else cal)
            out_dir = work / "onnx2tf"
            # onnx2tf rewrites its input file (onnxsim in place): it gets a copy
            copy = work / "onnx2tf_input.onnx"
            shutil.copyfile(model, copy)
            cmd = [onnx2tf, "-i", str(copy), "-o", str(out_dir), "-oiqt", "-cind", name, str(npy), "0", "1"]
            # onnx2tf downloads this file for its own output check unless it is in the working
            # directory; nothing may be downloaded, so a local one of the same shape stands in.
            sample = work / "calibration_image_sample_data_20x128x128x3_float32.npy"
            if not sample.is_file():
                np.save(sample, np.random.default_rng(0).random((20, 128, 128, 3), dtype=np.float32))
            if extra:
                cmd += ["-ois", extra[1].replace("=", ":")]
            env = dict(os.environ, PATH=f"{Path(onnx2tf).parent}{os.pathsep}{os.environ.get('PATH', '')}")

            def convert():
                shutil.rmtree(out_dir, ignore_errors=True)
                return subprocess.run(cmd, capture_output=True, text=True, cwd=work, env=env)

            probe = convert()
            o2t = out_dir / f"{copy.stem}_integer_quant.tflite"
            if probe.returncode == 0 and o2t.is_file():
                t_o2t = timed(convert, runs)
                xin = x.transpose(0, 1, 3, 4, 2) if image else x
                results.append(("onnx2tf -oiqt TFLite (LiteRT)", run_litert(o2t, xin), o2t, t_o2t))
            else:
                lines = [l for l in (probe.stdout + probe.stderr).splitlines() if "Error" in l or "ERROR" in l]
                failed.append((label, lines[-1].strip() if lines else f"exit {probe.returncode}"))
        rows.append((label, "float (onnxruntime)", float_acc, 1.0, model.stat().st_size, None))
        for what, out, path, t in results:
            out = out.reshape(ref.shape)
            rows.append((label, what, float(np.mean(out.argmax(-1) == y)), float(np.mean(out.argmax(-1) == ref.argmax(-1))), path.stat().st_size, t))

    print("| model | variant | top-1 accuracy | top-1 agreement with float | size | quantization time |")
    print("|---|---|---:|---:|---:|---:|")
    for label, what, acc, agree, size, t in rows:
        ts = "" if t is None else f"{t * 1000:.0f} ms"
        print(f"| {label} | {what} | {acc * 100:.2f} % | {agree * 100:.1f} % | {size / 1024:.1f} KiB | {ts} |")
    for label, why in failed:
        print(f"\nonnx2tf -oiqt failed on {label}: `{why[:200]}`")
    print(f"\nversions: onnxruntime {ort.__version__}, numpy {np.__version__}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
