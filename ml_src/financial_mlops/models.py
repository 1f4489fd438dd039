"""The three LSTM variants. They output LOGITS; the sigmoid lives in inference code only.

Training uses ``BCEWithLogitsLoss`` on the logits; a sigmoid inside the model
plus that loss squashes probabilities twice and is how the previous
application ended up predicting "up" for everything.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from financial_mlops.spec import FeatureSpec


@dataclass(frozen=True)
class VariantConfig:
    hidden_size: int
    num_layers: int
    dropout: float

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


VARIANTS: dict[str, VariantConfig] = {
    "baseline": VariantConfig(hidden_size=64, num_layers=2, dropout=0.2),
    "enhanced": VariantConfig(hidden_size=128, num_layers=3, dropout=0.3),
    "lightweight": VariantConfig(hidden_size=32, num_layers=1, dropout=0.1),
}


class LSTMClassifier(nn.Module):
    """LSTM over a window of feature rows -> one logit for "next bar is up"."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout_p = dropout
        # nn.LSTM applies dropout only between stacked layers; with one layer
        # it would warn and do nothing, so the head dropout covers that case.
        self.lstm = nn.LSTM(
            input_size=input_size,
            hidden_size=hidden_size,
            num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: float [B, T, F] -> logits [B]."""
        _, (h_n, _) = self.lstm(x)
        return self.head(self.dropout(h_n[-1])).squeeze(-1)


class ProbabilityModel(nn.Module):
    """Self-contained inference module logged to MLflow: unscaled windows -> P(up).

    It holds the train-only scaler as buffers and applies the single sigmoid,
    so a model loaded back from the registry gives the same numbers as
    ``ModelBundle.predict_proba``.
    """

    def __init__(self, classifier: LSTMClassifier, mean: torch.Tensor, scale: torch.Tensor) -> None:
        super().__init__()
        self.classifier = classifier
        self.register_buffer("mean", mean.to(torch.float32))
        self.register_buffer("scale", scale.to(torch.float32))

    @classmethod
    def from_spec(cls, classifier: LSTMClassifier, spec: FeatureSpec) -> ProbabilityModel:
        """Wrap ``classifier`` with the train-only scaler of ``spec``, in eval mode."""
        return cls(
            classifier,
            torch.tensor(spec.scaler_mean, dtype=torch.float32),
            torch.tensor(spec.scaler_scale, dtype=torch.float32),
        ).eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.classifier((x - self.mean) / self.scale))


def build_model(variant: str, input_size: int) -> LSTMClassifier:
    try:
        cfg = VARIANTS[variant]
    except KeyError:
        raise ValueError(f"unknown model variant {variant!r}; choose one of {sorted(VARIANTS)}") from None
    return LSTMClassifier(input_size, cfg.hidden_size, cfg.num_layers, cfg.dropout)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
