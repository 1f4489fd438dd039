"""Data preparation, the leakage check and request decoding import without torch.

They need the feature contract (financial_mlops.spec), not the model; a
torch import creeping back (e.g. FeatureSpec read from bundle.py again)
would make every one of them pay for, and depend on, torch.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# Each module is imported in a fresh interpreter in which any import of torch fails.
BLOCK_TORCH = """
import importlib.abc, importlib, sys

class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"torch is blocked in this test (imported as {name})")
        return None

sys.meta_path.insert(0, NoTorch())
importlib.import_module(sys.argv[1])
"""

TORCH_FREE = [
    "financial_mlops.spec",
    "financial_mlops.data",
    "financial_mlops.features",
    "financial_mlops.dataset",
    "financial_mlops.leakage_check",
    "financial_mlops.serving.codec",
    "financial_mlops.serving.settings",
]


@pytest.mark.parametrize("module", TORCH_FREE)
def test_module_imports_with_torch_blocked(module: str) -> None:
    run = subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH, module], capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, f"{module} needs torch:\n{run.stderr[-3000:]}"


def test_the_blocker_does_block_torch() -> None:
    # A module that does need torch must fail, or the test above proves nothing.
    run = subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH, "financial_mlops.bundle"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode != 0 and "torch is blocked" in run.stderr
