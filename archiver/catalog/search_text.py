"""Words and queries for full-text search, the same on SQLite FTS5 and PostgreSQL.

Both engines index text we have already split into words here (lower case, accents and
compatibility forms folded, digits in any script made ASCII), joined by single spaces. Neither
engine's own tokenizer then has anything left to decide, so the two find the same items. Query
syntax is parsed here too and compiled for each engine, so a syntax error is one clear line
instead of an engine's message.

Syntax: words (all must match), "quoted phrases", OR between alternatives, prefix* and
-excluded words, with parentheses for grouping.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from archiver.core.errors import ArchiverError

_WORD = re.compile(r"[^\W_]+")
MAX_WORD = 100  # longer "words" (base64, hashes) are not indexed, on either engine


class QuerySyntaxError(ArchiverError):
    """The search query cannot be parsed."""

    exit_code = 2


def _fold(raw: str) -> list[str]:
    """Words as both engines will keep them: letters (case-folded, compatibility forms and
    accents removed) and decimal digits of any script as ASCII; anything else separates."""
    if raw.isascii():  # the common case needs no Unicode folding
        words = _WORD.findall(raw.lower())
        return [w for w in words if len(w) <= MAX_WORD]
    out = []
    # casefold (final sigma, as FTS5 folds it) after NFKD too (mathematical capitals), then
    # lower (casefold maps Cherokee to capitals; both engines keep the small letters)
    for ch in unicodedata.normalize("NFKD", raw.casefold()).casefold().lower():
        if unicodedata.combining(ch):
            continue
        digit = unicodedata.decimal(ch, None)
        if digit is not None:
            out.append(str(digit))
        else:
            # circled numbers, fractions' slashes and the like: FTS5 keeps some, PostgreSQL none
            out.append(ch if ch.isalpha() and _fts5_letter(ch) else " ")
    return [w for w in _WORD.findall("".join(out)) if len(w) <= MAX_WORD]


_probe_lock = threading.Lock()
_probe: sqlite3.Connection | None = None


@lru_cache(maxsize=8192)
def _fts5_letter(ch: str) -> bool:
    """Whether SQLite's unicode61 tokenizer keeps `ch` inside a word. Its tables are of an older
    Unicode than Python's (U+19B0, a mark there, is a letter here), so a letter it would drop
    separates words on both engines instead. Asked of SQLite once per distinct character."""
    global _probe
    with _probe_lock:
        if _probe is None:
            _probe = sqlite3.connect(":memory:", check_same_thread=False)
            _probe.execute("CREATE VIRTUAL TABLE f USING fts5(body, tokenize='unicode61 remove_diacritics 0')")
            _probe.execute("CREATE VIRTUAL TABLE v USING fts5vocab(f, 'instance')")
        _probe.execute("DELETE FROM f")
        _probe.execute("INSERT INTO f(rowid, body) VALUES (1, ?)", (f"a{ch}a",))
        seen = [term for term, in _probe.execute("SELECT term FROM v")]
    return len(seen) == 1


def words_with_spans(text: str) -> list[tuple[str, int, int]]:
    """Every indexed word with the span of original text it came from (for highlighting)."""
    found = []
    for match in _WORD.finditer(text):
        for word in _fold(match.group()):
            found.append((word, match.start(), match.end()))
    return found


def index_body(text: str) -> str:
    """What both engines index for one version's text."""
    return " ".join(w for w, _, _ in words_with_spans(text))


# --- query syntax tree ------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # more than one: a phrase
    prefix: bool = False  # the last word is a prefix


@dataclass(frozen=True)
class Not:
    node: Node


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]


Node = Term | Not | And | Or

_TOKEN = re.compile(r'\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<q>"[^"]*"\*?)|(?P<open>")|(?P<w>[^\s()"]+))')


