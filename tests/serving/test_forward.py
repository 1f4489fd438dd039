"""The serving graph (ONNX Runtime) gives the torch module's probabilities, every variant and batch size."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from financial_mlops.models import VARIANTS, build_model
from financial_mlops.serving.forward import ProbabilityForward, lstm_graph

N_FEATURES = 14


def _torch_proba(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return torch.sigmoid(model(torch.from_numpy(x))).numpy()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("batch", [1, 3, 64])
def test_graph_equals_module_forward(variant: str, batch: int) -> None:
    torch.manual_seed(batch)
    model = build_model(variant, N_FEATURES).eval()
    # Spread-out inputs and weights (a fresh model's are small, its outputs
    # near-constant), so gates saturate and the probabilities differ.
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0)
    x = np.random.default_rng(batch).normal(scale=2.0, size=(batch, 30, N_FEATURES)).astype(np.float32)
    forward = ProbabilityForward(model)
    expected = _torch_proba(model, x)
    first, again = forward(x), forward(x)
    assert first.shape == (batch,) and first.dtype == np.float32
    np.testing.assert_allclose(first, expected, rtol=0, atol=2e-6)
    assert np.array_equal(first, again)
    assert batch == 1 or expected.std() > 0.02  # the comparison is not between near-constants


def test_gate_order_matters() -> None:
    """Swapping two gate blocks of the torch weights is visible: the check above would catch a mix-up."""
    torch.manual_seed(0)
    model = build_model("lightweight", N_FEATURES).eval()
    x = np.random.default_rng(0).normal(size=(8, 30, N_FEATURES)).astype(np.float32)
    before = ProbabilityForward(model)(x)
    with torch.no_grad():
        w = model.lstm.weight_hh_l0
        h = model.lstm.hidden_size
        w.copy_(torch.cat([w[h : 2 * h], w[:h], w[2 * h :]]))
    assert np.abs(ProbabilityForward(model)(x) - before).max() > 1e-3


def test_graph_is_a_valid_onnx_model_with_one_lstm_per_layer() -> None:
    model = build_model("enhanced", N_FEATURES)
    ops = [node.op_type for node in lstm_graph(model).graph.node]
    assert ops.count("LSTM") == model.lstm.num_layers
    assert ops[-1] == "Sigmoid" and ops.count("Sigmoid") == 1


def test_unsupported_lstm_layout_is_refused() -> None:
    model = build_model("lightweight", N_FEATURES)
    model.lstm.batch_first = False
    with pytest.raises(ValueError, match="batch-first"):
        ProbabilityForward(model)
