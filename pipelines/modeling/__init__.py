"""The model: training rows as of an instant, LightGBM training (`train`), the champion/challenger gate
(`evaluate`), holdout metrics and batch scoring (`score`). Domain-free platform."""
