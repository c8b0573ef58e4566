"""Intent classifier: TF-IDF + sentence-embedding features, LinearSVC, temperature-calibrated, in a cascade.

Stage 0 is a TF-IDF head (~10k texts/s). Each further stage adds the embedding of one sentence encoder to the
TF-IDF features, cheapest encoder first (e.g. MiniLM at ~1 ms a text, then MPNet at ~10 ms). A stage answers
when its calibrated confidence clears its threshold; only the rest go on to the next, dearer one. The
thresholds are picked on held-out predictions so the cascade loses (almost) no accuracy against the last
stage, which is what lets a strong encoder cost little on average.

A model may also carry a multilingual head: a multilingual encoder's embedding alone (no TF-IDF, whose
n-grams are those of the training language). Tickets detected in another language than English go there
instead of the cascade, so a model trained on English tickets still reads German or Chinese ones.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from app.triage.calibration import fit_temperature, softmax
from app.triage.embeddings import DEFAULT_ENCODER
from app.triage.features import TfidfFeatures, read_manifest

EmbedFn = Callable[[Sequence[str]], np.ndarray]
# One embed function per encoder name; a bare function serves a single-encoder model.
Embed = EmbedFn | Mapping[str, EmbedFn]
Progress = Callable[[str, float], None]

FORMAT = "triage-intent/2"
ENGLISH = "en"  # the language of the cascade's TF-IDF and encoders
_WORDS = re.compile(r"(?u)\b\w\w+\b")
READS = ("triage-intent/1", FORMAT)


@dataclass
class Head:
    """One linear classifier over some feature block, with its calibration temperature."""

    coef: np.ndarray
    intercept: np.ndarray
    temperature: float = 1.0

    def __post_init__(self) -> None:
        # Sparse @ dense wants a C-contiguous right side: with `coef.T` scipy copied the whole matrix on
        # every call (~0.05 ms a ticket per head).
        self._coef_t = np.ascontiguousarray(self.coef.T)
        self.coef = self._coef_t.T  # a view of the same array: one copy of the weights, not two

    def scores(self, x: sp.csr_matrix | np.ndarray) -> np.ndarray:
        return np.asarray(x @ self._coef_t, dtype=np.float32) + self.intercept

    def proba(self, x: sp.csr_matrix | np.ndarray) -> np.ndarray:
        return softmax(self.scores(x), self.temperature)


@dataclass
class IntentPrediction:
    labels: list[str]
    confidence: np.ndarray
    proba: np.ndarray
    stage: np.ndarray  # per text: 0 = TF-IDF head, k = the head of encoders[k-1], len(encoders)+1 = multilingual

    @property
    def used_embeddings(self) -> np.ndarray:
        return self.stage > 0


def _embed_for(embed: Embed, name: str) -> EmbedFn:
    if callable(embed):
        return embed
    return embed[name]


@dataclass
class IntentModel:
    classes: list[str]
    features: TfidfFeatures
    heads: list[Head]  # heads[0]: TF-IDF only; heads[k]: TF-IDF + embedding of encoders[k-1]
    encoders: list[str]
    thresholds: list[float]  # thresholds[k]: stage k answers when its confidence is at least this
    embedding_weight: float = 2.0
    meta: dict = field(default_factory=dict)
    multilingual: Head | None = None  # over the embedding of `multilingual_encoder` alone
    multilingual_encoder: str = ""

    @property
    def stage_names(self) -> list[str]:
        return ["tfidf", *self.encoders, "multilingual"]

    def known_word_share(self, text: str) -> float:
        """Share of the text's words the TF-IDF vocabulary knows: a text mostly in the training vocabulary is
        one the English cascade can read, whatever a language detector makes of a short query."""
        words = _WORDS.findall(text.lower())
        vocabulary = self.features.vectorizers["word"].vocabulary_
        return sum(w in vocabulary for w in words) / len(words) if words else 0.0

    @property
    def fast(self) -> Head:
        return self.heads[0]

    @property
    def full(self) -> Head:
        return self.heads[-1]

    @property
    def encoder(self) -> str:
        """The strongest encoder, used by the last stage."""
        return self.encoders[-1]

    @property
    def cascade_threshold(self) -> float:
        return self.thresholds[0]

    # ---------------------------------------------------------------- prediction
    def predict(
        self,
        texts: Sequence[str],
        embed: Embed | None,
        cascade: bool = True,
        languages: Sequence[str] | None = None,
    ) -> IntentPrediction:
        """`cascade=False` runs the last stage on every text (the model's full accuracy, for comparison).
        `languages` (ISO codes, one per text) sends the non-English texts to the multilingual head."""
        x = self.features.transform(texts)
        proba = self.heads[0].proba(x)
        stage = np.zeros(len(texts), dtype=np.int8)
        pending = np.arange(len(texts))
        if self.multilingual is not None and languages is not None and embed is not None:
            foreign = np.array(
                [lang != ENGLISH and self.known_word_share(text) < 0.5 for text, lang in zip(texts, languages, strict=True)],
                dtype=bool,
            )
            if foreign.any():
                idx = np.flatnonzero(foreign)
                vectors = _embed_for(embed, self.multilingual_encoder)([texts[i] for i in idx])
                proba[idx] = self.multilingual.proba(vectors)
                stage[idx] = len(self.heads)
                pending = np.flatnonzero(~foreign)
        stages = range(1, len(self.heads)) if cascade else [len(self.heads) - 1]
        for k in stages:
            if cascade:
                pending = pending[proba[pending].max(axis=1) < self.thresholds[k - 1]]
            if embed is None or not len(pending):
                break
            vectors = _embed_for(embed, self.encoders[k - 1])([texts[i] for i in pending])
            proba[pending] = self.heads[k].proba(_stack(x[pending], vectors, self.embedding_weight))
            stage[pending] = k
        top = proba.argmax(axis=1)
        return IntentPrediction(
            labels=[self.classes[i] for i in top],
            confidence=proba[np.arange(len(texts)), top],
            proba=proba,
            stage=stage,
        )

    # ---------------------------------------------------------------- training
    @classmethod
    def train(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        embed: Embed,
        *,
        c: float = 0.5,
        embedding_weight: float = 2.0,
        min_df: int = 1,
        calibration_folds: int = 3,
        max_cascade_loss: float = 0.001,
        progress: Progress | None = None,
        encoders: Sequence[str] = (DEFAULT_ENCODER,),
        multilingual_encoder: str = "",
    ) -> IntentModel:
        """`embed` gives each encoder named in `encoders` (cheapest first), and `multilingual_encoder` when
        set; the names are saved with the model so the worker embeds with the same ones."""
        step = progress or (lambda _msg, _frac: None)
        started = time.perf_counter()
        encoders = list(encoders)
        if callable(embed) and len(encoders) + bool(multilingual_encoder) != 1:
            raise ValueError("a model with several encoders needs one embed function per encoder")
        classes = sorted(set(labels))
        y = np.array([classes.index(label) for label in labels])
        step("tf-idf features", 0.02)
        features = TfidfFeatures(min_df=min_df).fit(texts)
        x_text = features.transform(texts)
        blocks = [x_text]
        for k, name in enumerate(encoders):
            step(f"{name} embeddings", 0.05 + 0.3 * k / len(encoders))
            blocks.append(_stack(x_text, _embed_for(embed, name)(texts), embedding_weight))
        cascade_blocks = len(blocks)
        if multilingual_encoder:
            step(f"{multilingual_encoder} embeddings", 0.35)
            blocks.append(_embed_for(embed, multilingual_encoder)(texts))

        # Held-out scores for calibration and for choosing the cascade thresholds, and the final heads: all
        # independent fits, run on every core (liblinear releases the GIL, so threads are enough).
        held_out = [np.zeros((len(y), len(classes)), dtype=np.float32) for _ in blocks]
        folds = min(calibration_folds, int(np.bincount(y).min())) if len(classes) > 1 else 0
        splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=0).split(np.zeros(len(y)), y)) if folds >= 2 else []
        jobs = [(b, tr, te) for tr, te in splits for b in range(len(blocks))]
        jobs += [(b, np.arange(len(y)), None) for b in range(len(blocks))]
        step(f"fitting {len(jobs)} heads", 0.4)
        fitted = Parallel(n_jobs=-1, prefer="threads")(
            delayed(_fit_head)(blocks[b][tr], y[tr], c, len(classes)) for b, tr, _te in jobs
        )
        heads = []
        for (b, _tr, te), head in zip(jobs, fitted, strict=True):
            if te is None:
                heads.append(head)
            else:
                held_out[b][te] = head.scores(blocks[b][te])
        if splits:
            temperatures = [fit_temperature(scores, y) for scores in held_out]
            probas = [softmax(scores, t) for scores, t in zip(held_out, temperatures, strict=True)]
            thresholds, cascade_correct = _cascade_thresholds(probas[:cascade_blocks], y, max_cascade_loss)
            cv = {
                "cv_accuracy": round(float((probas[cascade_blocks - 1].argmax(axis=1) == y).mean()), 4),
                "cv_accuracy_cascade": round(float(cascade_correct.mean()), 4),
            }
        else:
            temperatures = [5.0] * len(blocks)
            thresholds = [1.01] * len(encoders)
            cv = {}
        for head, t in zip(heads, temperatures, strict=True):
            head.temperature = t
        multilingual = heads.pop() if multilingual_encoder else None
        if multilingual is not None and splits:
            cv["cv_accuracy_multilingual"] = round(float((probas[-1].argmax(axis=1) == y).mean()), 4)
        step("done", 1.0)
        meta = {
            "format": FORMAT,
            "train_rows": len(y),
            "train_seconds": round(time.perf_counter() - started, 2),
            "c": c,
            "features": features.size,
            **cv,
        }
        return cls(
            classes, features, heads, encoders, thresholds, embedding_weight, meta, multilingual, multilingual_encoder
        )

    # ---------------------------------------------------------------- persistence
    def save(self, directory: str | Path) -> None:
        """manifest JSON + vocabulary JSON + weights npz (float16: the weights lose nothing that matters)."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        idfs = self.features.save_vocabulary(out, "intent")
        arrays = {}
        for k, head in enumerate(self.heads):
            arrays[f"head{k}_coef"] = head.coef.astype(np.float16)
            arrays[f"head{k}_intercept"] = head.intercept.astype(np.float32)
        if self.multilingual is not None:
            arrays["multilingual_coef"] = self.multilingual.coef.astype(np.float16)
            arrays["multilingual_intercept"] = self.multilingual.intercept.astype(np.float32)
        np.savez_compressed(out / "intent_weights.npz", **arrays, **idfs)
        manifest = {
            **self.meta,
            "format": FORMAT,
            "encoders": self.encoders,
            "classes": self.classes,
            "embedding_weight": self.embedding_weight,
            "thresholds": self.thresholds,
            "temperatures": [head.temperature for head in self.heads],
            "multilingual_encoder": self.multilingual_encoder,
            "multilingual_temperature": self.multilingual.temperature if self.multilingual else None,
        }
        (out / "intent.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> IntentModel:
        src = Path(directory)
        manifest = json.loads((src / "intent.json").read_text(encoding="utf-8"))
        if manifest.get("format") not in READS:
            read_manifest(src, "intent", FORMAT)  # raises with the directory and the unknown format
        with np.load(src / "intent_weights.npz") as w:
            features = TfidfFeatures.load_vocabulary(src, "intent", w)
            if manifest["format"] == "triage-intent/1":  # two heads: fast (TF-IDF) and full (+ one encoder)
                heads = [
                    Head(w["fast_coef"].astype(np.float32), w["fast_intercept"], manifest["fast_temperature"]),
                    Head(w["full_coef"].astype(np.float32), w["full_intercept"], manifest["full_temperature"]),
                ]
                encoders = [manifest.get("encoder", DEFAULT_ENCODER)]
                thresholds = [float(manifest["cascade_threshold"])]
            else:
                heads = [
                    Head(w[f"head{k}_coef"].astype(np.float32), w[f"head{k}_intercept"], t)
                    for k, t in enumerate(manifest["temperatures"])
                ]
                encoders, thresholds = list(manifest["encoders"]), [float(t) for t in manifest["thresholds"]]
            multilingual = None
            if manifest.get("multilingual_encoder"):
                multilingual = Head(
                    w["multilingual_coef"].astype(np.float32),
                    w["multilingual_intercept"],
                    manifest["multilingual_temperature"],
                )
        return cls(
            manifest["classes"],
            features,
            heads,
            encoders,
            thresholds,
            float(manifest["embedding_weight"]),
            manifest,
            multilingual,
            manifest.get("multilingual_encoder") or "",
        )


def _stack(x_text: sp.csr_matrix, vectors: np.ndarray, weight: float) -> sp.csr_matrix:
    return sp.hstack([x_text, sp.csr_matrix(vectors * weight)], format="csr")


def _fit_head(x: sp.csr_matrix, y: np.ndarray, c: float, n_classes: int) -> Head:
    svm = LinearSVC(C=c, dual="auto", max_iter=5000).fit(x, y)
    coef, intercept = svm.coef_, svm.intercept_
    if n_classes == 2:  # sklearn collapses binary problems to one row; keep one row per class
        coef = np.vstack([-coef[0], coef[0]]) / 2
        intercept = np.array([-intercept[0], intercept[0]]) / 2
    full_coef = np.zeros((n_classes, x.shape[1]), dtype=np.float32)
    full_intercept = np.full(n_classes, -10.0, dtype=np.float32)
    present = svm.classes_
    full_coef[present] = coef
    full_intercept[present] = intercept
    return Head(full_coef, full_intercept)


def _cascade_thresholds(probas: list[np.ndarray], y: np.ndarray, max_loss: float) -> tuple[list[float], np.ndarray]:
    """One threshold per stage but the last, chosen from the last stage backwards: each stage keeps its
    answer above the lowest threshold that stays within its share of `max_loss` of what the stages after
    it achieve. Returns the thresholds and, per row, whether the whole cascade is right."""
    correct = probas[-1].argmax(axis=1) == y
    thresholds = [1.01] * (len(probas) - 1)
    share = max_loss / max(1, len(probas) - 1)
    for k in reversed(range(len(probas) - 1)):
        thresholds[k] = _cascade_threshold(probas[k], correct, y, share)
        keep = probas[k].max(axis=1) >= thresholds[k]
        correct = np.where(keep, probas[k].argmax(axis=1) == y, correct)
    return thresholds, correct


def _cascade_threshold(early: np.ndarray, later_correct: np.ndarray, y: np.ndarray, max_loss: float) -> float:
    """Lowest confidence of an early stage above which its answer is kept, within `max_loss` accuracy."""
    early_correct = early.argmax(axis=1) == y
    confidence = early.max(axis=1)
    # Below one row the difference is not measurable: small training sets would never stop early.
    target = later_correct.mean() - max(max_loss, 1.0 / len(y))
    # Never below 0.9: on real tickets (out of the training distribution) an early answer needs a clear margin.
    for threshold in np.arange(0.9, 1.0, 0.005):
        keep = confidence >= threshold
        accuracy = np.where(keep, early_correct, later_correct).mean()
        if accuracy >= target:
            return float(round(threshold, 3))
    return 1.01
