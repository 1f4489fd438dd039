"""The MLServer runtime that serves our LSTM bundles over the V2 inference protocol.

MLServer imports ``FinancialLSTMRuntime`` from model-settings.json
``implementation``. ``load`` reads the bundle files next to
model-settings.json with torch (no MLflow at serving time); ``predict``
decodes the request (serving.requests), runs the model and answers with
``probability`` (P(next bar up), FP64) and ``direction`` ("up"/"down").
"""

from __future__ import annotations

import numpy as np
import torch
from mlserver import MLModel
from mlserver.errors import MLServerError
from mlserver.types import InferenceRequest, InferenceResponse, ResponseOutput
from mlserver.utils import get_model_uri

from financial_mlops.bundle import ModelBundle, load_bundle
from financial_mlops.serving.requests import BadRequest, RequestLimits, decode_request
from financial_mlops.serving.settings import RuntimeConfig


def encode_outputs(proba: np.ndarray, threshold: float) -> list[ResponseOutput]:
    directions = ["up" if p >= threshold else "down" for p in proba.tolist()]
    batch = len(directions)
    return [
        ResponseOutput(name="probability", datatype="FP64", shape=[batch], data=proba.tolist()),
        ResponseOutput(name="direction", datatype="BYTES", shape=[batch], data=directions),
    ]


class FinancialLSTMRuntime(MLModel):
    """Custom runtime: bundle in, V2 protocol out; bad requests are 400s, never crashes."""

    _bundle: ModelBundle
    _config: RuntimeConfig
    _limits: RequestLimits

    async def load(self) -> bool:
        extra = self.settings.parameters.extra if self.settings.parameters else None
        try:
            self._config = RuntimeConfig.from_extra(extra)
        except ValueError as exc:
            raise MLServerError(f"model {self.name}: {exc}", status_code=500) from None
        torch.set_num_threads(self._config.torch_threads)
        model_dir = await get_model_uri(self.settings)
        self._bundle = load_bundle(model_dir)
        self._limits = RequestLimits(self._config.max_batch_size, self._config.max_bars)
        # One forward pass now so the first real request does not pay for
        # lazy initialisation inside torch.
        spec = self._bundle.feature_spec
        self._bundle.predict_proba(np.zeros((1, spec.window, len(spec.feature_names))) + spec.scaler_mean)
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        windows = decode_request(payload, self._bundle.feature_spec, self._limits)
        try:
            proba = self._bundle.predict_proba(windows)
        except ValueError as exc:  # a shape or value the decoder let through
            raise BadRequest(str(exc)) from None
        return InferenceResponse(
            id=payload.id,
            model_name=self.name,
            model_version=self.version,
            outputs=encode_outputs(proba, self._config.threshold),
        )
