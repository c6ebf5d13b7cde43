"""Sparse lexical features shared by the intent model and the FAQ retriever.

Four TF-IDF blocks, each L2-normalized and then weighted (the char blocks with their own idf switch):

* words: jieba words (Chinese) or regex words with a light English stemmer, as 1..n-grams;
* Han chars: character 1-2-grams of Chinese runs. Chinese characters are morphemes, so these act
  like words (and make the model robust to segmentation errors);
* other chars: word-bounded character 2-5-grams of everything else, sub-word features;
* pairs: unordered pairs of (stemmed) Latin words in the same text, a cheap stand-in for a
  degree-2 polynomial kernel that helps on English intents ("card" + "arrive");
* pinyin (off unless ``pinyin_weight > 0``): toneless pinyin syllable 1-2-grams of Chinese runs
  (pypinyin), so a homophone typo (密马 for 密码, 信用咔 for 信用卡) still shares features.

A text without Han characters has an empty Han block, so English features do not depend on the
Han settings.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Any, Final

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfTransformer

from kefu.bot.nlu.text import HAN_RE

__all__ = ["FeatureConfig", "Featurizer", "analyze", "stem", "tokenize"]

_jieba: Any = None
_jieba_lock = threading.Lock()

_LATIN_TOKEN_RE: Final = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")
_LATIN_WORD_RE: Final = re.compile(r"^[a-z0-9]+(?:'[a-z]+)?$")
_HAN_RUN_RE: Final = re.compile(f"({HAN_RE.pattern}+)")


def _get_jieba() -> Any:
    """Import and initialise jieba once, without its banner on stderr."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba


def stem(word: str) -> str:
    """Very light English suffix stripper (no dictionary): cards→card, arrived→arriv, doesn't→not."""
    if len(word) <= 3 or not word.isascii():
        return word
    if word.endswith("n't"):
        return "not"
    if word.endswith(("ies", "ied")) and len(word) > 4:
        return word[:-3] + "y"
    for suffix in ("ingly", "edly", "ing", "ed", "es", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]  # stopped → stopp → stop
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def tokenize(text: str, *, hmm: bool = True) -> list[str]:
    """Word tokens of a normalized text: jieba for Chinese, regex otherwise; Latin words are stemmed.

    ``hmm=False`` skips jieba's HMM guess at words missing from its dictionary (about a third of its time).
    """
    if HAN_RE.search(text):
        return list(_han_tokens(text, hmm))
    return [stem(t) for t in _LATIN_TOKEN_RE.findall(text)]


@lru_cache(maxsize=65536)
def _han_tokens(text: str, hmm: bool) -> tuple[str, ...]:
    """jieba words of a Chinese text, cached: a KB refit after one FAQ changed re-segments only the new texts (jieba
    is half of the feature time), and repeated customer questions are segmented once."""
    raw = [t.strip() for t in _get_jieba().lcut(text, HMM=hmm)]
    return tuple(stem(t) if _LATIN_WORD_RE.match(t) else t for t in raw if t)


def _char_ngrams(text: str, han_range: tuple[int, int], other_range: tuple[int, int]) -> tuple[list[str], list[str]]:
    """(Han, other-script) character n-grams of each whitespace token, each part padded with spaces."""
    han: list[str] = []
    other: list[str] = []
    for token in text.split():
        # Split mixed tokens (打开qq浏览器) so each script gets its own n-gram range and block.
        for part in _HAN_RUN_RE.split(token):
            if not part:
                continue
            is_han = HAN_RE.match(part) is not None
            lo, hi = han_range if is_han else other_range
            out = han if is_han else other
            padded = f" {part} "
            for n in range(lo, hi + 1):
                out.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return han, other


def _word_ngrams(tokens: Sequence[str], n_max: int) -> list[str]:
    out = list(tokens)
    for n in range(2, n_max + 1):
        out.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return out


def _latin_pairs(tokens: Sequence[str]) -> list[str]:
    words = sorted({t for t in tokens if _LATIN_WORD_RE.match(t)})
    return [f"{a}|{b}" for i, a in enumerate(words) for b in words[i + 1 :]]


@dataclass(frozen=True)
class FeatureConfig:
    """Feature extraction settings; the defaults were tuned on Banking77 and SMP2017 dev splits.

    The Han char block (no idf, weight 2.25) was chosen on SMP2017 dev plus 10-fold train CV; see
    the NLU section of docs/DEVELOPING.md.

    Every block has a weight (``<= 0`` drops it); ``*_idf`` switches inverse document frequency
    off (all-ones idf, i.e. sublinear tf only, still L2-normalized per block). ``char_weight`` and
    ``char_idf`` are the other-script (non-Han) character block. With ``split_han_chars=False``
    Han n-grams share that block, as in feature version 1 (the Han settings are then unused).
    """

    word_ngrams: int = 2
    han_char_range: tuple[int, int] = (1, 2)
    other_char_range: tuple[int, int] = (2, 5)
    use_pairs: bool = True
    pair_min_df: int = 2
    word_weight: float = 1.0
    split_han_chars: bool = True
    han_char_weight: float = 2.25
    han_char_idf: bool = False
    char_weight: float = 1.0
    char_idf: bool = True
    pair_weight: float = 1.0
    pinyin_weight: float = 0.0
    jieba_hmm: bool = True


