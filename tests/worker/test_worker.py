"""End-to-end tests of the edge worker running in workerd on loopback.

The worker must answer exactly what the CLI answers (the same .tflite / .mlpackage.zip bytes, the
same inspect JSON, the same run report), refuse every bad request with the right status and a
JSON error, survive a panic and a burst of mixed requests, and describe itself with a valid
OpenAPI 3.1 document.
"""

from __future__ import annotations

import base64
import concurrent.futures
import email
import email.policy
import hashlib
import http.client
import json
import os
import random
import select
import socket
import urllib.parse
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
WORKER_URL = os.environ.get("EDGEPORT_WORKER_URL", "")
PANIC_URL = os.environ.get("EDGEPORT_WORKER_PANIC_URL", "")
OCTET = {"content-type": "application/octet-stream"}
LIMIT = 64 * 1024 * 1024
ROUTES = {
    ("GET", "/v1/health"),
    ("GET", "/v1/version"),
    ("GET", "/v1/openapi.json"),
    ("POST", "/v1/inspect"),
    ("POST", "/v1/convert"),
    ("GET", "/v1/profiles"),
    ("POST", "/v1/simulate"),
}
FIXTURE_NAMES = sorted(p.parent.name for p in FIXTURES.glob("*/model.onnx"))


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------


@dataclass
class Resp:
    status: int
    headers: dict = field(default_factory=dict)
    body: bytes = b""

    def json(self):
        assert self.headers.get("content-type", "").startswith("application/json"), self.describe()
        return json.loads(self.body)

    def describe(self) -> str:
        return f"{self.status} {self.headers} {self.body[:600]!r}"


def _split(base: str):
    u = urllib.parse.urlsplit(base)
    return u.hostname, u.port


def request(method: str, path: str, body=None, headers=None, base: str = "", timeout: float = 300) -> Resp:
    """One request on a fresh connection. A bytes body is sent with content-length; an iterable
    of chunks with transfer-encoding: chunked and no length."""
    host, port = _split(base or WORKER_URL)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        hdrs = dict(headers or {})
        chunked = body is not None and not isinstance(body, (bytes, bytearray))
        conn.request(method, path, body=body, headers=hdrs, encode_chunked=chunked)
        r = conn.getresponse()
        data = r.read()
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


def send_large(path: str, total: int, declare_length: bool, base: str = "", step: int = 1 << 20) -> tuple[Resp, int]:
    """Streams `total` zero bytes, stopping as soon as the worker answers (it may refuse before
    reading everything). Returns the response and how many body bytes were sent."""
    host, port = _split(base or WORKER_URL)
    sock = socket.create_connection((host, port), timeout=300)
    try:
        head = [f"POST {path} HTTP/1.1", f"host: {host}:{port}", "content-type: application/octet-stream"]
        head.append(f"content-length: {total}" if declare_length else "transfer-encoding: chunked")
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        sent, chunk = 0, bytes(step)
        try:
            while sent < total:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
                n = min(step, total - sent)
                piece = chunk[:n]
                sock.sendall(piece if declare_length else b"%x\r\n" % n + piece + b"\r\n")
                sent += n
            else:
                if not declare_length:
                    sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        r = http.client.HTTPResponse(sock)
        r.begin()
        data = r.read()
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, data), sent
    finally:
        sock.close()


# --------------------------------------------------------------------------------------------
# models and the CLI's answers
# --------------------------------------------------------------------------------------------


def model_bytes(name: str) -> bytes:
    return (FIXTURES / name / "model.onnx").read_bytes()


def _onnx_model(nodes, inputs, outputs, name):
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, name, inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="edgeport-tests")
    model.ir_version = 8
    return model.SerializeToString()


