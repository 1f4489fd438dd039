"""Variant definitions, logits (not probabilities) out of the model, bundle round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from financial_mlops.bundle import load_bundle, save_bundle
from financial_mlops.models import VARIANTS, ProbabilityModel, build_model, count_parameters
from financial_mlops.spec import FeatureSpec

N_FEATURES = 14


def _lstm_params(input_size: int, hidden: int, layers: int) -> int:
    total = 0
    for layer in range(layers):
        inp = input_size if layer == 0 else hidden
        total += 4 * hidden * (inp + hidden) + 2 * 4 * hidden  # W_ih, W_hh, b_ih, b_hh
    return total + hidden + 1  # linear head


@pytest.mark.parametrize(
    ("variant", "hidden", "layers", "dropout", "expected_params"),
    [
        ("baseline", 64, 2, 0.2, 53_825),
        ("enhanced", 128, 3, 0.3, 338_049),
        ("lightweight", 32, 1, 0.1, 6_177),
    ],
)
def test_variant_shapes_and_parameter_counts(variant, hidden, layers, dropout, expected_params):
    cfg = VARIANTS[variant]
    assert (cfg.hidden_size, cfg.num_layers, cfg.dropout) == (hidden, layers, dropout)
    model = build_model(variant, N_FEATURES)
    assert model.lstm.hidden_size == hidden and model.lstm.num_layers == layers
    assert count_parameters(model) == _lstm_params(N_FEATURES, hidden, layers) == expected_params
    out = model.eval()(torch.randn(5, 17, N_FEATURES))
    assert out.shape == (5,)


def test_model_outputs_unbounded_logits_not_probabilities():
    model = build_model("lightweight", N_FEATURES).eval()
    with torch.no_grad():
        model.head.bias.fill_(6.0)
        out = model(torch.zeros(3, 10, N_FEATURES))
    # a sigmoid inside the model would cap this at 1
    assert (out > 3.0).all()
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in model.modules())


def test_unknown_variant_is_rejected_with_choices():
    with pytest.raises(ValueError, match="baseline"):
        build_model("huge", N_FEATURES)


def _spec(window: int = 8) -> FeatureSpec:
    rng = np.random.default_rng(0)
    return FeatureSpec(
        feature_names=[f"f{i}" for i in range(N_FEATURES)],
        window=window,
        warmup_bars=103,
        scaler_mean=rng.normal(size=N_FEATURES).tolist(),
        scaler_scale=rng.uniform(0.5, 2.0, N_FEATURES).tolist(),
    )


def test_bundle_round_trip_predicts_sigmoid_of_logits(tmp_path):
    torch.manual_seed(0)
    model = build_model("baseline", N_FEATURES).eval()
    spec = _spec()
    save_bundle(tmp_path / "b", model, "baseline", spec, {"test": {"accuracy": 0.6}})
    bundle = load_bundle(tmp_path / "b")
    assert bundle.variant == "baseline" and bundle.metrics["test"]["accuracy"] == 0.6
    assert FeatureSpec.from_dict(spec.to_dict()) == bundle.feature_spec
    raw = np.random.default_rng(1).normal(size=(4, spec.window, N_FEATURES))
    with torch.no_grad():
        expected = torch.sigmoid(model(torch.from_numpy(spec.transform(raw)))).numpy()
    np.testing.assert_allclose(bundle.predict_proba(raw), expected, rtol=1e-6)
    wrapped = ProbabilityModel.from_spec(model, spec)
    with torch.no_grad():
        np.testing.assert_allclose(wrapped(torch.from_numpy(raw).float()).numpy(), expected, rtol=1e-5)


def test_bundle_rejects_wrong_window_and_incomplete_dirs(tmp_path):
    model = build_model("lightweight", N_FEATURES)
    save_bundle(tmp_path / "b", model, "lightweight", _spec(window=8), {})
    bundle = load_bundle(tmp_path / "b")
    with pytest.raises(ValueError, match=r"\[batch, 8, 14\]"):
        bundle.predict_proba(np.zeros((1, 9, N_FEATURES)))
    (tmp_path / "b" / "feature_spec.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"feature_spec\.json"):
        load_bundle(tmp_path / "b")