def _lex(query: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    while pos < len(query):
        m = _TOKEN.match(query, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        kind = m.lastgroup or ""
        if kind == "open":
            raise QuerySyntaxError(
                'The search query has an unclosed quote ("); close the phrase or remove the quote'
            )
        tokens.append((kind, m.group(kind)))
    return tokens


def parse_query(query: str) -> Node:
    tokens = _lex(query)
    if not tokens:
        raise QuerySyntaxError("The search query is empty; give at least one word")
    pos = 0

    def peek() -> tuple[str, str] | None:
        return tokens[pos] if pos < len(tokens) else None

    def parse_or() -> Node:
        nonlocal pos
        parts = [parse_and()]
        while (tok := peek()) is not None and tok == ("w", "OR"):
            pos += 1
            if peek() is None or peek() == ("rp", ")") or peek() == ("w", "OR"):
                raise QuerySyntaxError("The search query has an 'OR' without a word on each side; e.g. bus OR van")
            parts.append(parse_and())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def parse_and() -> Node:
        nonlocal pos
        parts: list[Node] = []
        while (tok := peek()) is not None and tok not in (("rp", ")"), ("w", "OR")):
            node = parse_unit()
            if node is not None:
                parts.append(node)
        if not parts:
            where = "at the start" if pos == 0 else "after " + " ".join(v for _, v in tokens[:pos])
            raise QuerySyntaxError(f"The search query is missing a word {where}; e.g. bus OR van")
        positive = [p for p in parts if not isinstance(p, Not)]
        if not positive:
            raise QuerySyntaxError(
                "The search query only excludes words; add a word that must match"
            )
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def parse_unit() -> Node | None:
        nonlocal pos
        kind, value = tokens[pos]
        pos += 1
        if kind == "w" and value in ("AND", "NOT", "-") and peek() not in (None, ("rp", ")")):
            if value == "AND":
                return None  # words are ANDed anyway
            inner = parse_unit()
            return Not(inner) if isinstance(inner, Term) else inner
        if kind == "lp":
            if peek() == ("rp", ")"):
                raise QuerySyntaxError("The search query has empty parentheses; remove them")
            node = parse_or()
            if peek() != ("rp", ")"):
                raise QuerySyntaxError("The search query has an unclosed '('; add the ')'")
            pos += 1
            return node
        if kind == "rp":  # pragma: no cover - parse_and stops before ')'
            raise QuerySyntaxError("The search query has a ')' without '('; remove it")
        negate = False
        if kind == "w" and value.startswith("-") and len(value) > 1:
            negate, value = True, value[1:]
            if value.startswith('"'):
                kind = "q"
        prefix = value.endswith("*")
        text = value.rstrip("*")
        if kind == "q":
            text = text.strip('"')
        if value.count("*") > (1 if prefix else 0) or (prefix and not text):
            raise QuerySyntaxError(
                f"The search query has '{value}': '*' goes at the end of a word, as in contract*"
            )
        words = tuple(_fold(text))
        if not words:
            if prefix:
                raise QuerySyntaxError(
                    f"The search query has '{value}': '*' needs letters before it, as in contract*")
            return None  # punctuation or emoji alone: nothing to search for
        term: Node = Term(words, prefix)
        return Not(term) if negate else term

    node = parse_or()
    if pos < len(tokens):
        raise QuerySyntaxError("The search query has a ')' without '('; remove it")
    return node


def terms(node: Node) -> list[Term]:
    """The positive terms, for highlighting."""
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return []
    return [t for part in node.parts for t in terms(part)]


# --- engines --------------------------------------------------------------------------------


def to_fts5(node: Node) -> str:
    if isinstance(node, Term):
        quoted = ['"' + w.replace('"', '""') + '"' for w in node.words]
        if node.prefix:
            quoted[-1] += "*"
        return " + ".join(quoted)
    if isinstance(node, Or):
        return "(" + " OR ".join(to_fts5(p) for p in node.parts) + ")"
    if isinstance(node, And):
        pos = [to_fts5(p) for p in node.parts if not isinstance(p, Not)]
        neg = [to_fts5(p.node) for p in node.parts if isinstance(p, Not)]
        text = "(" + " AND ".join(pos) + ")"
        for n in neg:
            text = f"({text} NOT {n})"
        return text
    raise QuerySyntaxError("The search query only excludes words; add a word that must match")


def to_tsquery(node: Node) -> str:
    if isinstance(node, Term):
        quoted = ["'" + w.replace("'", "''") + "'" for w in node.words]
        if node.prefix:
            quoted[-1] += ":*"
        return quoted[0] if len(quoted) == 1 else "(" + " <-> ".join(quoted) + ")"
    if isinstance(node, Not):
        return "!" + to_tsquery(node.node)
    if isinstance(node, Or):
        return "(" + " | ".join(to_tsquery(p) for p in node.parts) + ")"
    return "(" + " & ".join(to_tsquery(p) for p in node.parts) + ")"


def highlight_spans(text: str, node: Node) -> list[tuple[int, int]]:
    """Spans of `text` that match a positive term (whole phrases only), merged and sorted."""
    found = words_with_spans(text)
    words = [w for w, _, _ in found]
    spans: set[tuple[int, int]] = set()
    for term in terms(node):
        n = len(term.words)
        for i in range(len(words) - n + 1):
            ok = all(words[i + k] == term.words[k] for k in range(n - 1))
            last = words[i + n - 1]
            ok = ok and (last.startswith(term.words[-1]) if term.prefix else last == term.words[-1])
            if ok:
                spans.update((s, e) for _, s, e in found[i : i + n])
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
