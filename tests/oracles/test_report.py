"""The run report (schema edgeport.report/1, docs/report.md) as the CLI writes it.

- `convert --report/--link` describes the artifact written (hashes, size) and the link decodes to
  the same report.
- The fidelity a Core ML fp16 report predicts is about the real artifact: edgeport's
  `coreml-fp16` run (weights and intermediates rounded where the program stores float16) is
  compared with the independent NumPy MIL evaluator running the converted package. Both
  errors against float32 must agree within a factor of 3 (rounding errors are pseudo-random,
  so the two paths differ in detail but not in size); a weights-only simulation would not
  model PP-OCR det's mixed precision.
- `simulate --report` embeds the same simulation as `--json`; `bench --report` records the
  harness's figures and the environment.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib

import numpy as np
import pytest

import mil_eval as me
from oracle_lib import load_npz


def decode_link(fragment: str) -> dict:
    payload = fragment.strip().split("#r=")[-1]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return json.loads(zlib.decompress(raw, -15))


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("to", ["tflite", "coreml"])
def test_convert_report_describes_the_artifact(to, edgeport, case_loader, tmp_path):
    case = case_loader("mobilenetv2")
    out = tmp_path / ("m.tflite" if to == "tflite" else "m.mlpackage.zip")
    report_path = tmp_path / "report.json"
    res = edgeport.run("convert", case.model, "--to", to, "-o", out, "--report", report_path, "--link")
    assert res.returncode == 0, res.describe()
    report = json.loads(report_path.read_text())
    assert report["schema"] == "edgeport.report/1"
    assert report["model"] == {"name": "model.onnx", "sha256": sha256(case.model), "bytes": case.model.stat().st_size}
    conv = report["conversion"]
    assert conv["sha256"] == sha256(out) and conv["size"] == out.stat().st_size
    assert conv["options"]["to"] == to
    if to == "tflite":
        assert "fidelity" not in report, "a float32 artifact computes what the original does"
    else:
        (fid,) = report["fidelity"]
        assert fid["variant"] == "coreml-fp16" and fid["inputs"] == "generated" and fid["samples"] == 4
        (logits,) = fid["outputs"]
        assert 0 < logits["max_abs_error"] < 0.1 and logits["cosine_similarity"] > 0.999, logits
        assert logits["sqnr_db"] > 30 and logits["top1_agreement"] == 1.0, logits
    assert decode_link(res.stderr.strip().splitlines()[-1]) == report


@pytest.mark.parametrize("name", ["mobilenetv2", pytest.param("ppocr_det", marks=pytest.mark.ppocr), pytest.param("ppocr_cls", marks=pytest.mark.ppocr)])
def test_coreml_fp16_fidelity_models_the_artifact(name, edgeport, case_loader, tmp_path):
    case = case_loader(name)
    pkg = tmp_path / "m.mlpackage.zip"
    res = edgeport.run("convert", case.model, "--to", "coreml", "-o", pkg, *case.shape_args)
    assert res.returncode == 0, res.describe()
    outs = {}
    for variant in ["fp32", "coreml-fp16"]:
        path = tmp_path / f"{variant}.npz"
        res = edgeport.run("run", case.model, "--input", case.input, "--output", path, "--variant", variant, *case.shape_args)
        assert res.returncode == 0, res.describe()
        (outs[variant],) = load_npz(path).values()
    (feed,) = load_npz(case.input).values()
    program = me.MilProgram(me.MlPackage(pkg))
    (mil,) = program.run({next(iter(program.inputs)): feed}).values()
    ref = outs["fp32"]
    scale = max(1.0, float(np.abs(ref).max()))
    predicted = float(np.abs(outs["coreml-fp16"] - ref).max())
    actual = float(np.abs(mil.reshape(ref.shape).astype(np.float32) - ref).max())
    print(f"{name}: predicted fp16 error {predicted:.3g}, the artifact's {actual:.3g}")
    assert predicted > 0 and actual > 0
    assert max(predicted, actual) <= 3 * min(predicted, actual) + 1e-3 * scale, (predicted, actual)


def test_simulate_and_bench_reports(edgeport, case_loader, tmp_path):
    case = case_loader("resnet")
    path = tmp_path / "sim.json"
    res = edgeport.run("simulate", case.model, "--profile", "pixel8,iphone15pro", "--json", "--report", path)
    assert res.returncode == 0, res.describe()
    report = json.loads(path.read_text())
    assert report["simulation"]["report"] == json.loads(res.stdout)
    assert "conversion" not in report and "measured" not in report
    path = tmp_path / "bench.json"
    res = edgeport.run("bench", case.model, "--runs", "3", "--warmup", "1", "--variant", "fp16", "--json", "--report", path)
    assert res.returncode == 0, res.describe()
    report, bench = json.loads(path.read_text()), json.loads(res.stdout)
    (cpu,) = report["measured"]
    assert cpu["backend"] == "cpu" and cpu["environment"]["runtime"] == "native" and cpu["warmup"] == 1
    (v,) = cpu["variants"]
    assert v["variant"] == "fp16" and v["runs"] == 3
    assert {k: v[k] for k in ("load_ms", "first_run_ms", "p50_ms", "p99_ms")} == {k: bench[k] for k in ("load_ms", "first_run_ms", "p50_ms", "p99_ms")}
    (fid,) = report["fidelity"]
    assert fid["variant"] == "fp16" and fid["outputs"][0]["cosine_similarity"] > 0.999