@pytest.fixture(scope="session")
def unsupported_model() -> bytes:
    """x -> FrobnicateA -> Relu -> FrobnicateB -> y: two unsupported nodes around a supported one."""
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("FrobnicateA", ["x"], ["a"], name="frob_a"),
        helper.make_node("Relu", ["a"], ["b"], name="relu"),
        helper.make_node("FrobnicateB", ["b"], ["y"], name="frob_b"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    return _onnx_model(nodes, [x], [y], "unsupported")


@pytest.fixture(scope="session")
def dynamic_model() -> bytes:
    """Two inputs with an open batch dim; one input name holds a ':' (as TF exports do)."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Add", ["in:0", "b"], ["s"], name="add"), helper.make_node("Relu", ["s"], ["y"], name="relu")]
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 4]) for n in ("in:0", "b")]
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    return _onnx_model(nodes, ins, [y], "dynamic")


class CliAnswers:
    """The CLI's output for given options, computed once each."""

    def __init__(self, edgeport, root: Path):
        self.edgeport, self.root, self.cache = edgeport, root, {}

    def convert(self, model: Path, *args) -> bytes:
        key = ("convert", str(model), args)
        if key not in self.cache:
            out = self.root / f"{len(self.cache)}.out"
            res = self.edgeport.run("convert", model, "-o", out, *args)
            assert res.returncode == 0, res.describe()
            self.cache[key] = out.read_bytes()
        return self.cache[key]

    def inspect(self, model: Path, *args):
        key = ("inspect", str(model), args)
        if key not in self.cache:
            res = self.edgeport.run("inspect", model, "--json", *args)
            assert res.returncode == 0, res.describe()
            self.cache[key] = json.loads(res.stdout)
        return self.cache[key]


    def simulate(self, model: Path, *args):
        key = ("simulate", str(model), args)
        if key not in self.cache:
            res = self.edgeport.run("simulate", model, "--json", *args)
            assert res.returncode == 0, res.describe()
            self.cache[key] = json.loads(res.stdout)
        return self.cache[key]

    def report(self, command: str, model: Path, *args) -> tuple[dict, str]:
        """`edgeport convert|simulate ... --report FILE --link`: the run report and the link's
        payload (what follows `#r=` on stderr)."""
        key = ("report", command, str(model), args)
        if key not in self.cache:
            path = self.root / f"{len(self.cache)}.report.json"
            extra = ("-o", self.root / f"{len(self.cache)}.out") if command == "convert" else ()
            res = self.edgeport.run(command, model, *extra, *args, "--report", path, "--link")
            assert res.returncode == 0, res.describe()
            links = [line[len("#r="):] for line in res.stderr.splitlines() if line.startswith("#r=")]
            assert len(links) == 1, res.describe()
            self.cache[key] = (json.loads(path.read_text()), links[0])
        return self.cache[key]


@pytest.fixture(scope="session")
def cli(edgeport, tmp_path_factory) -> CliAnswers:
    return CliAnswers(edgeport, tmp_path_factory.mktemp("cli"))


@pytest.fixture(scope="session")
def openapi() -> dict:
    r = request("GET", "/v1/openapi.json")
    assert r.status == 200, r.describe()
    return r.json()


@pytest.fixture(scope="session")
def error_codes(openapi) -> set:
    return set(openapi["components"]["schemas"]["Error"]["properties"]["code"]["enum"])


def assert_error(r: Resp, status: int, code: str, codes: set | None = None):
    assert r.status == status, r.describe()
    body = r.json()
    assert body["code"] == code, r.describe()
    assert isinstance(body["message"], str) and body["message"], r.describe()
    if codes is not None:
        assert body["code"] in codes, f"{body['code']} is not in the OpenAPI Error schema"
    return body


# --------------------------------------------------------------------------------------------
# the simple routes
# --------------------------------------------------------------------------------------------


def test_health():
    r = request("GET", "/v1/health")
    assert r.status == 200 and r.json() == {"status": "ok"}, r.describe()


def test_version_matches_the_cli(edgeport):
    r = request("GET", "/v1/version")
    v = r.json()
    res = edgeport.run("--version")
    assert res.returncode == 0
    assert res.stdout.split() == ["edgeport", v["version"]], (res.stdout, v)
    assert v["name"] == "edgeport" and v["api"] == "v1"
    assert v["targets"] == ["tflite", "coreml", "onnx"]
    assert v["max_body_bytes"] == LIMIT


# --------------------------------------------------------------------------------------------
# the OpenAPI document
# --------------------------------------------------------------------------------------------


def test_openapi_is_valid_3_1(openapi):
    from openapi_spec_validator import OpenAPIV31SpecValidator

    assert openapi["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(openapi).validate()
    assert openapi == json.loads((REPO / "worker" / "openapi.json").read_text()), "served != worker/openapi.json"


def test_openapi_covers_exactly_the_routes(openapi):
    documented = {(m.upper(), p) for p, item in openapi["paths"].items() for m in item}
    assert documented == ROUTES
    for path, item in openapi["paths"].items():
        allowed = {m.upper() for m in item}
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"):
            if method in allowed:
                continue
            r = request(method, path, body=b"" if method in ("POST", "PUT", "PATCH") else None)
            assert r.status == 405, f"{method} {path}: {r.describe()}"
            assert r.headers.get("allow") == ",".join(sorted(allowed)), r.describe()
            if method != "HEAD":
                assert r.json()["code"] == "method_not_allowed"
    for path in ["/", "/v1", "/v1/", "/health", "/v1/health/", "/v1/openapi", "/v1/convert/tflite", "/v2/health", "/V1/HEALTH"]:
        r = request("GET", path)
        assert_error(r, 404, "not_found")


def test_openapi_parameters_are_the_accepted_ones(openapi, dynamic_model):
    model = model_bytes("mlp_gelu")
    params = {p["name"]: p for p in openapi["paths"]["/v1/convert"]["post"]["parameters"]}
    assert set(params) == {
        "to", "nhwc_io", "input_shape", "target", "precision", "quantize", "palettize", "prune",
        "calibration_method", "keep_float", "interface", "fidelity", "name",
    }
    for q in params["quantize"]["schema"]["enum"]:
        # every method has a target that takes it (int8 is full-integer: tflite and onnx; w8a8
        # is Core ML's, from iOS17)
        to = {"int8": "onnx", "w8a8": "coreml&target=ios17"}.get(q, "coreml")
        r = request("POST", f"/v1/convert?to={to}&quantize={q}", model, OCTET)
        assert r.status == 200, f"{q}: {r.describe()}"
    for m in params["calibration_method"]["schema"]["enum"]:
        r = request("POST", f"/v1/convert?to=tflite&quantize=int8&calibration_method={m}", model, OCTET)
        assert r.status == 200, f"{m}: {r.describe()}"
    for i in params["interface"]["schema"]["enum"]:
        r = request("POST", f"/v1/convert?to=tflite&quantize=int8&interface={i}", model, OCTET)
        assert r.status == 200, f"{i}: {r.describe()}"
    assert params["to"]["schema"]["enum"] == ["tflite", "coreml", "onnx"]
    for target in params["target"]["schema"]["enum"]:
        for precision in params["precision"]["schema"]["enum"]:
            r = request("POST", f"/v1/convert?to=coreml&target={target}&precision={precision}", model, OCTET)
            assert r.status == 200, f"{target} {precision}: {r.describe()}"
    for nhwc in params["nhwc_io"]["schema"]["enum"]:
        r = request("POST", f"/v1/convert?to=tflite&nhwc_io={nhwc}&precision=fp32", model, OCTET)
        assert r.status == 200, r.describe()
    q = "input_shape=in%3A0:2,4&input_shape=b:2,4"
    for path in (f"/v1/convert?to=tflite&{q}", f"/v1/inspect?{q}"):
        assert request("POST", path, dynamic_model, OCTET).status == 200
    for path in ("/v1/convert?to=tflite&foo=1", "/v1/inspect?to=tflite", "/v1/convert?to=tflite&nhwc_io=yes"):
        assert_error(request("POST", path, model, OCTET), 400, "invalid_options")


# --------------------------------------------------------------------------------------------
# the worker answers what the CLI answers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_inspect_matches_the_cli(name, cli):
    r = request("POST", "/v1/inspect", model_bytes(name), OCTET)
    assert r.status == 200, r.describe()
    assert r.json() == cli.inspect(FIXTURES / name / "model.onnx")


def check_artifact(r: Resp, want: bytes, media: str, suffix: str):
    assert r.status == 200, r.describe()
    assert r.headers["content-type"] == media
    assert r.headers["x-edgeport-sha256"] == hashlib.sha256(r.body).hexdigest()
    cd = r.headers["content-disposition"]
    assert cd.startswith('attachment; filename="') and f'{suffix}"' in cd, cd
    assert r.body == want, f"{len(r.body)} bytes from the worker, {len(want)} from the CLI"


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_convert_tflite_matches_the_cli(name, cli):
    model = FIXTURES / name / "model.onnx"
    r = request("POST", "/v1/convert?to=tflite", model.read_bytes(), OCTET)
    check_artifact(r, cli.convert(model, "--to", "tflite"), "application/vnd.tflite", ".tflite")


def test_convert_nhwc_io_matches_the_cli(cli):
    model = FIXTURES / "mobilenetv2" / "model.onnx"
    r = request("POST", "/v1/convert?to=tflite&nhwc_io=1", model.read_bytes(), OCTET)
    want = cli.convert(model, "--to", "tflite", "--nhwc-io")
    check_artifact(r, want, "application/vnd.tflite", ".tflite")
    assert want != cli.convert(model, "--to", "tflite"), "nhwc_io should change the artifact"


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_convert_coreml_matches_the_cli(name, cli):
    model = FIXTURES / name / "model.onnx"
    r = request("POST", "/v1/convert?to=coreml&target=ios17", model.read_bytes(), OCTET)
    want = cli.convert(model, "--to", "coreml", "--target", "ios17")
    check_artifact(r, want, "application/zip", ".mlpackage.zip")


@pytest.mark.parametrize(
    "query, args, media, suffix",
    [
        ("to=tflite&quantize=fp16", ("--to", "tflite", "--quantize", "fp16"), "application/vnd.tflite", ".tflite"),
        ("to=tflite&quantize=int8-weights", ("--to", "tflite", "--quantize", "int8-weights"), "application/vnd.tflite", ".tflite"),
        ("to=coreml&quantize=int8-weights", ("--to", "coreml", "--quantize", "int8-weights"), "application/zip", ".mlpackage.zip"),
        ("to=coreml&target=ios18&quantize=int8-weights", ("--to", "coreml", "--target", "ios18", "--quantize", "int8-weights"), "application/zip", ".mlpackage.zip"),
        ("to=coreml&palettize=4", ("--to", "coreml", "--palettize", "4"), "application/zip", ".mlpackage.zip"),
        ("to=coreml&prune=0.5", ("--to", "coreml", "--prune", "0.5"), "application/zip", ".mlpackage.zip"),
        ("to=coreml&target=ios17&quantize=w8a8", ("--to", "coreml", "--target", "ios17", "--quantize", "w8a8"), "application/zip", ".mlpackage.zip"),
        ("to=coreml&palettize=6%3Auniform", ("--to", "coreml", "--palettize", "6:uniform"), "application/zip", ".mlpackage.zip"),
        ("to=coreml&target=ios18&palettize=4%3Ag16", ("--to", "coreml", "--target", "ios18", "--palettize", "4:g16"), "application/zip", ".mlpackage.zip"),
    ],
)
def test_compressed_variants_match_the_cli(query, args, media, suffix, cli):
    """One variant of each compression method: the same bytes as the CLI's."""
    model = FIXTURES / "mobilenetv2" / "model.onnx"
    r = request("POST", f"/v1/convert?{query}", model.read_bytes(), OCTET)
    want = cli.convert(model, *args)
    check_artifact(r, want, media, suffix)
    assert want != cli.convert(model, *args[:2]), "the method changes the artifact"


@pytest.mark.parametrize(
    "query, status, words",
    [
        ("to=coreml&palettize=5", 400, "5-bit"),
        ("to=coreml&palettize=4%3Amedian", 400, "median"),
        ("to=tflite&palettize=4", 400, "TFLite"),
        ("to=coreml&target=ios15&quantize=int8-weights", 400, "iOS16"),
        ("to=tflite&quantize=int4", 400, "int4"),
        ("to=coreml&prune=1.5", 400, "[0, 1)"),
        ("to=coreml&prune=0.5&palettize=4", 422, "ios18"),
    ],
)
def test_bad_compression_options_are_clear(query, status, words):
    # A small model: a bad query is refused before the body is read, and a large body still
    # being sent would meet a closed connection.
    model = model_bytes("mlp_gelu")
    r = request("POST", f"/v1/convert?{query}", model, OCTET)
    assert r.status == status and words in r.json()["message"], r.describe()


def test_input_shapes_match_the_cli(dynamic_model, cli, tmp_path):
    path = tmp_path / "dynamic.onnx"
    path.write_bytes(dynamic_model)
    q = "input_shape=in%3A0:3,4&input_shape=b:3,4"
    args = ("--input-shape", "in:0=3,4", "--input-shape", "b=3,4")
    r = request("POST", f"/v1/convert?to=tflite&{q}", dynamic_model, OCTET)
    check_artifact(r, cli.convert(path, "--to", "tflite", *args), "application/vnd.tflite", ".tflite")
    r = request("POST", f"/v1/inspect?{q}", dynamic_model, OCTET)
    assert r.json() == cli.inspect(path, *args)
    assert [i["shape"] for i in r.json()["inputs"]] == [[3, 4], [3, 4]]
    # Without the shapes the open dim cannot be resolved: the same refusal as the CLI's.
    res = cli.edgeport.run("convert", path, "--to", "tflite", "-o", tmp_path / "x.tflite")
    r = request("POST", "/v1/convert?to=tflite", dynamic_model, OCTET)
    assert r.status in (400, 422) and res.returncode in (2, 3, 4), (r.describe(), res.describe())


# --------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


@pytest.mark.parametrize(
    "body",
    [b"", PNG, b"not a model", bytes(range(256)) * 8, "truncated"],
    ids=["empty", "png", "text", "noise", "truncated"],
)
@pytest.mark.parametrize("path", ["/v1/inspect", "/v1/convert?to=tflite"])
def test_malformed_model_is_400(body, path, error_codes):
    if body == "truncated":
        body = model_bytes("resnet")[:5000]
    assert_error(request("POST", path, body, OCTET), 400, "invalid_model", error_codes)


def test_unsupported_ops_are_422_listing_every_node(unsupported_model, error_codes, cli, tmp_path):
    for path in ("/v1/inspect", "/v1/convert?to=tflite", "/v1/convert?to=coreml"):
        body = assert_error(request("POST", path, unsupported_model, OCTET), 422, "unsupported", error_codes)
        nodes = [(n["name"], n["op"]) for n in body["nodes"]]
        assert nodes == [("frob_a", "FrobnicateA"), ("frob_b", "FrobnicateB")], body
    model = tmp_path / "unsupported.onnx"
    model.write_bytes(unsupported_model)
    res = cli.edgeport.run("convert", model, "--to", "tflite", "-o", tmp_path / "x.tflite")
    assert res.returncode == 4, res.describe()


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/json", "multipart/form-data; boundary=x", "application/x-onnx"]
)
def test_wrong_content_type_is_415(content_type, error_codes):
    headers = {} if content_type is None else {"content-type": content_type}
    r = request("POST", "/v1/convert?to=tflite", model_bytes("mlp_gelu"), headers)
    assert_error(r, 415, "unsupported_media_type", error_codes)


def test_accepted_content_types():
    for ct in ("application/octet-stream", "application/onnx", "Application/ONNX; charset=binary"):
        r = request("POST", "/v1/inspect", model_bytes("mlp_gelu"), {"content-type": ct})
        assert r.status == 200, f"{ct}: {r.describe()}"


def test_oversize_with_content_length_is_413_before_reading(error_codes):
    r, sent = send_large("/v1/convert?to=tflite", LIMIT + 1, declare_length=True)
    assert_error(r, 413, "limit_exceeded", error_codes)
    assert sent < LIMIT, f"the worker read {sent} bytes before refusing"


def test_oversize_without_content_length_is_413(error_codes):
    r, sent = send_large("/v1/inspect", LIMIT + 4 * (1 << 20), declare_length=False)
    assert_error(r, 413, "limit_exceeded", error_codes)
    assert "content-length" not in r.headers or int(r.headers["content-length"]) == len(r.body)


def test_chunked_upload_within_the_limit(cli):
    model = FIXTURES / "mlp_gelu" / "model.onnx"
    data = model.read_bytes()
    chunks = (data[i : i + 4096] for i in range(0, len(data), 4096))
    r = request("POST", "/v1/convert?to=tflite", chunks, OCTET)
    check_artifact(r, cli.convert(model, "--to", "tflite"), "application/vnd.tflite", ".tflite")


def test_wrong_method_and_route(error_codes):
    r = request("GET", "/v1/convert")
    assert_error(r, 405, "method_not_allowed", error_codes)
    assert r.headers["allow"] == "POST"
    r = request("POST", "/v1/health", b"x", OCTET)
    assert_error(r, 405, "method_not_allowed", error_codes)
    assert r.headers["allow"] == "GET"
    assert_error(request("POST", "/v1/convertt", b"x", OCTET), 404, "not_found", error_codes)


def test_bad_options_are_400(error_codes):
    model = model_bytes("mlp_gelu")
    for q in ("", "?to=", "?to=pdf", "?to=tflite&to=coreml", "?to=tflite&target=ios16", "?to=tflite&precision=fp16",
              "?to=coreml&nhwc_io=1", "?to=coreml&target=ios14", "?to=tflite&input_shape=x", "?to=tflite&input_shape=x:a"):
        assert_error(request("POST", f"/v1/convert{q}", model, OCTET), 400, "invalid_options", error_codes)


# --------------------------------------------------------------------------------------------
# robustness
# --------------------------------------------------------------------------------------------


@pytest.mark.skipif(not PANIC_URL, reason="EDGEPORT_WORKER_PANIC_URL is not set")
def test_a_panic_costs_one_request_not_the_isolate(cli):
    model = FIXTURES / "mlp_gelu" / "model.onnx"
    want = cli.convert(model, "--to", "tflite")
    for trigger in ("panic_sync", "panic_async", "panic_async", "panic_sync"):
        r = request("POST", f"/v1/inspect?{trigger}", model.read_bytes(), OCTET, base=PANIC_URL)
        assert_error(r, 500, "internal")
        r = request("POST", "/v1/convert?to=tflite", model.read_bytes(), OCTET, base=PANIC_URL)
        assert r.status == 200 and r.body == want, r.describe()
    assert request("GET", "/v1/health", base=PANIC_URL).status == 200


def test_burst_of_mixed_requests(cli, unsupported_model):
    """200 requests, 16 at a time, good and bad mixed: every answer right, none 5xx."""
    good = FIXTURES / "mlp_gelu" / "model.onnx"
    small = FIXTURES / "ops_misc" / "model.onnx"
    good_bytes, small_bytes = good.read_bytes(), small.read_bytes()
    want_tflite = cli.convert(good, "--to", "tflite")
    want_inspect = cli.inspect(small)
    rng = random.Random(7)

    def case(i: int):
        kind = ["convert", "inspect", "health", "malformed", "truncated", "media", "unsupported", "route", "method",
                "options", "oversize"][i % 11]
        if kind == "convert":
            r = request("POST", "/v1/convert?to=tflite", good_bytes, OCTET)
            ok = r.status == 200 and r.body == want_tflite
        elif kind == "inspect":
            r = request("POST", "/v1/inspect", small_bytes, OCTET)
            ok = r.status == 200 and r.json() == want_inspect
        elif kind == "health":
            r = request("GET", "/v1/health")
            ok = r.status == 200
        elif kind == "malformed":
            r = request("POST", "/v1/convert?to=tflite", rng.randbytes(rng.randint(0, 3000)), OCTET)
            ok = r.status == 400 and r.json()["code"] == "invalid_model"
        elif kind == "truncated":
            r = request("POST", "/v1/inspect", good_bytes[: rng.randint(1, len(good_bytes) - 1)], OCTET)
            ok = r.status == 400 and r.json()["code"] == "invalid_model"
        elif kind == "media":
            r = request("POST", "/v1/inspect", good_bytes, {"content-type": "text/plain"})
            ok = r.status == 415
        elif kind == "unsupported":
            r = request("POST", "/v1/convert?to=tflite", unsupported_model, OCTET)
            ok = r.status == 422 and len(r.json()["nodes"]) == 2
        elif kind == "route":
            r = request("GET", f"/v1/nothing/{i}")
            ok = r.status == 404
        elif kind == "method":
            r = request("DELETE", "/v1/convert")
            ok = r.status == 405
        elif kind == "options":
            r = request("POST", "/v1/convert?to=tflite&nhwc_io=maybe", good_bytes, OCTET)
            ok = r.status == 400 and r.json()["code"] == "invalid_options"
        else:
            r, _ = send_large("/v1/convert?to=tflite", LIMIT + 1, declare_length=True, step=1 << 16)
            ok = r.status == 413
        return i, kind, r, ok

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(case, range(200)))
    server_errors = [(i, k, r.describe()) for i, k, r, _ in results if r.status >= 500]
    wrong = [(i, k, r.describe()) for i, k, r, ok in results if not ok]
    assert not server_errors, server_errors[:5]
    assert not wrong, wrong[:5]
    assert len(results) == 200
    # Still healthy, and still right.
    assert request("GET", "/v1/health").status == 200
    assert request("POST", "/v1/convert?to=tflite", good_bytes, OCTET).body == want_tflite


