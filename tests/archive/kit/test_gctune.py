import gc

import pytest

from archive.kit.gctune import batch_threshold, young_threshold


def test_raises_the_young_threshold_and_restores_all_three() -> None:
    before = gc.get_threshold()
    with young_threshold(before[0] + 12345):
        assert gc.get_threshold() == (before[0] + 12345, *before[1:])
    assert gc.get_threshold() == before


def test_never_lowers_it() -> None:
    before = gc.get_threshold()
    with young_threshold(1):
        assert gc.get_threshold() == before


def test_restores_after_an_error() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), young_threshold(before[0] * 10):
        raise RuntimeError("boom")
    assert gc.get_threshold() == before


def test_collections_still_run_above_the_threshold() -> None:
    collected: list[int] = []

    def cb(phase: str, info: dict[str, int]) -> None:
        if phase == "stop":
            collected.append(info["generation"])

    gc.collect()  # the young count starts at zero
    gc.callbacks.append(cb)
    try:
        with young_threshold(5000):
            kept = [[] for _ in range(4000)]  # below the threshold: no collection
            assert collected == []
            kept += [[] for _ in range(2000)]  # past it
            assert collected, "a young collection runs once the threshold is passed"
    finally:
        gc.callbacks.remove(cb)
    assert len(kept) == 6000


def test_batch_threshold_scales_with_the_batch() -> None:
    assert batch_threshold(1000) == 20_000
    assert batch_threshold(2000) == 2 * batch_threshold(1000)
