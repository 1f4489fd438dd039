"""The serving forward pass: the LSTM op called directly, without nn.Module plumbing.

``nn.LSTM.__call__`` spends about a quarter of a batch-1 forward in Python
(hooks, ``_update_flat_weights``, argument checks, two fresh zero states),
work the decoder has already made redundant: every window reaching the
model is finite, float32 and of the bundle's shape. ``LogitForward`` calls
the same ATen kernel (``torch.lstm``) with the module's own weight tensors
and the same head, so its logits are bit-for-bit those of
``LSTMClassifier.forward`` in eval mode (tests/serving/test_forward.py).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional

from financial_mlops.models import LSTMClassifier


class LogitForward:
    """Logits [B] of an eval-mode ``LSTMClassifier`` for float32 windows [B, T, F]."""

    def __init__(self, model: LSTMClassifier) -> None:
        lstm = model.lstm
        if lstm.proj_size or lstm.bidirectional or not lstm.batch_first:
            raise ValueError("LogitForward supports the unidirectional, batch-first LSTM without projection")
        model.eval()
        # The module's parameter tensors themselves (not copies), in the order
        # the kernel expects: per layer w_ih, w_hh, b_ih, b_hh.
        self._weights = [w for layer in lstm.all_weights for w in layer]
        self._layers = lstm.num_layers
        self._hidden = lstm.hidden_size
        self._has_bias = lstm.bias
        self._head_weight, self._head_bias = model.head.weight, model.head.bias
        # Zero initial states per batch size, made once: the kernel only
        # reads them, so one pair serves every request of that size.
        self._zeros: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def _state(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        state = self._zeros.get(batch)
        if state is None:
            with torch.inference_mode():
                zeros = torch.zeros(self._layers, batch, self._hidden)
            state = self._zeros[batch] = (zeros, zeros)
        return state

    def __call__(self, x: np.ndarray) -> torch.Tensor:
        """``x``: float32 [B, T, F], as decoded and scaled; call under ``torch.inference_mode()``."""
        _, h_n, _ = torch.lstm(
            torch.from_numpy(x),
            self._state(x.shape[0]),
            self._weights,
            self._has_bias,
            self._layers,
            0.0,  # dropout: none at inference
            False,  # train
            False,  # bidirectional
            True,  # batch_first
        )
        # Dropout before the head is the identity in eval mode.
        return functional.linear(h_n[-1], self._head_weight, self._head_bias).squeeze(-1)