# --------------------------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------------------------


def test_profiles_match_the_cli(edgeport):
    r = request("GET", "/v1/profiles")
    assert r.status == 200, r.describe()
    res = edgeport.run("simulate", "--list-profiles", "--json")
    assert res.returncode == 0, res.describe()
    assert r.json()["profiles"] == json.loads(res.stdout)
    assert len(r.json()["profiles"]) >= 17


@pytest.mark.parametrize(
    "query, args",
    [
        ("profile=pixel8,iphone15pro&placement=1", ("--profile", "pixel8,iphone15pro")),
        ("profile=galaxy-s24&unit=npu,cpu&precision=int8&budget=camera&placement=1",
         ("--profile", "galaxy-s24", "--unit", "npu,cpu", "--precision", "int8", "--budget", "camera")),
        ("profile=rpi5&format=onnx&placement=1", ("--profile", "rpi5", "--format", "onnx")),
    ],
)
def test_simulate_matches_the_cli(query, args, cli):
    model = FIXTURES / "mobilenetv2" / "model.onnx"
    r = request("POST", f"/v1/simulate?{query}", model.read_bytes(), OCTET)
    assert r.status == 200, r.describe()
    assert r.json() == cli.simulate(model, *args)


def test_simulate_leaves_placement_out_by_default(cli):
    model = FIXTURES / "resnet" / "model.onnx"
    r = request("POST", "/v1/simulate?profile=pixel8", model.read_bytes(), OCTET)
    assert r.status == 200, r.describe()
    report = r.json()
    assert report["schema"] == "edgeport.simulation/1"
    assert report["results"] and all(x["placement"] == [] for x in report["results"])
    full = cli.simulate(model, "--profile", "pixel8")
    assert [x["latency_ms"] for x in report["results"]] == [x["latency_ms"] for x in full["results"]]


