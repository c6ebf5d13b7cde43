"""Optional dense sentence encoders.

The default NLU backend is purely lexical and needs none of this. An :class:`Encoder` can be passed
to :class:`~kefu.bot.nlu.model.IntentModel` or :class:`~kefu.bot.nlu.retriever.FaqRetriever` to add
dense sentence embeddings next to the sparse features. Nothing here downloads anything: a
sentence-transformers model must already be on disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

__all__ = ["Encoder", "SentenceTransformerEncoder", "l2_normalize"]


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
