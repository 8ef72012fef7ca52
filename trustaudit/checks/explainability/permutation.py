"""Model-agnostic SHAP values by antithetic permutation sampling, vectorised over rows.

This is the algorithm of ``shap.PermutationExplainer`` (each sampled feature ordering is walked forward, adding
the row's features one by one to a background row, and then backward, removing them in the same order; every
marginal change in the model output is credited to the feature that moved), written so that all masked samples
of a block of rows go to the model in one call. Two reasons for not calling ``shap.PermutationExplainer``:

* its masking code is compiled by numba on first use: 15-20 s per process on our 2-core machines, longer than
  the explanation itself on the sample bundles;
* it calls the model once per explained row, which for models behind a DataFrame adapter (ONNX with string
  inputs) costs more in conversion than in the model.

It also draws its orderings from a seeded ``numpy.random.Generator`` instead of the global numpy seed. The
values satisfy additivity exactly (``base + sum(phi) == f(x)``: the walk telescopes) for any number of
permutations, and are exact Shapley values for models that are additive in the explained columns. Tests
compare them with ``shap.KernelExplainer`` (exact enumeration on a small model) and with ``shap.LinearExplainer``.

Categorical columns are explained over ordinal codes (:class:`OrdinalCodec`): masking only ever copies a whole
column value from the explained row or from a background row, so a code is never interpolated and always decodes
to a real category before the model sees it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Masked samples (rows given to the model) per call, bounding memory: 60,000 x 13 columns is 6 MB of float64.
SAMPLES_PER_CALL = 60_000


class OrdinalCodec:
    """Numeric view of a DataFrame for a model-agnostic explainer, and back.

    Numeric columns pass through as float64 (NaN kept). Other columns become the index of their value in the
    sorted list of values seen in ``X`` (missing: -1). :meth:`decode` restores the original dtypes, so the
    model receives exactly what it would have received for the original rows.
    """

    def __init__(self, X: pd.DataFrame) -> None:
        self.columns = list(X.columns)
        self.dtypes = {c: X[c].dtype for c in self.columns}
        self.categories: dict[str, pd.Index] = {}
        for c in self.columns:
            col = X[c]
            if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
                values = pd.unique(col.dropna().to_numpy(dtype=object))
                self.categories[c] = pd.Index(sorted(values, key=str), dtype=object)

    @property
    def categorical(self) -> list[str]:
        return list(self.categories)

    def encode(self, X: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(X), len(self.columns)), dtype=np.float64)
        for j, c in enumerate(self.columns):
            col = X[c]
            if c in self.categories:
                codes = self.categories[c].get_indexer(col.to_numpy(dtype=object))
                codes[np.asarray(col.isna())] = -1
                if (codes[np.asarray(col.notna())] < 0).any():
                    raise ValueError(f"column '{c}' has values not seen when the codec was built")
                out[:, j] = codes
            else:
                out[:, j] = col.to_numpy(dtype=np.float64, na_value=np.nan)
        return out

    def decode(self, Z: np.ndarray) -> pd.DataFrame:
        cols: dict[str, object] = {}
        for j, c in enumerate(self.columns):
            dtype = self.dtypes[c]
            if c in self.categories:
                codes = np.rint(Z[:, j]).astype(np.int64)
                cat = pd.Categorical.from_codes(codes, categories=self.categories[c])
                cols[c] = pd.Series(cat).astype(dtype) if not isinstance(dtype, pd.CategoricalDtype) else cat
            else:
                v = Z[:, j]
                if dtype.kind in "iub" and not np.isnan(v).any():
                    cols[c] = v.astype(dtype)
                else:
                    cols[c] = v
        return pd.DataFrame(cols)


@dataclass
class PermutationResult:
    values: list[np.ndarray]  # per background: (n_done, M) SHAP values
    base: list[float]  # per background: mean model output over the background
    fx: np.ndarray  # (n_done,) model output on the explained rows
    order: np.ndarray  # positions (into the given X) of the rows explained, in the order explained
    model_rows: int  # rows given to the model in total
    stopped_early: bool  # the time limit was reached before every row was explained


def permutation_shap(
    f: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    backgrounds: list[np.ndarray],
    *,
    permutations: int,
    rng: np.random.Generator,
    time_limit_s: float | None = None,
    samples_per_call: int = SAMPLES_PER_CALL,
) -> PermutationResult:
    """SHAP values of ``f`` at the rows of ``X`` against each background (interventional value function).

    Each background gets its own values from the same orderings and the same model calls; their row-weighted
    mean is the estimate for the pooled background. ``permutations`` is the number of forward/backward pairs
    per row. Rows are explained in a seeded random order, so when ``time_limit_s`` stops the loop early the rows
    explained are a random subset (``order``).
    """
    n, m = X.shape
    sizes = [len(b) for b in backgrounds]
    bg = np.vstack(backgrounds)
    bounds = np.cumsum([0, *sizes])
    b = len(bg)
    t0 = time.perf_counter()

    def per_bg(out: np.ndarray) -> np.ndarray:  # (..., b) -> (..., n_bg): mean output within each background
        return np.stack(
            [out[..., bounds[k] : bounds[k + 1]].mean(axis=-1) for k in range(len(sizes))], axis=-1
        )

    base = per_bg(np.asarray(f(bg), dtype=np.float64))  # (n_bg,)
    model_rows = b
    order = rng.permutation(n)
    fx_all = np.asarray(f(X[order]), dtype=np.float64)
    model_rows += n
    inner = max(m - 1, 0)  # masked states per sweep that are neither "none" nor "all" of the row's features
    per_row = permutations * 2 * inner * b
    chunk = max(1, samples_per_call // max(per_row, 1))
    values = np.zeros((len(sizes), n, m))
    done = 0
    stopped = False
    steps = np.arange(
        1, m
    )  # forward state s: first s features of the ordering present; backward: all but first t
    while done < n:
        if time_limit_s is not None and done > 0 and time.perf_counter() - t0 > time_limit_s:
            stopped = True
            break
        idx = order[done : done + chunk]
        c = len(idx)
        x = X[idx]
        perm = np.argsort(rng.random((c, permutations, m)), axis=-1)  # feature at each position
        pos = np.argsort(perm, axis=-1)  # position of each feature
        fwd = pos[:, :, None, :] < steps[None, None, :, None]  # (c, P, m-1, m): feature present?
        bwd = pos[:, :, None, :] >= steps[None, None, :, None]
        masks = np.concatenate([fwd, bwd], axis=2)  # (c, P, 2(m-1), m)
        if inner:
            z = np.where(masks[:, :, :, None, :], x[:, None, None, None, :], bg[None, None, None, :, :])
            out = np.asarray(f(z.reshape(-1, m)), dtype=np.float64).reshape(c, permutations, 2 * inner, b)
            model_rows += out.size
            mid = per_bg(out)  # (c, P, 2(m-1), n_bg)
        else:
            mid = np.zeros((c, permutations, 0, len(sizes)))
        fx = np.broadcast_to(fx_all[done : done + c, None, None, None], (c, permutations, 1, len(sizes)))
        start = np.broadcast_to(base, (c, permutations, 1, len(sizes)))
        # v[s] for s = 0..2m: none, forward states, all, backward states, none
        v = np.concatenate([start, mid[:, :, :inner], fx, mid[:, :, inner:], start], axis=2)
        fwd_gain = np.diff(v[:, :, : m + 1], axis=2)  # credited to perm[..., k] (added at step k+1)
        bwd_gain = -np.diff(v[:, :, m:], axis=2)  # credited to perm[..., k] (removed at step m+k+1)
        gain = fwd_gain + bwd_gain  # (c, P, m, n_bg), by position in the ordering
        phi = np.zeros_like(gain)
        np.put_along_axis(phi, perm[..., None], gain, axis=2)
        values[:, done : done + c] = np.moveaxis(phi.sum(axis=1) / (2 * permutations), -1, 0)
        done += c
    return PermutationResult(
        values=[values[k, :done] for k in range(len(sizes))],
        base=[float(x) for x in base],
        fx=fx_all[:done],
        order=order[:done],
        model_rows=model_rows,
        stopped_early=stopped,
    )
