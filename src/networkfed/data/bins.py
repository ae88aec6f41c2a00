"""Piecewise-linear encoding with target-aware bins, fitted federatedly from histograms.

Why: failure rules in machining data are sharp (power outside a band, wear × torque above a
limit). A tree splits exactly at such a boundary; a small network fed the raw standardised
value learns a smooth one and ranks near-misses like failures. Giving the network, beside each
raw feature, a few columns that each ramp from 0 to 1 across one bin -- with bin edges where a
decision tree on that feature alone would split the labels -- lets it place a sharp step where
the data say one is (Gorishniy, Rubachev & Babenko, "On Embeddings for Numerical Features in
Tabular Deep Learning", NeurIPS 2022: piecewise-linear encoding, target-aware bins).

Federated fit: no row leaves its site. Each site counts its *training* rows per class on one
fixed grid over the standardised axis (:func:`class_histograms`); the server adds the counts
and fits, per feature, a scikit-learn decision tree on the grid cells weighted by their counts
(:func:`fit_bin_edges`). The split points are then exact to one grid cell
(:data:`GRID_STEP` standard deviations), and pooled rows give the same edges as the sum of the
sites' histograms, which the tests check.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "GRID_LIMIT",
    "GRID_STEP",
    "class_histograms",
    "encode_bins",
    "encoded_width",
    "fit_bin_edges",
]

GRID_LIMIT = 10.0
"""The grid spans ±10 standard deviations; values beyond count in the outermost cell."""
GRID_STEP = 0.01
"""Cell width in standard deviations: the resolution of a bin edge."""
_CELLS = round(2 * GRID_LIMIT / GRID_STEP)


def _cell_of(values: np.ndarray) -> np.ndarray:
    cells = np.floor((np.asarray(values, dtype=np.float64) + GRID_LIMIT) / GRID_STEP)
    return np.clip(cells, 0, _CELLS - 1).astype(np.int64)


def class_histograms(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Site side: ``(features, 2, cells)`` counts of standardised training rows per class.

    Parameters
    ----------
    values
        ``(n, features)`` standardised training rows of one site.
    labels
        ``(n,)`` 0/1 labels of those rows.
    """
    values = np.asarray(values)
    labels = np.asarray(labels, dtype=np.int64)
    counts = np.zeros((values.shape[1], 2, _CELLS), dtype=np.int64)
    for feature in range(values.shape[1]):
        cells = _cell_of(values[:, feature])
        for label in (0, 1):
            counts[feature, label] = np.bincount(cells[labels == label], minlength=_CELLS)
    return counts


def fit_bin_edges(histograms: np.ndarray, max_bins: int, min_rows: int) -> list[list[float]]:
    """Server side: per feature, the bin edges of a tree that splits the summed histograms.

    Each feature gets at most ``max_bins`` bins (leaves of a best-first tree on that feature
    alone), none holding fewer than ``min_rows`` training rows. The edges run from the lowest
    to the highest occupied cell; a feature the tree does not split gets no bins (``[]``): its
    raw column already says all a single ramp would.
    """
    if max_bins < 2:
        raise ValueError(f"max_bins must be at least 2, got {max_bins}")
    centres = -GRID_LIMIT + GRID_STEP * (np.arange(_CELLS) + 0.5)
    edges: list[list[float]] = []
    for counts in np.asarray(histograms, dtype=np.float64):
        occupied = np.flatnonzero(counts.sum(axis=0) > 0)
        if occupied.size < 2:
            edges.append([])
            continue
        thresholds = _tree_thresholds(centres[occupied], counts[:, occupied], max_bins, min_rows)
        low = centres[occupied[0]] - GRID_STEP / 2
        high = centres[occupied[-1]] + GRID_STEP / 2
        edges.append([_clean(low), *thresholds, _clean(high)] if thresholds else [])
    return edges


def _tree_thresholds(
    centres: np.ndarray, counts: np.ndarray, max_bins: int, min_rows: int
) -> list[float]:
    """Split points of a class-weighted tree on the occupied cells (sorted, rounded to the
    grid's cell boundary so pooled and summed histograms agree to the last bit)."""
    x = np.concatenate([centres, centres])[:, None]
    y = np.repeat([0, 1], centres.size)
    weight = np.concatenate([counts[0], counts[1]])
    keep = weight > 0
    total = float(weight.sum())
    if 2 * min_rows > total:  # no split leaves min_rows on both sides
        return []
    # Imported here: scikit-learn takes ~0.6 s to import, which every CLI call and every
    # Flower ClientApp process would pay while only the server fitting bins needs it.
    from sklearn.tree import DecisionTreeClassifier

    tree = DecisionTreeClassifier(
        max_leaf_nodes=max_bins, min_weight_fraction_leaf=min_rows / total,
        random_state=0,
    ).fit(x[keep], y[keep], sample_weight=weight[keep])
    split = tree.tree_.threshold[tree.tree_.feature >= 0]
    boundaries = np.round((split + GRID_LIMIT) / GRID_STEP) * GRID_STEP - GRID_LIMIT
    return sorted(_clean(b) for b in np.unique(boundaries))


def _clean(edge: float) -> float:
    """A grid boundary without the float noise of its arithmetic (-1.37, not -1.3699...)."""
    return round(float(edge), 9)


def encoded_width(edges: list[list[float]]) -> int:
    """How many columns :func:`encode_bins` adds: one per bin of every split feature."""
    return sum(max(len(feature_edges) - 1, 0) for feature_edges in edges)


def encode_bins(values: np.ndarray, edges: list[list[float]]) -> np.ndarray:
    """The raw standardised columns followed by each feature's bin ramps, as float32.

    A ramp is 0 below its bin, rises linearly across it and stays 1 above it, so a row's
    ramps read as "how far along the feature's bins" it lies; ``values`` may be ``(n, F)``
    rows or ``(..., F)`` windows.
    """
    values = np.asarray(values, dtype=np.float32)
    columns = [values]
    for feature, feature_edges in enumerate(edges):
        if len(feature_edges) < 2:
            continue
        bounds = np.asarray(feature_edges, dtype=np.float32)
        low, high = bounds[:-1], bounds[1:]
        ramp = (values[..., feature, None] - low) / (high - low)
        columns.append(np.clip(ramp, 0.0, 1.0))
    return np.concatenate(columns, axis=-1)  # float32 throughout
