"""Shared pytest setup for edgeport's oracle tests.

Environment:
    EDGEPORT_BIN       converter binary (default: target/release/edgeport in the repository)
    EDGEPORT_CACHE     cache root for downloaded PP-OCR models (default: ~/.cache/edgeport)
    EDGEPORT_TEST_OUT  where converted artifacts are kept for inspection (default: tests/out/oracles)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent
sys.path.insert(0, str(TESTS_DIR / "fixtures"))
sys.path.insert(0, str(TESTS_DIR / "oracles"))

from oracle_lib import FIXTURES_DIR, NUMERIC_REPORT, Case  # noqa: E402

CLI_TIMEOUT_S = 600


# --------------------------------------------------------------------------------------------
# the converter binary
# --------------------------------------------------------------------------------------------


@dataclass
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (
            f"$ {' '.join(self.args)}\n-> exit {self.returncode}\n"
            f"--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-4000:]}"
        )


class Edgeport:
    def __init__(self, binary: Path):
        self.binary = binary

    def run(self, *args, timeout: float = CLI_TIMEOUT_S) -> CliResult:
        cmd = [str(self.binary), *[str(a) for a in args]]
        env = dict(os.environ)
        env.setdefault("RUST_BACKTRACE", "0")
        try:
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout, env=env, errors="replace"
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"timed out after {timeout}s: {' '.join(cmd)}")
        return CliResult(cmd, proc.returncode, proc.stdout, proc.stderr)

    def convert_ok(self, model: Path, out: Path, *extra) -> CliResult:
        res = self.run("convert", model, "--to", "tflite", "-o", out, *extra)
        assert res.returncode == 0, "conversion failed\n" + res.describe()
        assert out.is_file(), f"exit 0 but {out} was not written\n" + res.describe()
        return res


def _resolve_binary() -> Path:
    env = os.environ.get("EDGEPORT_BIN")
    p = Path(env) if env else REPO_ROOT / "target" / "release" / "edgeport"
    if not p.is_absolute():
        p = REPO_ROOT / p
    return p


@pytest.fixture(scope="session")
def edgeport() -> Edgeport:
    binary = _resolve_binary()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(
            f"edgeport binary not found at {binary}: build it with "
            "`cargo build --release` or set EDGEPORT_BIN",
            pytrace=False,
        )
    return Edgeport(binary)


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def out_root() -> Path:
    """A fresh directory for this session's artifacts (kept afterwards for debugging)."""
    root = Path(os.environ.get("EDGEPORT_TEST_OUT", REPO_ROOT / "tests" / "out" / "oracles"))
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    return root


@pytest.fixture(scope="session")
def ppocr_cases() -> dict:
    import ppocr

    return ppocr.prepare()


def _fixture_case(name: str) -> Case:
    d = FIXTURES_DIR / name
    return Case(name, d / "model.onnx", d / "input.npz", d / "expected.npz")


@pytest.fixture(scope="session")
def case_loader(request):
    """name -> Case; PP-OCR models are fetched (and cached) only when a test asks for one."""
    cache: dict[str, Case] = {}

    def load(name: str) -> Case:
        if name not in cache:
            if name.startswith("ppocr_"):
                pc = request.getfixturevalue("ppocr_cases")[name[len("ppocr_") :]]
                cache[name] = Case(
                    name,
                    pc.model,
                    pc.input,
                    pc.expected,
                    shape_args=("--input-shape", pc.spec.shape_arg),
                    input_shapes={pc.spec.input_name: tuple(pc.spec.input_shape)},
                    ppocr=True,
                )
            else:
                cache[name] = _fixture_case(name)
        return cache[name]

    return load


@pytest.fixture
def case(request, case_loader) -> Case:
    return case_loader(request.param)


@pytest.fixture(scope="session")
def converted(edgeport, out_root, case_loader):
    """(case name, nhwc_io) -> path of the .tflite, converted once per session."""
    done: dict[tuple[str, bool], Path] = {}

    def get(name: str, nhwc: bool) -> Path:
        key = (name, nhwc)
        if key not in done:
            c = case_loader(name)
            out = out_root / "tflite" / f"{name}{'_nhwc' if nhwc else ''}.tflite"
            out.parent.mkdir(parents=True, exist_ok=True)
            extra = list(c.shape_args) + (["--nhwc-io"] if nhwc else [])
            edgeport.convert_ok(c.model, out, *extra)
            done[key] = out
        return done[key]

    return get


# --------------------------------------------------------------------------------------------
# a summary of numeric comparisons at the end of the run
# --------------------------------------------------------------------------------------------

def pytest_terminal_summary(terminalreporter):
    if not NUMERIC_REPORT:
        return
    tr = terminalreporter
    tr.section("max abs error per output (tflite vs onnxruntime)")
    width = max(len(t) for t, *_ in NUMERIC_REPORT)
    for test_id, out, err, tol, ok in NUMERIC_REPORT:
        flag = "ok  " if ok else "FAIL"
        tr.write_line(f"{flag} {test_id:<{width}}  {out}: max_abs_err={err:.3g} tol={tol:.3g}")
