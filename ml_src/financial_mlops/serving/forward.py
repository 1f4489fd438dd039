"""The serving forward pass: the bundle's LSTM run by ONNX Runtime, windows in, P(up) out.

Why not torch at serving time: for the batch sizes a server sees (1 to a
few windows of 30 bars) torch's CPU LSTM (oneDNN) spends most of a call in
per-call set-up, not arithmetic: measured on the baseline variant, one
window, one thread, 540 us in ``torch.lstm`` against 190 us in ONNX
Runtime's LSTM kernel (enhanced 1,740 / 810 us, lightweight 210 / 61 us;
``benchmarks/serving_latency.py`` prints both side by side as "bare
forward"). ONNX Runtime is the standard CPU inference engine for such
graphs, so the server uses it rather than a hand-written kernel.

The graph is built here, in memory, from the module's own weights when the
runtime loads (a few milliseconds): the bundle stays the one model format
(torch state dict + feature spec), nothing new is published or stored, and
there is no exporter to trace the model. It is the model's definition
spelled in ONNX operators, layer by layer: transpose to time-major (ONNX
Runtime's LSTM supports only that layout), one ``LSTM`` node per layer
(gates reordered from torch's i, f, g, o to ONNX's i, o, f, c), the last
layer's final hidden state, the linear head, one sigmoid. Dropout is the
identity in eval mode and is left out. ``tests/serving/test_forward.py``
checks the probabilities against the torch module for every variant and
batch size.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import TensorProto, helper, numpy_helper

from financial_mlops.models import LSTMClassifier

# ONNX opset of the graph; LSTM, Squeeze-with-axes-input and Gemm as of 13.
OPSET = 17
INPUT = "windows"
OUTPUT = "probability"
# torch packs gate rows as (input, forget, cell, output); ONNX as (input, output, forget, cell).
_TORCH_TO_ONNX_GATES = (0, 3, 1, 2)


def _gates(weight: torch.Tensor, hidden: int) -> np.ndarray:
    """Gate blocks of a torch LSTM weight or bias, in ONNX's order, float32."""
    blocks = weight.detach().to(torch.float32).numpy().reshape(4, hidden, *weight.shape[1:])
    return np.ascontiguousarray(blocks[list(_TORCH_TO_ONNX_GATES)]).reshape(weight.shape)


def lstm_graph(model: LSTMClassifier) -> onnx.ModelProto:
    """``model`` (eval-mode semantics) as an ONNX model: float32 [B, T, F] -> P(up) [B]."""
    lstm = model.lstm
    if lstm.proj_size or lstm.bidirectional or not lstm.batch_first or not lstm.bias:
        raise ValueError(
            "the serving graph supports the unidirectional, batch-first LSTM with biases and without "
            "projection (LSTMClassifier as models.build_model makes it)"
        )
    hidden = lstm.hidden_size
    init = [
        numpy_helper.from_array(np.array([0], dtype=np.int64), "axis_0"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis_1"),
    ]
    nodes = [helper.make_node("Transpose", [INPUT], ["time_major"], perm=[1, 0, 2])]
    layer_input = "time_major"
    for k in range(lstm.num_layers):
        w_ih, w_hh = getattr(lstm, f"weight_ih_l{k}"), getattr(lstm, f"weight_hh_l{k}")
        b_ih, b_hh = getattr(lstm, f"bias_ih_l{k}"), getattr(lstm, f"bias_hh_l{k}")
        bias = np.concatenate([_gates(b_ih, hidden), _gates(b_hh, hidden)])
        init += [
            numpy_helper.from_array(_gates(w_ih, hidden)[None], f"W{k}"),
            numpy_helper.from_array(_gates(w_hh, hidden)[None], f"R{k}"),
            numpy_helper.from_array(bias[None], f"B{k}"),
        ]
        last = k == lstm.num_layers - 1
        # Y [T, 1, B, H] feeds the next layer; the last layer's Y_h [1, B, H] feeds the head.
        outputs = ["", "h_last"] if last else [f"y{k}"]
        nodes.append(
            helper.make_node("LSTM", [layer_input, f"W{k}", f"R{k}", f"B{k}"], outputs, hidden_size=hidden)
        )
        if not last:
            nodes.append(helper.make_node("Squeeze", [f"y{k}", "axis_1"], [f"seq{k}"]))
            layer_input = f"seq{k}"
    head_w = model.head.weight.detach().to(torch.float32).numpy()
    head_b = model.head.bias.detach().to(torch.float32).numpy()
    init += [numpy_helper.from_array(head_w, "head_w"), numpy_helper.from_array(head_b, "head_b")]
    nodes += [
        helper.make_node("Squeeze", ["h_last", "axis_0"], ["h"]),
        helper.make_node("Gemm", ["h", "head_w", "head_b"], ["logit_2d"], transB=1),
        helper.make_node("Squeeze", ["logit_2d", "axis_1"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], [OUTPUT]),
    ]
    graph = helper.make_graph(
        nodes,
        "financial_lstm",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["batch", "window", model.input_size])],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch"])],
        init,
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(proto)
    return proto


class ProbabilityForward:
    """P(up) [B] of scaled float32 windows [B, T, F], computed by an ONNX Runtime session."""

    def __init__(self, model: LSTMClassifier, threads: int = 1) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Idle pool threads would otherwise spin after every request and take
        # CPU from the server's event loop (the same reason torch's OpenMP
        # threads are told to sleep in the serving image).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            lstm_graph(model).SerializeToString(), options, providers=["CPUExecutionProvider"]
        )

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """``x``: C-contiguous float32 [B, T, F], decoded and scaled; returns float32 [B]."""
        (proba,) = self._session.run(None, {INPUT: x})
        return proba
