"""Texts train in batches of similar length: less padding, the same examples, the same draws per (seed, epoch)."""
from __future__ import annotations

import numpy as np
import pytest

from transferkit.core import seeding


def _padded(order: list[int], lengths: np.ndarray, batch_size: int) -> int:
    return sum(int(lengths[order[k:k + batch_size]].max()) * len(order[k:k + batch_size])
               for k in range(0, len(order), batch_size))


def _batches(sampler: seeding.EpochSampler, batch_size: int) -> list[list[int]]:
    order = [i for _, i in sampler]
    return [order[k:k + batch_size] for k in range(0, len(order), batch_size)]


def test_grouped_order_is_a_permutation_with_less_padding_and_follows_seed_and_epoch():
    lengths = np.random.default_rng(0).integers(5, 120, size=250)
    plain = seeding.EpochSampler(250, seed=3, shuffle=True)
    grouped = seeding.EpochSampler(250, seed=3, shuffle=True, lengths=lengths, batch_size=16)
    order = [i for _, i in grouped]
    assert sorted(order) == list(range(250))
    assert order == [i for _, i in grouped]  # the same draw on a repeat (a resumed epoch)
    grouped.set_epoch(1)
    assert [i for _, i in grouped] != order  # a new one each epoch
    # Far less padding than the shuffled order it was drawn from.
    assert _padded(order, lengths, 16) < 0.75 * _padded([i for _, i in plain], lengths, 16)
    # The 250 % 16 = 10 texts of the short last batch are the random order's last ones, not the longest.
    assert order[-10:] == [i for _, i in plain][-10:]


def test_batches_are_not_ordered_by_length():
    # Sorting happens inside windows of the random order; the batches are then shuffled, so the epoch
    # does not run from short to long texts.
    lengths = np.arange(320)
    grouped = seeding.EpochSampler(320, seed=0, shuffle=True, lengths=lengths, batch_size=8)
    longest = [max(lengths[b]) for b in _batches(grouped, 8)]
    assert longest != sorted(longest) and longest != sorted(longest, reverse=True)


@pytest.mark.parametrize("n", [160, 170])
def test_each_rank_gets_batches_of_similar_length(monkeypatch, n):
    # Under DDP a rank's batch is every other entry of the order: the grouping works in chunks of
    # batch_size x world, so each rank's batches still hold texts of similar length.
    lengths = np.random.default_rng(1).integers(5, 200, size=n)

    def rank_batches(**grouping):
        out = []
        for rank in (0, 1):
            monkeypatch.setattr(seeding, "_shard", lambda rank=rank: (rank, 2))
            out += _batches(seeding.EpochSampler(n, seed=2, shuffle=True, **grouping), 4)
        return out

    grouped, plain = rank_batches(lengths=lengths, batch_size=4), rank_batches()
    assert {i for b in grouped for i in b} == set(range(n))
    spread = [np.median([np.ptp(lengths[b]) for b in batches if len(b) == 4]) for batches in (grouped, plain)]
    assert spread[0] < 0.25 * spread[1]


def test_seeded_loader_groups_only_datasets_that_tell_lengths():
    class Texts(list):
        def lengths(self):
            return np.array([len(t) for t in self])

    texts = Texts(["a" * k for k in np.random.default_rng(0).integers(1, 50, size=64)])
    loader = seeding.seeded_loader(texts, seed=0, batch_size=8, shuffle=True)
    assert loader.sampler.lengths is not None and loader.sampler.batch_size == 8
    assert seeding.seeded_loader(list(texts), seed=0, batch_size=8, shuffle=True).sampler.lengths is None
    assert seeding.seeded_loader(texts, seed=0, batch_size=8, shuffle=False).sampler.lengths is None
