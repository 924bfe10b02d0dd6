"""`positions`: where each event's lead sits among the scored leads, by lookup table or by search."""

from __future__ import annotations

import numpy as np
import pytest

from smarketing.scoring.warehouse import DENSE, positions


@pytest.mark.parametrize(
    "ids",
    [
        np.array([3, 4, 5, 7, 8], dtype=np.int64),  # dense: a lookup table
        np.array([-(2**62), -5, 0, 9, 2**62], dtype=np.int64),  # sparse: searched
    ],
)
def test_positions_of_known_and_unknown_leads(ids: np.ndarray) -> None:
    wanted = np.array([ids[2], ids[0] - 1, ids[4], ids[4] + 1, ids[1], 6, ids[2]], dtype=np.int64)
    position, known = positions(ids, wanted)
    expected = [np.flatnonzero(ids == w)[0] if w in ids else None for w in wanted]
    assert known.tolist() == [e is not None for e in expected]
    assert position[known].tolist() == [e for e in expected if e is not None]
    assert (position >= 0).all() and (position < len(ids)).all()  # usable as an index even where unknown


def test_dense_and_sparse_paths_agree() -> None:
    rng = np.random.default_rng(7)
    dense = np.unique(rng.integers(1000, 1000 + 3 * 500, 500))
    sparse = np.unique(np.concatenate([dense, [10**15]]))  # spans far more than DENSE times its count
    assert dense[-1] - dense[0] < DENSE * len(dense) and sparse[-1] - sparse[0] >= DENSE * len(sparse)
    wanted = rng.integers(900, 2700, 10_000)
    a, known_a = positions(dense, wanted)
    b, known_b = positions(sparse, wanted)
    assert (known_a == known_b).all() and (a[known_a] == b[known_b]).all()
    assert (dense[a[known_a]] == wanted[known_a]).all()


def test_no_leads() -> None:
    position, known = positions(np.zeros(0, np.int64), np.array([1, 2], dtype=np.int64))
    assert not known.any() and position.tolist() == [0, 0]