def test_simulate_bad_options_are_400(error_codes):
    model = (FIXTURES / "mlp_gelu" / "model.onnx").read_bytes()
    for q in ("profile=nokia3310", "unit=qpu", "precision=int4", "format=pdf", "budget=forever", "weight_bits=0",
              "placement=maybe", "to=tflite"):
        r = request("POST", f"/v1/simulate?{q}", model, OCTET)
        assert r.status == 400, f"{q}: {r.describe()}"
        assert r.json()["code"] == "invalid_options" and r.json()["code"] in error_codes, q


def test_simulate_bad_model_is_400():
    r = request("POST", "/v1/simulate", b"\x89PNG\r\n\x1a\n" + bytes(64), OCTET)
    assert r.status == 400 and r.json()["code"] == "invalid_model", r.describe()


# --------------------------------------------------------------------------------------------
# the run report: the `edgeport-report` header and the multipart answer of /v1/convert
# --------------------------------------------------------------------------------------------

REPORT_SCHEMA = "edgeport.report/1"
MULTIPART = {**OCTET, "accept": "multipart/mixed"}
# A CI job's view: the payload must survive being pasted into a URL fragment as is.
LINK_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def decode_report(r: Resp) -> dict:
    """The `edgeport-report` header as a client decodes it: base64url, raw inflate, JSON."""
    payload = r.headers.get("edgeport-report")
    assert payload, f"no edgeport-report header: {r.describe()}"
    assert set(payload) <= LINK_CHARS, payload[:200]
    packed = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    report = json.loads(zlib.decompress(packed, -15))
    assert report["schema"] == REPORT_SCHEMA, report
    return report


