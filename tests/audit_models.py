"""The audit tests' models: ``sample_data/train_audit_models.py`` plus the sample model."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class AuditModels:
    """Paths of the trained models and their held-out data files (see the training script)."""

    clean: Path
    holdout: Path
    leaky: Path
    leaky_holdout: Path
    noise: Path
    noise_holdout: Path
    no_relationship: Path
    shuffled: Path


def train_audit_models(sample_models: Path, out: Path) -> AuditModels:
    """Train the audit examples into ``out``; the clean model is the sample XGBoost model."""
    spec = importlib.util.spec_from_file_location(
        "train_audit_models", ROOT / "sample_data" / "train_audit_models.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    paths = module.train(out)
    return AuditModels(clean=sample_models / "adult_xgboost.joblib", **paths)
