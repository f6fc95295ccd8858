"""ocr.tones gives numpy's percentiles from a histogram: the clean-up's thresholds must not move by a grey level."""

from __future__ import annotations

import numpy as np
import pytest

from ocr.tones import median, median_deviation, percentile


def _arrays() -> list[np.ndarray]:
    rng = np.random.default_rng(20261205)
    page = rng.integers(0, 256, (301, 517)).astype(np.uint8)
    residual = rng.integers(-255, 256, (64, 80)).astype(np.int16)
    return [
        page,
        page[::4, ::3],  # a strided view, as the clean-up samples pages
        page.ravel()[:999],  # one dimension
        np.full((7, 9), 200, np.uint8),  # one value only
        np.array([3], np.uint8),
        residual,
        residual[::2, ::5],
        np.array([-3, 5], np.int32),  # the median falls half-way between two values
    ]


@pytest.mark.parametrize("q", [0, 0.5, 10, 50, 90, 99.5, 100])
def test_percentile_is_numpys(q: float) -> None:
    for values in _arrays():
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), abs=1e-9)


def test_median_and_its_deviation_are_numpys() -> None:
    for values in _arrays():
        assert median(values) == pytest.approx(float(np.median(values)), abs=1e-9)
        expected = float(np.median(np.abs(values.astype(np.float64) - np.median(values))))
        assert median_deviation(values) == pytest.approx(expected, abs=1e-9)


def test_only_integers_and_something_to_count() -> None:
    with pytest.raises(TypeError):
        percentile(np.zeros((3, 3), np.float32), 50)
    with pytest.raises(ValueError):
        percentile(np.zeros((0,), np.uint8), 50)