def without_placement(simulation: dict) -> dict:
    out = json.loads(json.dumps(simulation))
    for result in out["results"]:
        result["placement"] = []
    return out


def check_model_record(report: dict, model: bytes, name: str = "model.onnx"):
    assert report["model"] == {"name": name, "sha256": hashlib.sha256(model).hexdigest(), "bytes": len(model)}


def parse_multipart(r: Resp) -> list:
    """The parts of a multipart/mixed answer, parsed by Python's own MIME parser."""
    ct = r.headers["content-type"]
    msg = email.message_from_bytes(b"Content-Type: " + ct.encode() + b"\r\n\r\n" + r.body, policy=email.policy.HTTP)
    assert msg.is_multipart() and msg.get_content_type() == "multipart/mixed", r.describe()
    assert not msg.defects, msg.defects
    return list(msg.iter_parts())


CONVERT_CASES = [
    ("mobilenetv2", "to=tflite", ("--to", "tflite")),
    ("mobilenetv2", "to=coreml&target=ios17", ("--to", "coreml", "--target", "ios17")),
    ("resnet", "to=tflite&nhwc_io=1", ("--to", "tflite", "--nhwc-io")),
    ("resnet", "to=coreml&precision=fp32", ("--to", "coreml", "--precision", "fp32")),
]


