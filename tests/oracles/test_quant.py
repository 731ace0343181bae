"""Quantized variants run in the real runtimes, and agree with what edgeport's report predicts.

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

from oracle_lib import RESOLVERS, all_case_params, compare_outputs, load_npz, read_tflite, run_tflite


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
