"""Sparse TF-IDF features (word 1-2 grams + char 2-5 grams) that can be saved as plain JSON + npz.

Storing the vocabulary and idf weights instead of a pickled vectorizer keeps committed models small,
reviewable and loadable across scikit-learn versions.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import partial
from operator import is_not
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

_PARAMS: dict[str, dict] = {
    "word": {"analyzer": "word", "ngram_range": (1, 2), "token_pattern": r"(?u)\b\w+\b"},
    "char": {"analyzer": "char_wb", "ngram_range": (2, 5)},
}


_known = partial(is_not, None)


def _vectorizer(kind: str, min_df: int, vocabulary: list[str] | None = None) -> TfidfVectorizer:
    return TfidfVectorizer(
        lowercase=True,
        sublinear_tf=True,
        min_df=min_df,
        dtype=np.float32,
        vocabulary=vocabulary,
        **_PARAMS[kind],
    )


class TfidfFeatures:
    """Word and char TF-IDF blocks, each L2-normalised, stacked side by side."""

    def __init__(self, min_df: int = 1) -> None:
        self.min_df = min_df
        self.vectorizers: dict[str, TfidfVectorizer] = {}
        self._lookups: list[tuple] = []  # (analyzer, vocabulary, idf, column offset) per block

    def fit(self, texts: Sequence[str]) -> TfidfFeatures:
        for kind in _PARAMS:
            self.vectorizers[kind] = _vectorizer(kind, self.min_df).fit(texts)
        self._lookups = []
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Same values as stacking each vectorizer's `transform`, built directly: sklearn's per-call
        overhead (~0.3 ms per vectorizer) was most of a ticket's triage time, the n-grams ~0.04 ms."""
        if not self._lookups:
            self._prepare()
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        for text in texts:
            for analyzer, vocabulary, idf, offset in self._lookups:
                # map/filter/Counter iterate in C: a ticket has ~1,000 n-grams to look up.
                counts = Counter(filter(_known, map(vocabulary.get, analyzer(text))))
                if not counts:
                    continue
                columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
                tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
                values = (1.0 + np.log(tf)) * idf[columns]
                values /= np.sqrt((values * values).sum())
                order = np.argsort(columns)
                indices.extend((columns[order] + offset).tolist())
                data.extend(values[order].tolist())
            indptr.append(len(indices))
        return sp.csr_matrix(
            (np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int32), np.asarray(indptr)),
            shape=(len(texts), self.size),
        )

    def _prepare(self) -> None:
        offset = 0
        for vectorizer in self.vectorizers.values():
            self._lookups.append(
                (vectorizer.build_analyzer(), vectorizer.vocabulary_, vectorizer.idf_, offset)
            )
            offset += len(vectorizer.vocabulary_)

    @property
    def size(self) -> int:
        return sum(len(v.vocabulary_) for v in self.vectorizers.values())

    def export(self) -> tuple[dict[str, list[str]], dict[str, np.ndarray]]:
        """(vocabularies in column order, idf arrays) for saving."""
        vocabularies, idfs = {}, {}
        for kind, vectorizer in self.vectorizers.items():
            terms = [""] * len(vectorizer.vocabulary_)
            for term, column in vectorizer.vocabulary_.items():
                terms[column] = term
            vocabularies[kind] = terms
            idfs[kind] = vectorizer.idf_.astype(np.float32)
        return vocabularies, idfs

    @classmethod
    def restore(cls, vocabularies: dict[str, list[str]], idfs: dict[str, np.ndarray]) -> TfidfFeatures:
        features = cls()
        for kind in _PARAMS:
            vectorizer = _vectorizer(kind, 1, vocabularies[kind])
            vectorizer._validate_vocabulary()
            vectorizer.idf_ = np.asarray(idfs[kind], dtype=np.float64)
            features.vectorizers[kind] = vectorizer
        return features

    def save_vocabulary(self, directory: Path, name: str) -> dict[str, np.ndarray]:
        """Write `<name>_vocabulary.json`; return the idf arrays for the model's npz (`idf_<kind>`)."""
        vocabularies, idfs = self.export()
        (directory / f"{name}_vocabulary.json").write_text(json.dumps(vocabularies, ensure_ascii=False))
        return {f"idf_{kind}": idf for kind, idf in idfs.items()}

    @classmethod
    def load_vocabulary(cls, directory: Path, name: str, weights: Mapping[str, np.ndarray]) -> TfidfFeatures:
        vocabularies = json.loads((directory / f"{name}_vocabulary.json").read_text(encoding="utf-8"))
        return cls.restore(vocabularies, {kind: weights[f"idf_{kind}"] for kind in vocabularies})


def read_manifest(directory: Path, name: str, expected_format: str) -> dict:
    """Read `<name>.json` and refuse a model file written in another format than this code reads."""
    manifest = json.loads((directory / f"{name}.json").read_text(encoding="utf-8"))
    if manifest.get("format") != expected_format:
        raise ValueError(f"{directory}: unknown {name} model format {manifest.get('format')!r}")
    return manifest
