"""Serving and model lifecycle: MLServer runtime, export, validation gate, promotion, Seldon manifests.

The names below are a contract with the platform: the Seldon ``Server``
``financial-mlserver`` advertises ``CAPABILITY`` and its image has this
package installed so that ``RUNTIME_IMPLEMENTATION`` imports.
"""

from __future__ import annotations

# Capability string the Seldon Server advertises; every Model requires it.
CAPABILITY = "financial-lstm"
# Import path MLServer loads (model-settings.json "implementation").
RUNTIME_IMPLEMENTATION = "financial_mlops.serving.runtime.FinancialLSTMRuntime"
# Artifact path, inside a training run, of the MLServer model folder that
# promotion uploads (model-settings.json + the bundle files); Seldon Models
# point their storageUri at it.
SERVING_ARTIFACT_PATH = "serving"
# Artifact path of the training bundle logged by the trainer.
BUNDLE_ARTIFACT_PATH = "bundle"
CHAMPION_ALIAS = "champion"
