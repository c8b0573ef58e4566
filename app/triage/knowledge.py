"""The help center the drafts are grounded in: markdown articles with front matter, split into sections.

Retrieval ranks sections by cosine similarity of static embeddings distilled from MiniLM, boosted for
articles whose front matter lists the ticket's intent, so a draft quotes the passage that answers
the question and cites its article.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_HELPCENTER = Path(__file__).resolve().parents[1] / "data" / "helpcenter"
INTENT_BOOST = 0.10


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    intents: frozenset[str]
    allows: frozenset[str]
    body: str
    primary_intent: str = ""


@dataclass(frozen=True)
class Section:
    article: Article
    heading: str
    text: str


@dataclass(frozen=True)
class Hit:
    section: Section
    score: float
    via: str = "similarity"  # or "intent": chosen because the article is the one for the ticket's intent


def parse_article(path: Path) -> Article | None:
    raw = path.read_text(encoding="utf-8")
    match = re.match(r"^---\s*\n(.*?)\n---\s*\n", raw, re.DOTALL)
    if not match:
        return None
    meta: dict[str, str] = {}
    for line in match.group(1).splitlines():
        if ":" in line:
            key, value = line.split(":", 1)
            meta[key.strip()] = value.strip()
    if "id" not in meta or "title" not in meta:
        return None
    return Article(
        id=meta["id"],
        title=meta["title"].strip("\"'"),
        intents=_list(meta.get("intents", "")),
        allows=_list(meta.get("allows", "")),
        body=raw[match.end() :],
        primary_intent=next(iter(_ordered(meta.get("intents", ""))), ""),
    )


def _ordered(value: str) -> list[str]:
    return [item.strip().strip("\"'") for item in value.strip("[] ").split(",") if item.strip()]


def _list(value: str) -> frozenset[str]:
    return frozenset(_ordered(value))


def _sections(article: Article) -> list[Section]:
    sections: list[Section] = []
    heading, lines = article.title, []
    for line in article.body.splitlines():
        if line.startswith("## "):
            if "".join(lines).strip():
                sections.append(Section(article, heading, "\n".join(lines).strip()))
            heading, lines = line[3:].strip(), []
        elif not line.startswith("# "):
            lines.append(line)
    if "".join(lines).strip():
        sections.append(Section(article, heading, "\n".join(lines).strip()))
    return sections


class KnowledgeBase:
    def __init__(self, articles: Sequence[Article], embed: Callable[[Sequence[str]], np.ndarray]) -> None:
        self.articles = list(articles)
        self.sections = [s for a in self.articles for s in _sections(a)]
        self._embed = embed
        texts = [f"{s.article.title}. {s.heading}. {s.text[:600]}" for s in self.sections]
        self._vectors = embed(texts) if texts else np.zeros((0, 1), dtype=np.float32)

    @classmethod
    def from_folder(
        cls, folder: str | Path | None, embed: Callable[[Sequence[str]], np.ndarray]
    ) -> KnowledgeBase:
        root = Path(folder) if folder else DEFAULT_HELPCENTER
        articles = [a for p in sorted(root.glob("*.md")) if (a := parse_article(p))] if root.is_dir() else []
        return cls(articles, embed)

    def search(self, query_vector: np.ndarray, intent: str, k: int = 3, confident: bool = False) -> list[Hit]:
        """Best sections first. With a `confident` intent, the article written first for that intent
        (its front matter lists the intent first) is the fallback: MiniLM is English-only, so a French
        ticket about a late parcel scores low against every English section even when the classifier
        knows exactly what it is about."""
        if not self.sections or not query_vector.any():
            return []
        scores = self._vectors @ query_vector
        boost = np.array([INTENT_BOOST if intent in s.article.intents else 0.0 for s in self.sections])
        total = scores + boost
        ranked = list(np.argsort(-total)[:k])
        hits = [Hit(self.sections[i], float(total[i]), "similarity") for i in ranked]
        if confident:
            primary = [i for i, s in enumerate(self.sections) if s.article.primary_intent == intent]
            if primary:
                best = max(primary, key=lambda i: total[i])
                hits.append(Hit(self.sections[best], float(total[best]), "intent"))
        return hits
