"""Export tiny PyTorch models holding the ops real vision and transformer exports carry, with golden files.

Creates, in this directory (tests/data/torch/), beside the models of make_models.py:

  segnet_tiny.onnx        opset 17: ReflectionPad2d, ReplicationPad2d, ConstantPad2d, Conv, Hardswish (HardSwish op),
                          a squeeze-excitation gate (GlobalAveragePool, Conv, Relu, Conv, Hardsigmoid, Mul broadcast
                          over H and W), SiLU (Sigmoid·Mul), ConvTranspose2d (groups 2, stride 2, pads 1, output_padding 1,
                          dilation 2), nn.Upsample nearest (Resize asymmetric/floor, scales), F.interpolate bilinear
                          (Resize linear half_pixel, sizes computed from Shape), F.interpolate bilinear align_corners;
                          input [batch,3,16,16] -> output [batch,4,16,16]
  segnet_opset10.onnx     opset 10: the same padding layers in Pad's attribute form, nn.Upsample nearest as Resize-10,
                          ConvTranspose2d with output_padding; input [batch,3,5,5]
  upsample_opset9.onnx    opset 9: nn.Upsample nearest as the deprecated Upsample op; input [batch,2,5,5]
  attention_ops_tiny.onnx opset 17: Linear, GELU (Erf), torch.einsum "bhid,bhjd->bhij" and "bhij,bhjd->bhid",
                          torch.where on a comparison, Softmax, x.expand, x.repeat (Tile), torch.einsum "bij,bjk->bik";
                          input [batch,seq,16] (seq dynamic) -> output [batch,seq,16]

For every model NAME also writes NAME.input.npy (float32, batch 2, seeded N(0,1)) and NAME.output.npy (float32
output of the PyTorch model in eval mode on that input). Weights are random (seeded); input named 'input', output
'output', dynamic batch axis 'batch', do_constant_folding=True. Each file is checked with onnx.checker.check_model
and its op types are printed.

Regenerate (from the repository root):

    /usr/bin/python3 tests/data/torch/make_op_models.py

Requires Debian's python3-torch (1.13) and python3-onnx (1.12). Golden files must only be produced by this script.
"""
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(2)
OUT_DIR = os.path.dirname(os.path.abspath(__file__))


