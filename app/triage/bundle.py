"""The models one worker process loads once: intent, emotion, language detector, embedder, help center."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.triage.embeddings import Embedder, shared_embedder
from app.triage.emotion import EmotionModel
from app.triage.intent import IntentModel
from app.triage.knowledge import KnowledgeBase
from app.triage.language import LanguageDetector
from app.triage.static_embeddings import FILE_NAME as STATIC_FILE
from app.triage.static_embeddings import StaticEmbedder

DEFAULT_MODEL_DIR = Path(__file__).with_name("models") / "default"
DEFAULT_LANGUAGES = ("en", "es", "fr", "de", "pt", "it", "nl", "ja")


@dataclass
class Models:
    intent: IntentModel
    emotion: EmotionModel
    language: LanguageDetector
    embedder: Embedder  # the strongest encoder of the intent model
    static: StaticEmbedder
    knowledge: KnowledgeBase
    version: str
    meta: dict = field(default_factory=dict)
    embedders: dict[str, Embedder] = field(default_factory=dict)  # every encoder of the cascade, by name
    # Decides which tickets the intent model's multilingual head reads (None: the model has no such head).
    intent_language: LanguageDetector | None = None

    def embed_functions(self, max_tokens: int | None = None) -> dict[str, Callable[[Sequence[str]], np.ndarray]]:
        """What `IntentModel.predict` takes: one embed function per encoder of the intent cascade."""
        embedders = self.embedders or {self.intent.encoder: self.embedder}
        return {name: functools.partial(e.embed, max_tokens=max_tokens) for name, e in embedders.items()}


def model_version(model_dir: Path) -> str:
    manifest = model_dir / "MODEL.json"
    if manifest.exists():
        return str(json.loads(manifest.read_text()).get("version", "unversioned"))
    return "unversioned"


def load_models(
    model_dir: str | Path | None = None,
    helpcenter_dir: str | Path | None = None,
    languages: tuple[str, ...] = DEFAULT_LANGUAGES,
    model_cache: str | Path | None = None,
) -> Models:
    """Load everything from disk (no network). A model dir made by `triage train` holds only an intent
    model; the emotion model and the static embeddings then come from the default directory. The encoders
    are the ones the intent model names; `model_cache` is where one built on this machine (MPNet) is kept."""
    directory = Path(model_dir) if model_dir else DEFAULT_MODEL_DIR
    intent = IntentModel.load(directory)
    names = [*intent.encoders, *([intent.multilingual_encoder] if intent.multilingual_encoder else [])]
    embedders = {name: shared_embedder(encoder_name=name, model_cache=model_cache) for name in names}
    emotion_dir = directory if (directory / "emotion.json").exists() else DEFAULT_MODEL_DIR
    static_dir = directory if (directory / STATIC_FILE).exists() else DEFAULT_MODEL_DIR
    static = StaticEmbedder.load(static_dir)
    return Models(
        intent=intent,
        emotion=EmotionModel.load(emotion_dir),
        language=LanguageDetector(languages),
        embedder=embedders[intent.encoder],
        static=static,
        knowledge=KnowledgeBase.from_folder(helpcenter_dir, static.embed),
        version=model_version(directory),
        meta={"model_dir": str(directory)},
        embedders=embedders,
        intent_language=LanguageDetector(None) if intent.multilingual is not None else None,
    )
