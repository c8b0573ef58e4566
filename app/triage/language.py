"""Language detection with lingua, restricted to the policy's languages so memory and latency stay low."""
from __future__ import annotations

from collections.abc import Iterable

UNDETERMINED = "und"


class LanguageDetector:
    def __init__(self, languages: Iterable[str]) -> None:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        wanted = []
        for code in languages:
            try:
                wanted.append(Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())))
            except (AttributeError, ValueError):
                continue
        self.codes = tuple(lang.iso_code_639_1.name.lower() for lang in wanted)
        if len(wanted) < 2:
            self._detector = None
            return
        # Preloading costs ~0.7 s at boot instead of a stall on the first ticket in each language.
        self._detector = (
            LanguageDetectorBuilder.from_languages(*wanted).with_preloaded_language_models().build()
        )

    def detect(self, text: str, hint: str = "") -> tuple[str, float]:
        """(iso code, confidence). Very short texts fall back to the requester's locale when it is known."""
        hint_code = hint.split("-")[0].split("_")[0].lower() if hint else ""
        if self._detector is None:
            return (self.codes[0] if self.codes else UNDETERMINED), 1.0
        letters = sum(ch.isalpha() for ch in text)
        # Two Latin words say little about the language; a few CJK characters say a lot.
        if letters < 12 and text.isascii() and hint_code in self.codes:
            return hint_code, 0.5
        values = self._detector.compute_language_confidence_values(text[:1000])
        if not values:
            return (hint_code or UNDETERMINED), 0.0
        best = values[0]
        code = best.language.iso_code_639_1.name.lower()
        if best.value < 0.5 and hint_code in self.codes:
            return hint_code, float(best.value)
        return code, float(best.value)
