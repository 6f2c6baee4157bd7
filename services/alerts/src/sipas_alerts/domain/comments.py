"""Negative free-text comments: a Vietnamese lexicon classifier behind a pluggable interface.

:class:`CommentClassifier` is what the rule needs; :class:`LexiconClassifier` is the first
implementation (a model can replace it later without touching the rule). The lexicon:

- matches whole words, case-insensitively, on NFC text;
- multi-word phrases also match text typed without diacritics ("khong hai long"), which is
  common on phones; single words only match with their diacritics, because their unaccented
  forms are ambiguous ("te", "kem", "lau" mean other things);
- ignores a term preceded (within two words) by a negation ("không gây phiền hà");
- marks some terms as grave (bribery, harassment, abuse): they make the alert critical.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

_WORD = re.compile(r"\w+")
_NEGATION_WINDOW = 2

NEGATIONS: frozenset[str] = frozenset({"khong", "ko", "k", "chang", "cha", "chua"})
"""Negations, folded (không, ko, k, chẳng, chả, chưa)."""
GRAVE_TERMS: tuple[str, ...] = (
    "sách nhiễu", "nhũng nhiễu", "vòi vĩnh", "đưa tiền", "phong bì", "bồi dưỡng",
    "tiền ngoài", "tiền cà phê", "xúc phạm", "quát mắng", "quát", "đe dọa", "hách dịch",
)  # fmt: skip
NEGATIVE_TERMS: tuple[str, ...] = (
    "không hài lòng", "chưa hài lòng", "rất tệ", "quá tệ", "tệ", "kém", "thái độ kém",
    "thái độ không tốt", "không đúng mực", "cửa quyền", "gây khó dễ", "gây khó khăn",
    "làm khó", "phiền hà", "tiêu cực", "trễ hẹn", "chậm trễ", "quá hạn", "chậm", "lâu",
    "chờ lâu", "quá lâu", "đi lại nhiều lần", "phải đi lại", "bổ sung nhiều lần",
    "thất vọng", "bức xúc", "bực mình", "khó chịu", "không nhiệt tình", "thiếu nhiệt tình",
    "thiếu trách nhiệm", "vô trách nhiệm", "đùn đẩy", "to tiếng", "lớn tiếng",
    "không tôn trọng", "không chuyên nghiệp", "không hướng dẫn", "không rõ ràng",
    "không được giải quyết", "không giải quyết",
)  # fmt: skip


def fold(text: str) -> str:
    """Lower case without diacritics (``Đạm`` -> ``dam``)."""
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The words of ``text`` in lower case, NFC."""
    return _WORD.findall(unicodedata.normalize("NFC", text).casefold())


@dataclass(frozen=True)
class CommentVerdict:
    """What a classifier found: whether the comment is negative, how badly, and why."""

    negative: bool
    grave: bool = False
    matched: tuple[str, ...] = ()


class CommentClassifier(Protocol):
    """Decides whether a free-text comment is a complaint."""

    def classify(self, text: str) -> CommentVerdict:
        """The verdict on ``text``."""
        ...


@dataclass(frozen=True)
class _Term:
    text: str
    accented: tuple[str, ...]
    folded: tuple[str, ...]
    grave: bool


def _term(text: str, *, grave: bool) -> _Term:
    accented = tuple(words(text))
    return _Term(text, accented, tuple(fold(w) for w in accented), grave)


class LexiconClassifier:
    """Keyword classifier for Vietnamese comments (see the module docstring)."""

    def __init__(
        self,
        negative: Iterable[str] = NEGATIVE_TERMS,
        grave: Iterable[str] = GRAVE_TERMS,
        *,
        min_matches: int = 1,
    ) -> None:
        terms = [_term(t, grave=True) for t in grave] + [_term(t, grave=False) for t in negative]
        # Longest phrases first, so "không hài lòng" is matched before "lâu" or "chậm".
        self._terms = sorted((t for t in terms if t.accented), key=lambda t: -len(t.accented))
        self._min_matches = min_matches

    def classify(self, text: str) -> CommentVerdict:
        """Negative when at least ``min_matches`` terms occur, not negated."""
        tokens = words(text)
        folded = [fold(w) for w in tokens]
        used = [False] * len(tokens)
        matched: list[_Term] = []
        for term in self._terms:
            for start in _occurrences(term, tokens, folded):
                span = range(start, start + len(term.accented))
                if any(used[i] for i in span) or _negated(term, folded, start):
                    continue
                for i in span:
                    used[i] = True
                matched.append(term)
        return CommentVerdict(
            negative=len(matched) >= self._min_matches,
            grave=any(t.grave for t in matched),
            matched=tuple(dict.fromkeys(t.text for t in matched)),
        )


def _occurrences(term: _Term, tokens: list[str], folded: list[str]) -> Iterable[int]:
    size = len(term.accented)
    multiword = size > 1
    for start in range(len(tokens) - size + 1):
        if tuple(tokens[start : start + size]) == term.accented or (
            multiword and tuple(folded[start : start + size]) == term.folded
        ):
            yield start


def _negated(term: _Term, folded: list[str], start: int) -> bool:
    if term.folded[0] in NEGATIONS:
        return False  # the term is itself a negation ("không hài lòng")
    window = folded[max(0, start - _NEGATION_WINDOW) : start]
    return any(w in NEGATIONS for w in window)