@pytest.mark.parametrize("name, query, args", CONVERT_CASES, ids=[f"{n}-{q}" for n, q, _ in CONVERT_CASES])
def test_convert_report_header_matches_the_cli(name, query, args, cli):
    model = FIXTURES / name / "model.onnx"
    data = model.read_bytes()
    r = request("POST", f"/v1/convert?{query}", data, OCTET)
    assert r.status == 200, r.describe()
    assert r.body == cli.convert(model, *args), "the body is still the artifact"
    report = decode_report(r)
    check_model_record(report, data)
    conversion = report["conversion"]
    assert conversion["sha256"] == hashlib.sha256(r.body).hexdigest() == r.headers["x-edgeport-sha256"]
    assert conversion["size"] == len(r.body)
    assert conversion["file_name"] in r.headers["content-disposition"]
    # The worker measures no fidelity (no CPU runtime in the bundle); otherwise the CLI's report.
    assert "fidelity" not in report and "simulation" not in report and "measured" not in report
    want, _ = cli.report("convert", model, *args)
    if "coreml" in query and "fp32" not in query:
        assert want.get("fidelity"), "the CLI measures the fidelity of a lossy (fp16) artifact"
    assert report == {k: v for k, v in want.items() if k != "fidelity"}


def test_convert_report_with_input_shapes_and_a_name_matches_the_cli(dynamic_model, cli, tmp_path):
    path = tmp_path / "dynamic net.onnx"
    path.write_bytes(dynamic_model)
    q = "input_shape=in%3A0:3,4&input_shape=b:3,4&name=" + urllib.parse.quote(path.name)
    r = request("POST", f"/v1/convert?to=tflite&{q}", dynamic_model, OCTET)
    assert r.status == 200, r.describe()
    report = decode_report(r)
    check_model_record(report, dynamic_model, "dynamic net.onnx")
    assert report["conversion"]["options"]["input_shapes"] == {"in:0": [3, 4], "b": [3, 4]}
    want, _ = cli.report("convert", path, "--to", "tflite", "--input-shape", "in:0=3,4", "--input-shape", "b=3,4")
    assert report == {k: v for k, v in want.items() if k != "fidelity"}


