"""The champion/challenger gate: pure rules over holdout metrics; thresholds come from params.gate.

Every check fails on NaN (a comparison with NaN is False), so missing numbers can never promote a model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from pipelines.config import Gate


@dataclass(frozen=True)
class Check:
    """One gate rule: its number, its threshold, the verdict and a one-line reason."""

    name: str
    passed: bool
    value: float
    threshold: float
    reason: str


def relative_gain(reference_mae: float, model_mae: float) -> float:
    """(reference - model) / reference; NaN when the reference is missing or not positive."""
    if not reference_mae > 0 or math.isnan(model_mae):
        return math.nan
    return (reference_mae - model_mae) / reference_mae


def cluster_bootstrap_upper(diff: np.ndarray, groups: np.ndarray, samples: int, seed: int,
                            level: float = 0.95, chunk: int = 100) -> float:
    """Upper bound of the two-sided `level` interval of mean(diff), resampling whole groups (train runs)."""
    diff = np.asarray(diff, dtype="float64")
    if diff.size == 0 or np.isnan(diff).any():
        return math.nan
    _, codes = np.unique(groups, return_inverse=True)
    sums = np.bincount(codes, weights=diff)
    counts = np.bincount(codes).astype("float64")
    rng = np.random.default_rng(seed)
    means = []
    for start in range(0, samples, chunk):  # chunks bound memory at chunk x n_groups indices
        idx = rng.integers(0, sums.size, size=(min(chunk, samples - start), sums.size))
        means.append(sums[idx].sum(axis=1) / counts[idx].sum(axis=1))
    return float(np.quantile(np.concatenate(means), 1 - (1 - level) / 2))


def _gain_check(name: str, what: str, gain_word: str, challenger_mae: float, reference_mae: float,
                min_gain: float) -> Check:
    """Pass when the challenger's MAE is at least `min_gain` (relative) below the reference's."""
    gain = relative_gain(reference_mae, challenger_mae)
    ok = bool(gain >= min_gain)
    return Check(name, ok, gain, min_gain,
                 f"MAE {challenger_mae:.3f} vs {what} {reference_mae:.3f}: {gain_word} {gain:.2%} "
                 f"{'>=' if ok else 'is not >='} {min_gain:.2%}")


def check_champion_gain(challenger_mae: float, champion_mae: float, min_gain: float) -> Check:
    return _gain_check("champion_gain", "champion", "relative gain", challenger_mae, champion_mae, min_gain)


def check_bootstrap(upper: float) -> Check:
    ok = bool(upper < 0)
    return Check("bootstrap_upper", ok, upper, 0.0,
                 f"95% upper bound of the per-departure abs-error difference {upper:+.3f} min "
                 f"{'<' if ok else 'is not <'} 0 (train runs resampled)")


def check_classes(challenger: dict[str, dict], champion: dict[str, dict], max_degradation: float) -> Check:
    """Worst relative MAE increase over the classes both models were scored on."""
    worst, worst_class = -math.inf, "none"
    for cls in sorted(set(challenger) & set(champion)):
        ref, new = champion[cls]["mae"], challenger[cls]["mae"]
        loss = math.nan if not ref > 0 else (new - ref) / ref
        if math.isnan(loss) or loss > worst:
            worst, worst_class = loss, cls
        if math.isnan(loss):
            break
    if worst == -math.inf:
        worst = math.nan  # no class in common: nothing shows the challenger is safe per class
    ok = bool(worst <= max_degradation)
    return Check("class_degradation", ok, worst, max_degradation,
                 f"worst class {worst_class}: MAE {worst:+.2%} vs champion "
                 f"({'within' if ok else 'beyond'} {max_degradation:.0%})")


def check_persistence(challenger_mae: float, persistence_mae: float, min_gain: float) -> Check:
    return _gain_check("persistence_gain", "persistence", "gain", challenger_mae, persistence_mae, min_gain)


def decide(rules: Gate, challenger: dict, persistence_mae: float, champion: dict | None = None,
           bootstrap_upper: float = math.nan) -> tuple[bool, list[Check]]:
    """All checks that apply (only persistence without a champion); passed when every one passes."""
    checks = [check_persistence(challenger["mae"], persistence_mae, rules.min_gain_over_persistence)]
    if champion is not None:
        checks += [check_champion_gain(challenger["mae"], champion["mae"], rules.min_relative_gain),
                   check_bootstrap(bootstrap_upper),
                   check_classes(challenger.get("by_class", {}), champion.get("by_class", {}),
                                 rules.max_class_degradation)]
    return all(c.passed for c in checks), checks


def as_records(checks: list[Check]) -> list[dict]:
    """Checks as JSON-able dicts (NaN becomes None so the record stays valid JSON)."""
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(c).items()}
            for c in checks]
