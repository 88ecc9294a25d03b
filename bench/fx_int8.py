"""PyTorch's own static int8, shared by the bench scripts: FX graph mode (prepare_fx/convert_fx).

quantize_fx(model, batches, observer): engine onednn (qnnpack when absent; Debian's torch has no fbgemm), BatchNorm
folded and ReLU fused by FX, per-channel symmetric int8 weights (the engine's default weight observer), uint8
per-tensor activations observed with the engine's default HistogramObserver ("histogram") or a MinMaxObserver of the
same dtype and reduce_range ("minmax", Shrink's --calibration minmax), calibrated on `batches` (an iterable of
float tensors) in eval mode. Returns the converted model and the engine.
"""
import copy

import torch


@torch.no_grad()
def quantize_fx(model, batches, observer="minmax", example=None):
    from torch.ao import quantization as tq
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    supported = torch.backends.quantized.supported_engines
    engine = "onednn" if "onednn" in supported else "qnnpack"
    torch.backends.quantized.engine = engine
    default = tq.get_default_qconfig(engine)
    if observer == "minmax":
        activation = default.activation()
        qconfig = tq.QConfig(activation=tq.MinMaxObserver.with_args(dtype=activation.dtype, qscheme=activation.qscheme,
                                                                    reduce_range=activation.reduce_range),
                             weight=default.weight)
    elif observer == "histogram":
        qconfig = default
    else:
        raise ValueError(f"observer must be minmax or histogram, got {observer}")
    # The engine's default mapping with this global qconfig: fixed-range ops (Sigmoid, Hardsigmoid, Tanh, Softmax) keep their
    # fixed-qparams observers, which prepare_fx requires (efficientnet_b0's squeeze-excitation gates are Sigmoids).
    mapping = tq.get_default_qconfig_mapping(engine).set_global(qconfig)
    batches = list(batches)
    example = batches[0][:1] if example is None else example
    prepared = prepare_fx(copy.deepcopy(model).eval(), mapping, example_inputs=(example,))
    for x in batches:
        prepared(x)
    return convert_fx(prepared), engine
