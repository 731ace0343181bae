"""The coremltools side of `cargo xtask bench coreml` (run with the peers venv's Python).

convert MODEL.onnx OUT.mlpackage TIMES.jsonl
    Builds the fixture's MobileNetV2 (width 0.5, last 1x1 conv scaled too, 100 classes) as a
    PyTorch module with torchvision's layer names, loads the fixture's weights into it by
    name, traces it and converts it with coremltools (ML Program, iOS16, fp16 as by default),
    then saves the package. Appends the phase times of the run to TIMES.jsonl. The caller
    times the whole process.

compare MODEL_DIR PKG_A PKG_B
    Runs both packages with tests/oracles/mil_eval.py on the fixture input and prints JSON:
    each one's max abs error against the fixture's onnxruntime output, and between the two.
"""

import json
import sys
import time

T_START = time.perf_counter()

import numpy as np  # noqa: E402


def make_divisible(v: float, divisor: int = 8) -> int:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def mobilenetv2(width: float = 0.5, num_classes: int = 100):
    from torch import nn

    def conv_bn_relu(cin, cout, k, stride=1, groups=1):
        return nn.Sequential(
            nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(),
        )

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, stride, t):
            super().__init__()
            hidden = cin * t
            layers = [conv_bn_relu(cin, hidden, 1)] if t != 1 else []
            layers += [
                conv_bn_relu(hidden, hidden, 3, stride, groups=hidden),
                nn.Conv2d(hidden, cout, 1, bias=False),
                nn.BatchNorm2d(cout),
            ]
            self.conv = nn.Sequential(*layers)
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            return x + self.conv(x) if self.residual else self.conv(x)

    class MobileNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            cin = make_divisible(32 * width)
            features = [conv_bn_relu(3, cin, 3, 2)]
            for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
                cout = make_divisible(c * width)
                for i in range(n):
                    features.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                    cin = cout
            last = make_divisible(1280 * width)
            features.append(conv_bn_relu(cin, last, 1))
            self.features = nn.Sequential(*features)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, num_classes))

        def forward(self, x):
            x = nn.functional.adaptive_avg_pool2d(self.features(x), 1).flatten(1)
            return self.classifier(x)

    return MobileNetV2()


def load_fixture_weights(net, model_path: str) -> None:
    import onnx
    import torch
    from onnx import numpy_helper

    inits = {i.name: numpy_helper.to_array(i) for i in onnx.load(model_path).graph.initializer}
    state = net.state_dict()
    for name, tensor in state.items():
        if name.endswith("num_batches_tracked"):
            continue
        if name not in inits or inits[name].shape != tuple(tensor.shape):
            raise SystemExit(f"fixture weight {name} {tuple(tensor.shape)} missing or of another shape")
        state[name] = torch.from_numpy(inits[name].copy())
    net.load_state_dict(state)
    net.eval()


def convert(model_path: str, out_path: str, times_path: str) -> None:
    import coremltools as ct
    import torch

    t_imports = time.perf_counter()
    net = mobilenetv2()
    load_fixture_weights(net, model_path)
    t0 = time.perf_counter()
    traced = torch.jit.trace(net, torch.zeros(1, 3, 224, 224))
    t1 = time.perf_counter()
    mlmodel = ct.convert(
        traced,
        inputs=[ct.TensorType(name="input", shape=(1, 3, 224, 224))],
        outputs=[ct.TensorType(name="logits")],
        convert_to="mlprogram",
        minimum_deployment_target=ct.target.iOS16,
    )
    t2 = time.perf_counter()
    mlmodel.save(out_path)
    t3 = time.perf_counter()
    row = {
        "imports_s": t_imports - T_START,
        "build_load_s": t0 - t_imports,
        "trace_s": t1 - t0,
        "convert_s": t2 - t1,
        "save_s": t3 - t2,
        "torch": torch.__version__,
        "coremltools": ct.__version__,
    }
    with open(times_path, "a") as f:
        f.write(json.dumps(row) + "\n")


def compare(model_dir: str, pkg_a: str, pkg_b: str) -> None:
    from pathlib import Path

    sys.path.insert(0, str(Path(model_dir).parents[1] / "oracles"))
    import mil_eval

    feed = dict(np.load(Path(model_dir) / "input.npz"))
    (ref,) = np.load(Path(model_dir) / "expected.npz").values()
    outs = []
    for pkg in (pkg_a, pkg_b):
        prog = mil_eval.MilProgram(mil_eval.MlPackage(pkg))
        (name,) = prog.inputs
        (out,) = prog.run({name: next(iter(feed.values()))}).values()
        outs.append(out.astype(np.float64))
    print(json.dumps({
        "a_vs_onnxruntime": float(np.max(np.abs(outs[0] - ref))),
        "b_vs_onnxruntime": float(np.max(np.abs(outs[1] - ref))),
        "a_vs_b": float(np.max(np.abs(outs[0] - outs[1]))),
        "max_abs_ref": float(np.max(np.abs(ref))),
    }))


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    {"convert": convert, "compare": compare}[cmd](*args)