class SqueezeExcite(nn.Module):
    def __init__(self, c, r=4):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, c // r, 1)
        self.fc2 = nn.Conv2d(c // r, c, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x):
        return x * self.gate(self.fc2(F.relu(self.fc1(self.pool(x)))))


class SegNetTiny(nn.Module):
    """Encoder-decoder with every resampling and padding layer PyTorch vision models export."""

    def __init__(self):
        super().__init__()
        self.pad_reflect = nn.ReflectionPad2d((1, 2, 1, 0))
        self.stem = nn.Conv2d(3, 8, (3, 5))
        self.act = nn.Hardswish()
        self.se = SqueezeExcite(8)
        self.pad_edge = nn.ReplicationPad2d(1)
        self.down = nn.Conv2d(8, 8, 3, stride=2)
        self.silu = nn.SiLU()
        self.up_t = nn.ConvTranspose2d(8, 6, 3, stride=2, padding=2, output_padding=1, groups=2, dilation=2)
        self.up_n = nn.Upsample(scale_factor=2, mode="nearest")
        self.pad_const = nn.ConstantPad2d((0, 1, 1, 0), 0.25)
        self.head = nn.Conv2d(6 + 8 + 8, 4, 1)

    def forward(self, x):
        skip = self.se(self.act(self.stem(self.pad_reflect(x))))            # [b,8,15,15]
        low = self.silu(self.down(self.pad_edge(skip)))                      # [b,8,8,8]
        a = self.up_t(low)                                                   # [b,6,16,16]
        b = self.up_n(low)                                                   # [b,8,16,16]
        c = F.interpolate(skip, size=(16, 16), mode="bilinear", align_corners=False)
        d = F.interpolate(self.pad_const(low), scale_factor=2, mode="bilinear", align_corners=True)[..., :16, :16]
        y = self.head(torch.cat([a, b, c], 1))                               # [b,4,16,16]
        e = F.interpolate(y, scale_factor=0.5, mode="bilinear", align_corners=False)
        return y + F.interpolate(e, size=y.shape[-2:], mode="nearest") * d.mean(1, keepdim=True)


class SegNetOpset10(nn.Module):
    def __init__(self):
        super().__init__()
        self.pad_reflect = nn.ReflectionPad2d((2, 1, 0, 1))
        self.conv = nn.Conv2d(3, 2, 3)
        self.pad_edge = nn.ReplicationPad2d((1, 0, 0, 1))
        self.pad_const = nn.ConstantPad2d((1, 1, 0, 2), -0.5)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.up_t = nn.ConvTranspose2d(2, 1, 2, stride=2, output_padding=1)

    def forward(self, x):
        h = torch.relu(self.conv(self.pad_reflect(x)))                       # [b,2,4,6]
        h = self.pad_const(self.pad_edge(h))                                 # [b,2,7,9]
        return torch.cat([self.up(h), self.up_t(h)[..., :14, :18]], 1)


class UpsampleOpset9(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 1)
        self.up = nn.Upsample(scale_factor=(2, 3), mode="nearest")

    def forward(self, x):
        return self.up(self.conv(x))


class AttentionOpsTiny(nn.Module):
    """Self-attention written with einsum, an erf GELU, where, expand and repeat."""

    def __init__(self, d=16, heads=2):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.ff = nn.Linear(d, d)
        self.mix = nn.Parameter(torch.randn(d, d) * 0.2)
        self.bias = nn.Parameter(torch.randn(1, 1, d) * 0.1)

    def forward(self, x):
        b, s, d = x.shape
        q, k, v = self.qkv(x).reshape(b, s, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        scores = torch.einsum("bhid,bhjd->bhij", q, k) / (d // self.heads) ** 0.5
        scores = torch.where(scores > 2.0, scores * 0.5, scores)
        attn = torch.einsum("bhij,bhjd->bhid", scores.softmax(-1), v).transpose(1, 2).reshape(b, s, d)
        h = F.gelu(self.ff(attn))
        h = h + torch.einsum("bij,bjk->bik", h, self.mix.expand(b, -1, -1))
        return h + self.bias.expand(b, s, -1) + x.mean(1, keepdim=True).repeat(1, s, 1)


# name, builder, input shape (batch 2), opset, extra dynamic axes on input
MODELS = [
    ("segnet_tiny", SegNetTiny, (2, 3, 16, 16), 17, {}),
    ("segnet_opset10", SegNetOpset10, (2, 3, 5, 5), 10, {}),
    ("upsample_opset9", UpsampleOpset9, (2, 2, 5, 5), 9, {}),
    ("attention_ops_tiny", AttentionOpsTiny, (2, 6, 16), 17, {1: "seq"}),
]


def dims(value_info):
    return [d.dim_param if d.dim_param else d.dim_value for d in value_info.type.tensor_type.shape.dim]


def main():
    for i, (name, build, shape, opset, extra_axes) in enumerate(MODELS):
        torch.manual_seed(2024 + i)
        np.random.seed(2024 + i)
        model = build().eval()
        x = np.random.standard_normal(shape).astype(np.float32)
        xt = torch.from_numpy(x)
        with torch.no_grad():
            y = model(xt).numpy().astype(np.float32)
        path = os.path.join(OUT_DIR, name + ".onnx")
        out_axes = {0: "batch", **({1: "seq"} if 1 in extra_axes else {})}
        torch.onnx.export(model, xt, path, opset_version=opset, do_constant_folding=True,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch", **extra_axes}, "output": out_axes})
        np.save(os.path.join(OUT_DIR, name + ".input.npy"), x)
        np.save(os.path.join(OUT_DIR, name + ".output.npy"), y)
        m = onnx.load(path)
        onnx.checker.check_model(m)
        assert dims(m.graph.input[0])[0] == "batch" and dims(m.graph.output[0])[0] == "batch"
        ops = sorted({n.op_type for n in m.graph.node})
        got = max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
        print(f"{name}: opset {got}, {os.path.getsize(path)} bytes, output {list(y.shape)}")
        print(f"  ops: {', '.join(ops)}")


if __name__ == "__main__":
    main()