@pytest.mark.parametrize("name", ["mödel (v2).onnx", "a" * 200, "x.onnx?#&=+%"])
def test_name_is_honored(name):
    data = model_bytes("mlp_gelu")
    q = urllib.parse.urlencode({"name": name})
    for path in (f"/v1/convert?to=tflite&{q}", f"/v1/simulate?profile=pixel8&{q}"):
        r = request("POST", path, data, OCTET)
        assert r.status == 200, r.describe()
        check_model_record(decode_report(r), data, name)


@pytest.mark.parametrize("value", ["", "a%0Ab", "tab%09", "del%7F", "c1%C2%85", "a" * 201, "ok&name=twice"])
def test_bad_name_is_400(value, error_codes):
    data = model_bytes("mlp_gelu")
    for path in (f"/v1/convert?to=tflite&name={value}", f"/v1/simulate?profile=pixel8&name={value}"):
        body = assert_error(request("POST", path, data, OCTET), 400, "invalid_options", error_codes)
        assert "'name'" in body["message"], body
    # /v1/inspect makes no report, so it takes no name.
    assert_error(request("POST", "/v1/inspect?name=x.onnx", data, OCTET), 400, "invalid_options", error_codes)


SIM_CASES = [
    ("profile=pixel8&placement=1", ("--profile", "pixel8")),
    ("profile=galaxy-s24&unit=npu,cpu&precision=int8&budget=camera&placement=1",
     ("--profile", "galaxy-s24", "--unit", "npu,cpu", "--precision", "int8", "--budget", "camera")),
]


@pytest.mark.parametrize("query, args", SIM_CASES, ids=[q for q, _ in SIM_CASES])
def test_simulate_report_header_matches_the_cli(query, args, cli):
    model = FIXTURES / "mobilenetv2" / "model.onnx"
    data = model.read_bytes()
    r = request("POST", f"/v1/simulate?{query}", data, OCTET)
    assert r.status == 200, r.describe()
    body = r.json()
    assert body == cli.simulate(model, *args), "the body is still the simulation report"
    assert any(x["placement"] for x in body["results"]), "placement=1 keeps it in the body"
    report = decode_report(r)
    check_model_record(report, data)
    assert report["simulation"]["report"] == without_placement(body)
    assert report["simulation"]["options"]["input_shapes"] == {}
    want, link = cli.report("simulate", model, *args)
    assert report["simulation"] == {**want["simulation"], "report": without_placement(want["simulation"]["report"])}
    # The same report makes the same payload: the header is what `--link` prints.
    assert r.headers["edgeport-report"] == link


def test_simulate_report_header_without_placement(dynamic_model, tmp_path, cli):
    path = tmp_path / "dyn.onnx"
    path.write_bytes(dynamic_model)
    q = "profile=pixel8,iphone15pro&input_shape=in%3A0:3,4&input_shape=b:3,4&name=dyn.onnx"
    r = request("POST", f"/v1/simulate?{q}", dynamic_model, OCTET)
    assert r.status == 200, r.describe()
    report = decode_report(r)
    check_model_record(report, dynamic_model, "dyn.onnx")
    assert report["simulation"]["report"] == r.json()
    assert report["simulation"]["options"]["input_shapes"] == {"in:0": [3, 4], "b": [3, 4]}
    want, _ = cli.report("simulate", path, "--profile", "pixel8,iphone15pro", "--input-shape", "in:0=3,4",
                         "--input-shape", "b=3,4")
    assert report["simulation"]["options"] == want["simulation"]["options"]
    assert [x["latency_ms"] for x in report["simulation"]["report"]["results"]] == [
        x["latency_ms"] for x in want["simulation"]["report"]["results"]
    ]


def test_report_header_of_every_profile_fits_a_header():
    """The largest simulate answer (every profile and unit) still makes a header any client reads."""
    r = request("POST", "/v1/simulate", model_bytes("transformer"), OCTET)
    assert r.status == 200, r.describe()
    assert len(decode_report(r)["simulation"]["report"]["results"]) >= 17
    assert len(r.headers["edgeport-report"]) < 16 * 1024, len(r.headers["edgeport-report"])


