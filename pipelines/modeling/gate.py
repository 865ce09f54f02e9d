"""The champion/challenger gate: pure rules over holdout metrics; thresholds come from params.gate.

Every check fails on NaN (a comparison with NaN is False), so missing numbers can never promote a model.
"""

from __future__ import annotations

import dataclasses
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


def _worst_degradation(challenger: dict[str, dict], champion: dict[str, dict],
                       min_rows: int) -> tuple[float, str, int]:
    """Worst relative MAE increase over the segments both models were scored on with `min_rows` rows
    (NaN stops the search: it fails); (worst, its segment, segments compared)."""
    worst, name, compared = -math.inf, "none", 0
    for seg in sorted(set(challenger) & set(champion)):
        if min(challenger[seg].get("n", min_rows), champion[seg].get("n", min_rows)) < min_rows:
            continue
        ref, new = champion[seg]["mae"], challenger[seg]["mae"]
        loss, compared = (math.nan if not ref > 0 else (new - ref) / ref), compared + 1
        if math.isnan(loss) or loss > worst:
            worst, name = loss, seg
        if math.isnan(loss):
            break
    return (math.nan if worst == -math.inf else worst), name, compared   # none compared: nothing shows safety


def check_classes(challenger: dict[str, dict], champion: dict[str, dict], max_degradation: float) -> Check:
    """Worst relative MAE increase over the classes both models were scored on."""
    worst, worst_class, _ = _worst_degradation(challenger, champion, 0)
    ok = bool(worst <= max_degradation)
    return Check("class_degradation", ok, worst, max_degradation,
                 f"worst class {worst_class}: MAE {worst:+.2%} vs champion "
                 f"({'within' if ok else 'beyond'} {max_degradation:.0%})")


def check_segments(column: str, challenger: dict[str, dict], champion: dict[str, dict],
                   max_degradation: float, min_rows: int) -> Check:
    """Like the class check over another segment column (line, corridor); segments under `min_rows`
    holdout rows are too noisy to judge, and none large enough passes (the class check still applies)."""
    worst, seg, compared = _worst_degradation(challenger, champion, min_rows)
    if compared == 0:
        return Check(f"{column}_degradation", True, worst, max_degradation,
                     f"no {column} has {min_rows} holdout rows under both models: not judged")
    ok = bool(worst <= max_degradation)
    return Check(f"{column}_degradation", ok, worst, max_degradation,
                 f"worst {column} {seg}: MAE {worst:+.2%} vs champion ({'within' if ok else 'beyond'} "
                 f"{max_degradation:.0%}; {compared} {column}s with >= {min_rows} rows)")


def bar(min_gain: float, champion_gain: float | None) -> float:
    """The gain a challenger needs over a baseline: `min_gain`, or, when the champion serving now is itself
    under that bar on the same holdout (`champion_gain`; None: not lowered), the champion's own gain,
    never below 0. A challenger that beats the champion must not be refused in favour of a worse model,
    but it must still beat the baseline."""
    if champion_gain is None or math.isnan(champion_gain) or champion_gain >= min_gain:
        return min_gain
    return max(champion_gain, 0.0)


def _lowered(threshold: float, min_gain: float) -> str:
    return "" if threshold == min_gain else \
        f" (the bar {min_gain:.2%}, lowered to the champion's own gain on this holdout)"


def check_board(challenger: dict, board: dict, min_gain: float, min_rows: int,
                champion: dict | None = None) -> Check:
    """The challenger beats the destination board's own forecast (the delay a passenger already sees)
    by `min_gain`, overall and in every train class with `min_rows` holdout rows; with `champion` the bar
    of each is lowered where the champion is under it (`bar`). The smallest margin decides."""
    champ = champion or {}
    pairs = [("overall", challenger["mae"], board["mae"], champ.get("mae"))]
    champ_class = champ.get("by_class", {})
    pairs += [(cls, sub["mae"], board["by_class"][cls]["mae"], champ_class.get(cls, {}).get("mae"))
              for cls, sub in sorted(challenger.get("by_class", {}).items())
              if cls in board.get("by_class", {}) and sub.get("n", min_rows) >= min_rows]
    rows = []
    for name, mae, ref, champion_mae in pairs:
        need = bar(min_gain, None if champion_mae is None else relative_gain(ref, champion_mae))
        rows.append((relative_gain(ref, mae), need, name, mae, ref))
    gain, need, name, mae, ref = min(rows, key=lambda r: -math.inf if math.isnan(r[0]) else r[0] - r[1])
    ok = bool(gain >= need)
    return Check("board_gain", ok, gain, need,
                 f"worst against the board's forecast: {name} MAE {mae:.3f} vs {ref:.3f}, gain {gain:.2%} "
                 f"{'>=' if ok else 'is not >='} {need:.2%}{_lowered(need, min_gain)} "
                 f"(classes with >= {min_rows} rows)")


def check_persistence(challenger_mae: float, persistence_mae: float, min_gain: float,
                      champion_mae: float | None = None) -> Check:
    need = bar(min_gain, None if champion_mae is None else relative_gain(persistence_mae, champion_mae))
    check = _gain_check("persistence_gain", "persistence", "gain", challenger_mae, persistence_mae, need)
    return dataclasses.replace(check, reason=check.reason + _lowered(need, min_gain))


def decide(rules: Gate, challenger: dict, persistence_mae: float, champion: dict | None = None,
           bootstrap_upper: float = math.nan, board: dict | None = None) -> tuple[bool, list[Check]]:
    """All checks that apply (persistence and the board's forecast without a champion); passed when
    every one passes. With `rules.lower_bars_to_champion`, the persistence and board bars fall to the
    champion's own gains where it is under them on this holdout (a regime change can put the serving
    model below them; the champion checks still demand a clear win over it)."""
    lower = champion if rules.lower_bars_to_champion else None
    checks = [check_persistence(challenger["mae"], persistence_mae, rules.min_gain_over_persistence,
                                None if lower is None else lower["mae"])]
    if board is not None:
        checks.append(check_board(challenger, board, rules.min_gain_over_board, rules.min_segment_rows,
                                  lower))
    if champion is not None:
        checks += [check_champion_gain(challenger["mae"], champion["mae"], rules.min_relative_gain),
                   check_bootstrap(bootstrap_upper),
                   check_classes(challenger.get("by_class", {}), champion.get("by_class", {}),
                                 rules.max_class_degradation)]
        checks += [check_segments(col, challenger.get(f"by_{col}", {}), champion.get(f"by_{col}", {}),
                                  rules.max_segment_degradation, rules.min_segment_rows)
                   for col in rules.segments]
    return all(c.passed for c in checks), checks


def as_records(checks: list[Check]) -> list[dict]:
    """Checks as JSON-able dicts (NaN becomes None so the record stays valid JSON)."""
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(c).items()}
            for c in checks]
