"""Three ways to turn read activations into emotion directions, kept side by side.

- ``mean_diff``: the published baseline, an emotion's mean minus the mean over neutral coding text.
- ``anthropic``: an emotion's mean minus the mean across emotions, with the top principal components
  of neutral dialogues (enough for `pca_variance` of their variance) projected out.
- ``probe``: a one-against-the-rest logistic regression per emotion; its weight vector.

All three see only the training topics (the split is by topic, so held-out texts are about things the
directions never saw). Every direction is a unit vector in the raw residual space, signed so that its
emotion's texts project higher than the other emotions' texts. With ``normalisation: standardize``
each residual dimension is first divided by its standard deviation: a few massive dimensions (the
published "sign flip") then cannot dominate; the direction is mapped back (w / sigma) so that probing
and steering stay in the raw space.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

METHODS = ("mean_diff", "anthropic", "probe")


@dataclass(frozen=True)
class Split:
    """Topics per split; the layer is chosen on `val`, accuracy reported on `test`."""

    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]

    def of(self, topic: str | None) -> str | None:
        for name in ("train", "val", "test"):
            if topic in getattr(self, name):
                return name
        return None

    def to_dict(self) -> dict[str, list[str]]:
        return {"train": list(self.train), "val": list(self.val), "test": list(self.test)}


def split_topics(
    topics_by_domain: dict[str, Sequence[str]], val_per_domain: int, test_per_domain: int, seed: int
) -> Split:
    """Deal each domain's topics (coding, general) into test, val and train at random, seeded, so
    every split holds both domains."""
    rng = np.random.default_rng(seed)
    train, val, test = [], [], []
    for domain in sorted(topics_by_domain):
        topics = sorted(set(topics_by_domain[domain]))
        if len(topics) < val_per_domain + test_per_domain + 1:
            raise ValueError(
                f"domain {domain!r} has {len(topics)} topics; the split needs at least "
                f"{val_per_domain + test_per_domain + 1} "
                f"(val {val_per_domain}, test {test_per_domain}, train 1+)"
            )
        shuffled = [topics[i] for i in rng.permutation(len(topics))]
        test += shuffled[:test_per_domain]
        val += shuffled[test_per_domain : test_per_domain + val_per_domain]
        train += shuffled[test_per_domain + val_per_domain :]
    return Split(tuple(sorted(train)), tuple(sorted(val)), tuple(sorted(test)))


def unit(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    return matrix / np.where(norms == 0, 1, norms)


def neutral_pcs(dialogues: np.ndarray, variance: float) -> np.ndarray:
    """Orthonormal rows spanning the top principal components that explain `variance` of the
    neutral dialogues' (centered) activations."""
    centered = dialogues - dialogues.mean(0, keepdims=True)
    _, singular, vt = np.linalg.svd(centered, full_matrices=False)
    share = np.cumsum(singular**2) / max(float((singular**2).sum()), 1e-30)
    count = int(np.searchsorted(share, variance) + 1)
    return vt[: min(count, len(vt))]


def mean_diff(x: np.ndarray, labels: np.ndarray, emotions: Sequence[str], neutral: np.ndarray) -> np.ndarray:
    return np.stack([x[labels == e].mean(0) - neutral.mean(0) for e in emotions])


def anthropic(
    x: np.ndarray, labels: np.ndarray, emotions: Sequence[str], dialogues: np.ndarray, variance: float
) -> tuple[np.ndarray, int]:
    means = np.stack([x[labels == e].mean(0) for e in emotions])
    vectors = means - means.mean(0, keepdims=True)
    pcs = neutral_pcs(dialogues, variance)
    return vectors - (vectors @ pcs.T) @ pcs, len(pcs)


def probe(x: np.ndarray, labels: np.ndarray, emotions: Sequence[str], c: float, seed: int) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    mean, std = x.mean(0), x.std(0)
    std = np.where(std == 0, 1, std)
    model = OneVsRestClassifier(LogisticRegression(C=c, max_iter=2000, random_state=seed))
    model.fit((x - mean) / std, labels)
    order = [list(model.classes_).index(e) for e in emotions]
    # The probe reads standardized inputs: in the raw space its weight vector is w / std.
    return np.stack([model.estimators_[i].coef_[0] / std for i in order])


def fix_signs(vectors: np.ndarray, x: np.ndarray, labels: np.ndarray, emotions: Sequence[str]) -> np.ndarray:
    """Flip any direction along which its own emotion's texts project lower than the other emotions'."""
    out = vectors.copy()
    for row, emotion in enumerate(emotions):
        projections = x @ out[row]
        if projections[labels == emotion].mean() < projections[labels != emotion].mean():
            out[row] = -out[row]
    return out


def nearest(x: np.ndarray, center: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Cosine of each (centered) row of x with each direction: [n, n_emotions]."""
    return unit(x - center) @ unit(vectors).T


def top_energy(vectors: np.ndarray, k: int) -> np.ndarray:
    """Share of each direction's squared norm in its k largest dimensions."""
    squared = np.sort(vectors**2, axis=-1)[:, ::-1]
    return squared[:, :k].sum(-1) / np.maximum(squared.sum(-1), 1e-30)


def outlier_dims(reference: np.ndarray, factor: float = 10.0) -> list[int]:
    """Dimensions whose mean |activation| is `factor` x the median dimension's: the massive ones."""
    magnitude = np.abs(reference).mean(0)
    return [int(i) for i in np.flatnonzero(magnitude > factor * np.median(magnitude))]


def directions_at_layer(
    method: str,
    x: np.ndarray,
    labels: np.ndarray,
    emotions: Sequence[str],
    neutral: np.ndarray,
    dialogues: np.ndarray,
    *,
    standardize: bool,
    pca_variance: float,
    probe_c: float,
    seed: int,
) -> tuple[np.ndarray, dict]:
    """Unit directions [n_emotions, d] for one layer, from training rows `x` with emotion `labels`."""
    if standardize:
        reference = np.concatenate([x, neutral])
        mu, sigma = reference.mean(0), reference.std(0)
        sigma = np.where(sigma == 0, 1, sigma)
        x, neutral, dialogues = (x - mu) / sigma, (neutral - mu) / sigma, (dialogues - mu) / sigma
    info: dict = {}
    if method == "mean_diff":
        vectors = mean_diff(x, labels, emotions, neutral)
    elif method == "anthropic":
        vectors, info["neutral_pcs"] = anthropic(x, labels, emotions, dialogues, pca_variance)
    elif method == "probe":
        vectors = probe(x, labels, emotions, probe_c, seed)
    else:
        raise ValueError(f"unknown method {method!r}; one of {METHODS}")
    if standardize:
        vectors = vectors / sigma  # back to the raw residual space
        x = x * sigma + mu
    return fix_signs(unit(vectors), x, labels, emotions), info