Analyzed = tuple[list[str], list[str], list[str], list[str], list[str]]
"""Grams of one text per block: word n-grams, Han char n-grams, other char n-grams, word pairs, pinyin."""


def analyze(text: str, config: FeatureConfig = FeatureConfig()) -> Analyzed:
    """(word n-grams, Han char n-grams, other char n-grams, word pairs, pinyin) of an already normalized text."""
    # Without a word block or word pairs the words are not needed: skip jieba (most of the featurisation time).
    tokens = tokenize(text, hmm=config.jieba_hmm) if config.word_weight > 0 or config.use_pairs else []
    words = _word_ngrams(tokens, config.word_ngrams)
    han, other = _char_ngrams(text, config.han_char_range, config.other_char_range)
    if not config.split_han_chars:
        han, other = [], han + other
    pairs = _latin_pairs(tokens) if config.use_pairs else []
    pinyin = _pinyin_grams(text) if config.pinyin_weight > 0 else []
    return words, han, other, pairs, pinyin


def _pinyin_grams(text: str) -> list[str]:
    """Toneless pinyin syllable unigrams and bigrams of each Chinese run (homophone typos fold together)."""
    out: list[str] = []
    for run in _HAN_RUN_RE.findall(text):
        syllables = [_syllable(ch) for ch in run]
        out.extend(syllables)
        out.extend(f"{a}_{b}" for a, b in pairwise(syllables))
    return out


@lru_cache(maxsize=65536)
def _syllable(ch: str) -> str:
    """The most common reading of one character, without tone (per character: phrase-level readings are not needed
    for matching, and a per-character cache is ~50x faster than converting whole texts)."""
    from pypinyin import Style, pinyin

    reading = pinyin(ch, style=Style.NORMAL, heteronym=False, errors="default")
    return str(reading[0][0]) if reading and reading[0] else ch


def _identity(doc: list[str]) -> list[str]:
    return doc


def _count_grams(docs: Sequence[list[str]], min_df: int) -> tuple[dict[str, int], sp.csr_matrix]:
    """Sorted vocabulary and count matrix (float32) of gram lists, as scikit-learn's ``CountVectorizer`` builds them.

    Same vocabulary order (sorted terms), same ``min_df`` pruning, same canonical matrix; one pass over the grams
    with a dict and the rest in numpy, several times faster than the vectorizer's per-document Python loop.
    """
    ids: dict[str, int] = {}
    setdefault = ids.setdefault
    flat = np.fromiter((setdefault(g, len(ids)) for doc in docs for g in doc), dtype=np.int64)
    lengths = np.fromiter((len(doc) for doc in docs), dtype=np.int64, count=len(docs))
    return _count_ids(ids, flat, lengths, min_df)


def _count_ids(
    ids: dict[str, int], flat: NDArray[np.int64], lengths: NDArray[np.int64], min_df: int
) -> tuple[dict[str, int], sp.csr_matrix]:
    """:func:`_count_grams` from grams already numbered in first-seen order (``flat``, ``lengths`` per document)."""
    n_docs = len(lengths)
    if not ids:
        raise ValueError("empty vocabulary")
    terms = list(ids)
    order = sorted(range(len(terms)), key=terms.__getitem__)
    rank = np.empty(len(terms), dtype=np.int64)
    rank[order] = np.arange(len(terms))
    rows = np.repeat(np.arange(n_docs), lengths)
    counts = sp.csr_matrix(
        (np.ones(len(flat), dtype=np.float32), (rows, flat)),
        shape=(n_docs, len(terms)),
        dtype=np.float32,
    )
    counts.sum_duplicates()
    counts.sort_indices()
    # Then renumber the columns in sorted-term order without re-sorting each row, as the vectorizer does: the
    # entries keep the vectorizer's order within a row, so every later sum runs in the same order.
    counts.indices = rank[counts.indices].astype(counts.indices.dtype)
    counts.has_sorted_indices = False
    vocab = {terms[j]: k for k, j in enumerate(order)}
    if min_df > 1:
        df = np.bincount(counts.indices, minlength=len(terms))
        keep = df >= min_df
        if not keep.any():
            raise ValueError("no terms remain after pruning")
        if not keep.all():
            new = np.cumsum(keep) - 1
            vocab = {t: int(new[j]) for t, j in vocab.items() if keep[j]}
            counts = counts[:, np.flatnonzero(keep)]
    return vocab, counts


@dataclass
class _Block:
    """A fitted TF-IDF block: vocabulary, IDF weights (all ones with idf off), block weight and column offset."""

    vocabulary: dict[str, int]
    idf: NDArray[np.float32]
    weight: float
    offset: int


