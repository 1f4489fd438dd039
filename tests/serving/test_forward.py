"""The serving forward pass gives exactly the module's logits, for every variant and batch size."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from financial_mlops.models import VARIANTS, build_model
from financial_mlops.serving.forward import LogitForward

N_FEATURES = 14


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("batch", [1, 3, 64])
def test_direct_kernel_call_equals_module_forward(variant: str, batch: int) -> None:
    torch.manual_seed(0)
    model = build_model(variant, N_FEATURES).eval()
    x = np.random.default_rng(batch).normal(size=(batch, 30, N_FEATURES)).astype(np.float32)
    forward = LogitForward(model)
    with torch.inference_mode():
        expected = model(torch.from_numpy(x))
        first, again = forward(x), forward(x)
    assert first.shape == (batch,)
    assert torch.equal(first, expected)
    # the cached zero state is read, never written: a second call is identical
    assert torch.equal(again, expected)


def test_weights_are_the_modules_own_tensors() -> None:
    """A later in-place weight update (load_state_dict copies in place) reaches the served forward."""
    torch.manual_seed(0)
    model = build_model("lightweight", N_FEATURES).eval()
    forward = LogitForward(model)
    other = build_model("lightweight", N_FEATURES).eval()
    model.load_state_dict(other.state_dict())
    x = np.ones((2, 30, N_FEATURES), dtype=np.float32)
    with torch.inference_mode():
        assert torch.equal(forward(x), other(torch.from_numpy(x)))


def test_unsupported_lstm_layout_is_refused() -> None:
    model = build_model("lightweight", N_FEATURES)
    model.lstm.batch_first = False
    with pytest.raises(ValueError, match="batch-first"):
        LogitForward(model)