@pytest.mark.parametrize("name, query, args", CONVERT_CASES[:2], ids=["tflite", "coreml"])
def test_convert_multipart(name, query, args, cli):
    model = FIXTURES / name / "model.onnx"
    data = model.read_bytes()
    plain = request("POST", f"/v1/convert?{query}&name=net.onnx", data, OCTET)
    r = request("POST", f"/v1/convert?{query}&name=net.onnx", data, MULTIPART)
    assert plain.status == 200 and r.status == 200, r.describe()
    sha = plain.headers["x-edgeport-sha256"]
    assert r.headers["content-type"] == f"multipart/mixed; boundary=edgeport-{sha[:32]}"
    assert r.headers["x-edgeport-sha256"] == sha and r.headers["vary"] == "accept" == plain.headers["vary"]
    assert "content-disposition" not in r.headers
    assert r.headers["edgeport-report"] == plain.headers["edgeport-report"]
    # The boundary appears only as the three delimiters.
    assert r.body.count(f"--edgeport-{sha[:32]}".encode()) == 3

    report_part, artifact_part = parse_multipart(r)
    assert report_part.get_content_type() == "application/json"
    report = json.loads(report_part.get_payload(decode=True))
    assert report == decode_report(plain)
    check_model_record(report, data, "net.onnx")
    want, _ = cli.report("convert", model, *args)
    assert report == {**{k: v for k, v in want.items() if k != "fidelity"}, "model": report["model"]}

    assert artifact_part.get_content_type() == plain.headers["content-type"]
    assert artifact_part["content-disposition"] == plain.headers["content-disposition"]
    assert artifact_part.get_payload(decode=True) == plain.body == cli.convert(model, *args)
    # Deterministic: the same request, the same bytes.
    assert request("POST", f"/v1/convert?{query}&name=net.onnx", data, MULTIPART).body == r.body


@pytest.mark.parametrize("accept", ["*/*", "application/vnd.tflite", "multipart/*", "multipart/mixed;q=0", "application/json"])
def test_other_accept_headers_keep_the_artifact(accept, cli):
    model = FIXTURES / "mlp_gelu" / "model.onnx"
    r = request("POST", "/v1/convert?to=tflite", model.read_bytes(), {**OCTET, "accept": accept})
    check_artifact(r, cli.convert(model, "--to", "tflite"), "application/vnd.tflite", ".tflite")
    assert decode_report(r)["conversion"]["sha256"] == r.headers["x-edgeport-sha256"]


def test_errors_carry_no_report(unsupported_model):
    for path, body in (("/v1/convert?to=tflite", unsupported_model), ("/v1/simulate", b"not a model")):
        r = request("POST", path, body, MULTIPART)
        assert r.status in (400, 422) and "edgeport-report" not in r.headers, r.describe()
        assert r.headers["content-type"] == "application/json"


# full-integer int8 and ONNX over the API, with the fidelity report on request

INT8_CASES = [
    ("digits", "to=tflite&quantize=int8", ("--to", "tflite", "--quantize", "int8")),
    ("mobilenetv2", "to=onnx&quantize=int8&calibration_method=percentile", ("--to", "onnx", "--quantize", "int8", "--calibration-method", "percentile")),
    ("resnet", "to=onnx", ("--to", "onnx")),
]


@pytest.mark.parametrize("name, query, args", INT8_CASES, ids=[f"{n}-{q}" for n, q, _ in INT8_CASES])
def test_int8_and_onnx_match_the_cli(name, query, args, cli):
    model = FIXTURES / name / "model.onnx"
    r = request("POST", f"/v1/convert?{query}", model.read_bytes(), OCTET)
    assert r.status == 200, r.describe()
    assert r.body == cli.convert(model, *args)
    assert "fidelity" not in decode_report(r), "fidelity only on request"


def test_int8_fidelity_in_the_multipart_report(cli):
    model = FIXTURES / "digits" / "model.onnx"
    r = request("POST", "/v1/convert?to=tflite&quantize=int8&keep_float=auto&fidelity=1", model.read_bytes(), MULTIPART)
    assert r.status == 200, r.describe()
    report_part, artifact_part = parse_multipart(r)
    report = json.loads(report_part.get_payload(decode=True))
    assert report == decode_report(r)
    (fid,) = report["fidelity"]
    assert fid["variant"] == "int8" and fid["inputs"] == "generated", fid
    (logits,) = fid["outputs"]
    assert logits["sqnr_db"] > 20 and logits["top1_agreement"] > 0.5, logits
    assert fid["layers"] and all("sqnr_db" in l or "node" in l for l in fid["layers"])
    want, _ = cli.report("convert", model, "--to", "tflite", "--quantize", "int8", "--keep-float", "auto")
    # The worker (wasm) and the CLI (native) sum floats in different orders: the same report,
    # numbers equal to about 1e-4 relative.
    (cli_fid,) = want["fidelity"]
    assert {k: v for k, v in fid.items() if k not in ("outputs", "layers")} == {
        k: v for k, v in cli_fid.items() if k not in ("outputs", "layers")
    }
    assert [l["node"] for l in fid["layers"]] == [l["node"] for l in cli_fid["layers"]]
    for a, b in zip(fid["layers"] + fid["outputs"], cli_fid["layers"] + cli_fid["outputs"]):
        assert abs(a.get("sqnr_db", 0) - b.get("sqnr_db", 0)) < 1e-3, (a, b)
    assert artifact_part.get_payload(decode=True) == cli.convert(model, "--to", "tflite", "--quantize", "int8", "--keep-float", "auto")


def test_int8_bad_options_are_4xx():
    data = (FIXTURES / "digits" / "model.onnx").read_bytes()
    for q, status, code in [
        ("to=tflite&quantize=int8&calibration_method=best", 400, "invalid_options"),
        ("to=tflite&quantize=int8&keep_float=no_such_node", 400, "invalid_options"),
        ("to=onnx&quantize=int8&interface=int8", 400, "invalid_options"),
        ("to=coreml&quantize=int8", 422, "unsupported"),
        ("to=tflite&calibration_method=mse", 400, "invalid_options"),
    ]:
        r = request("POST", f"/v1/convert?{q}", data, OCTET)
        assert r.status == status and json.loads(r.body)["code"] == code, (q, r.describe())
