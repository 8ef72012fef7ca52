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

Each explained row can have its own background draw (``draws``): the masked samples of a row are completed from
that row's background rows only, at the same cost as a shared background of the same size.

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
    values: np.ndarray  # (n_done, M) SHAP values, rows in the order explained (``order``)
    base: np.ndarray  # (n_done,) per row: mean model output over that row's background
    fx: np.ndarray  # (n_done,) model output on the explained rows
    order: np.ndarray  # positions (into the given X) of the rows explained, in the order explained
    model_rows: int  # rows given to the model in total
    stopped_early: bool  # the safety stop (time_limit_s) was reached before every row was explained


def permutation_shap(
    f: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    background: np.ndarray,
    *,
    draws: np.ndarray | None = None,
    permutations: int,
    rng: np.random.Generator,
    time_limit_s: float | None = None,
    samples_per_call: int = SAMPLES_PER_CALL,
) -> PermutationResult:
    """SHAP values of ``f`` at the rows of ``X`` (interventional value function).

    Row ``i`` is explained against ``background[draws[i]]`` (its own background draw), or against every row of
    ``background`` when ``draws`` is None. ``permutations`` is the number of forward/backward pairs per row.
    Rows are explained in a seeded random order; ``time_limit_s`` is a safety stop: when it is reached the rows
    explained so far (a random subset, ``order``) are returned with ``stopped_early`` set.
    """
    n, m = X.shape
    t0 = time.perf_counter()
    fb = np.asarray(f(background), dtype=np.float64)  # every background row once: the base values
    model_rows = len(background)
    base_all = fb[draws].mean(axis=1) if draws is not None else np.full(n, fb.mean())
    k = draws.shape[1] if draws is not None else len(background)
    order = rng.permutation(n)
    fx_all = np.asarray(f(X[order]), dtype=np.float64)
    model_rows += n
    inner = max(m - 1, 0)  # masked states per sweep that are neither "none" nor "all" of the row's features
    per_row = permutations * 2 * inner * k
    chunk = max(1, samples_per_call // max(per_row, 1))
    values = np.zeros((n, m))
    done = 0
    stopped = False
    steps = np.arange(1, m)  # forward state s: first s features of the ordering present; backward: all but first t
    while done < n:
        if time_limit_s is not None and done > 0 and time.perf_counter() - t0 > time_limit_s:
            stopped = True
            break
        idx = order[done : done + chunk]
        c = len(idx)
        x = X[idx]
        bgs = background[draws[idx]] if draws is not None else background[None]  # (c or 1, k, m)
        perm = np.argsort(rng.random((c, permutations, m)), axis=-1)  # feature at each position
        pos = np.argsort(perm, axis=-1)  # position of each feature
        fwd = pos[:, :, None, :] < steps[None, None, :, None]  # (c, P, m-1, m): feature present?
        bwd = pos[:, :, None, :] >= steps[None, None, :, None]
        masks = np.concatenate([fwd, bwd], axis=2)  # (c, P, 2(m-1), m)
        if inner:
            z = np.where(masks[:, :, :, None, :], x[:, None, None, None, :], bgs[:, None, None, :, :])
            out = np.asarray(f(z.reshape(-1, m)), dtype=np.float64).reshape(c, permutations, 2 * inner, k)
            model_rows += out.size
            mid = out.mean(axis=-1)  # (c, P, 2(m-1)): mean over the row's background
        else:
            mid = np.zeros((c, permutations, 0))
        fx = np.broadcast_to(fx_all[done : done + c, None, None], (c, permutations, 1))
        start = np.broadcast_to(base_all[idx][:, None, None], (c, permutations, 1))
        # v[s] for s = 0..2m: none, forward states, all, backward states, none
        v = np.concatenate([start, mid[:, :, :inner], fx, mid[:, :, inner:], start], axis=2)
        fwd_gain = np.diff(v[:, :, : m + 1], axis=2)  # credited to perm[..., k] (added at step k+1)
        bwd_gain = -np.diff(v[:, :, m:], axis=2)  # credited to perm[..., k] (removed at step m+k+1)
        gain = fwd_gain + bwd_gain  # (c, P, m), by position in the ordering
        phi = np.zeros_like(gain)
        np.put_along_axis(phi, perm, gain, axis=2)
        values[done : done + c] = phi.sum(axis=1) / (2 * permutations)
        done += c
    return PermutationResult(
        values=values[:done],
        base=base_all[order[:done]],
        fx=fx_all[:done],
        order=order[:done],
        model_rows=model_rows,
        stopped_early=stopped,
    )