class Featurizer:
    """Fits the four TF-IDF blocks on normalized texts and maps texts to one sparse row each.

    Fitting uses scikit-learn's ``TfidfVectorizer`` (sublinear tf, smoothed idf or none, L2 norm);
    transforming re-implements the same arithmetic directly on the vocabularies, which is several
    times faster than a vectorizer call per block for the single short messages the bot classifies.
    """

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()
        self._blocks: list[_Block | None] = []
        self.n_features = 0

    def _specs(self) -> list[tuple[float, bool, int]]:
        """(weight, use idf, min_df) per block, in the order of :func:`analyze`'s lists."""
        cfg = self.config
        return [
            (cfg.word_weight, True, 1),
            (cfg.han_char_weight if cfg.split_han_chars else 0.0, cfg.han_char_idf, 1),
            (cfg.char_weight, cfg.char_idf, 1),
            (cfg.pair_weight if cfg.use_pairs else 0.0, True, cfg.pair_min_df),
            (cfg.pinyin_weight, False, 1),
        ]

    def fit_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Learn vocabularies and IDF from normalized texts; return their feature rows."""
        specs = self._specs()
        # Grams are numbered as each text is analysed (first-seen order per block, as ``_count_grams`` numbers
        # them), so only one text's gram strings exist at a time: holding every text's grams at once was ~250 MB
        # of small strings at 25,000 phrasings, and the memory stayed with the process after the fit.
        used = [i for i, (weight, _, _) in enumerate(specs) if weight > 0]
        ids: list[dict[str, int]] = [{} for _ in specs]
        numbered: dict[str, list[NDArray[np.int64]]] = {}  # locale copies of one FAQ normalise to the same text
        per_text: list[list[NDArray[np.int64]]] = []
        for t in texts:
            grams = numbered.get(t)
            if grams is None:
                analyzed = analyze(t, self.config)
                grams = []
                for i in used:
                    block_ids, setdefault = ids[i], ids[i].setdefault
                    grams.append(np.fromiter((setdefault(g, len(block_ids)) for g in analyzed[i]), dtype=np.int64))
                numbered[t] = grams  # a repeated text numbers no new gram: its ids are reused
            per_text.append(grams)
        del numbered
        self._blocks = []
        offset = 0
        parts: list[sp.csr_matrix] = []
        for i, (weight, use_idf, min_df) in enumerate(specs):
            if weight <= 0:
                self._blocks.append(None)
                continue
            k = used.index(i)
            lengths = np.fromiter((len(g[k]) for g in per_text), dtype=np.int64, count=len(per_text))
            flat = np.concatenate([g[k] for g in per_text]) if per_text else np.empty(0, dtype=np.int64)
            try:
                vocab, counts = _count_ids(ids[i], flat, lengths, min(min_df, max(1, len(texts))))
            except ValueError:  # empty vocabulary, e.g. no Han text, or no English word pair occurs twice
                self._blocks.append(None)
                continue
            # scikit-learn's transformer does the arithmetic (sublinear tf x idf, L2 per block) on the same count
            # matrix its vectorizer would build, so values are identical to ``TfidfVectorizer``'s.
            tfidf = TfidfTransformer(sublinear_tf=True, use_idf=use_idf)
            block_rows = tfidf.fit_transform(counts)
            idf = tfidf.idf_.astype(np.float32) if use_idf else np.ones(len(vocab), dtype=np.float32)
            self._blocks.append(_Block(vocab, idf, float(weight), offset))
            parts.append(sp.csr_matrix(block_rows, dtype=np.float32) * np.float32(weight))
            offset += len(vocab)
        if offset == 0:
            raise ValueError("no features could be extracted from the training texts")
        self.n_features = offset
        out = sp.hstack(parts, format="csr", dtype=np.float32)
        out.indices = out.indices.astype(np.int32, copy=False)
        return out

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Feature rows for normalized texts (unknown n-grams are ignored)."""
        return self._rows([analyze(t, self.config) for t in texts])

    def _rows(self, analyzed: Sequence[Analyzed]) -> sp.csr_matrix:
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        for grams in analyzed:
            for i, block in enumerate(self._blocks):
                if block is None:
                    continue
                counts: dict[int, int] = {}
                vocab = block.vocabulary
                for g in grams[i]:
                    j = vocab.get(g)
                    if j is not None:
                        counts[j] = counts.get(j, 0) + 1
                if not counts:
                    continue
                cols = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
                tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
                vals = (1.0 + np.log(tf)) * block.idf[cols]
                vals *= block.weight / float(np.sqrt(np.dot(vals, vals)))
                indices.extend((cols + block.offset).tolist())
                data.extend(vals.tolist())
            indptr.append(len(indices))
        return sp.csr_matrix(
            (
                np.asarray(data, dtype=np.float32),
                np.asarray(indices, dtype=np.int32),
                np.asarray(indptr, dtype=np.int64),
            ),
            shape=(len(analyzed), self.n_features),
        )
