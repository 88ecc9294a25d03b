"""Makes the models of bench/large_models.sh (run that script, not this file).

    python3 bench/large_models.py OUT.onnx SIZE_GB [WIDTH]

writes OUT.onnx and its external data OUT.onnx.data: a chain of N × (MatMul WIDTH×WIDTH + Relu) on an input
[batch, WIDTH], float32 weights (He-scaled normal, seed 0; N = SIZE_GB·10⁹ / (4·WIDTH²), at least 1), every weight in the
data file, written one layer at a time so that making a 3 GB model needs one layer's memory. Opset 17, IR 8.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper


def main(out: str, size_gb: float, width: int = 1024) -> None:
    layers = max(1, round(size_gb * 1e9 / (4 * width * width)))
    data_name = os.path.basename(out) + ".data"
    rng = np.random.default_rng(0)
    nodes, inits, offset = [], [], 0
    previous = "input"
    with open(os.path.join(os.path.dirname(os.path.abspath(out)), data_name), "wb") as data:
        for i in range(layers):
            w = (rng.standard_normal((width, width), dtype=np.float32) * np.float32(np.sqrt(2.0 / width))).astype("<f4")
            raw = w.tobytes()
            data.write(raw)
            t = TensorProto(name=f"w{i}", data_type=TensorProto.FLOAT, dims=[width, width], data_location=TensorProto.EXTERNAL)
            for key, value in (("location", data_name), ("offset", str(offset)), ("length", str(len(raw)))):
                t.external_data.add(key=key, value=value)
            inits.append(t)
            offset += len(raw)
            nodes.append(helper.make_node("MatMul", [previous, f"w{i}"], [f"mm{i}"], name=f"matmul{i}"))
            last = i == layers - 1
            nodes.append(helper.make_node("Relu", [f"mm{i}"], ["output" if last else f"relu{i}"], name=f"relu{i}"))
            previous = f"relu{i}"
    graph = helper.make_graph(
        nodes, "large", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", width])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="bench/large_models.py")
    model.ir_version = 8
    with open(out, "wb") as f:
        f.write(model.SerializeToString())
    print(f"{out}: {layers} × MatMul {width}×{width}, {offset} bytes of weights in {data_name}")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) == 4 else 1024)
