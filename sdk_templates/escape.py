"""Escaping filters: any string (model, tensor, label, file names from a .ptm) made inert in each generated language.

A model file is something people download and share, so every string from it that reaches a template goes through
one of these, chosen by where it lands: inside a string literal it stays data (and round-trips), inside a comment
or Markdown it is shown but cannot end the comment or start code. Identifiers never come from here: they come from
`names` (sanitised) or are validated command-line options. `FILTERS` is what `render.environment` registers, and
tests/sdk/test_template_escaping.py checks every `{{ ... }}` of every template ends in one of them (or is a
known-safe identifier or number).
"""
from __future__ import annotations

import re
import shlex
import unicodedata

# Characters shown as <U+XXXX> in comments and prose: controls (newline, NUL, ...), format characters (bidi
# overrides, zero-width), line/paragraph separators (line breaks in some lexers), surrogates, private/unassigned.
_HIDDEN = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def _visible(text: str, also: str = "") -> str:
    """`text` on one line with invisible or line-breaking characters (and those in `also`) shown as <U+XXXX>."""
    return "".join(f"<U+{ord(ch):04X}>" if unicodedata.category(ch) in _HIDDEN or ch in also
                   or (unicodedata.category(ch) == "Zs" and ch != " ") else ch for ch in text)


def _break(text: str, *sequences: str) -> str:
    """Insert a space inside every occurrence of each two-character sequence (`*/` -> `* /`), repeatedly."""
    for seq in sequences:
        while seq in text:
            text = text.replace(seq, f"{seq[0]} {seq[1:]}")
    return text


def c_comment(text: str) -> str:
    """Text inside a C, Kotlin or Swift comment (`/* */`, `//`, `///`): cannot close or open one (they nest in
    Kotlin and Swift), continue a line (backslash, trigraph `??/`) or break the line."""
    return _break(_visible(text, "\\"), "*/", "/*", "??")


def hash_comment(text: str) -> str:
    """Text after `#` in a Makefile, CMakeLists.txt or ProGuard file: one line, no line continuation."""
    return _visible(text, "\\")


def xml_comment(text: str) -> str:
    """Text inside <!-- -->: no `--` (not allowed in a comment) and no trailing `-`."""
    text = _break(_visible(text), "--")
    return text + " " if text.endswith("-") else text


def markdown_code(text: str) -> str:
    """A Markdown code span for any text, safe in a table cell: one line, a fence longer than any backtick run."""
    text = _visible(text).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def shell_word(text: str) -> str:
    """One shell word for a command shown in a README (a file name): quoted, and on one line."""
    return shlex.quote(_visible(text))


def c_string(text: str) -> str:
    """A C string literal of the text's UTF-8 bytes: printable ASCII as is (`?` escaped against trigraphs),
    everything else as 3-digit octal escapes (hex escapes would swallow following hex digits)."""
    out = []
    for byte in text.encode("utf-8", "surrogatepass"):
        ch = chr(byte)
        if ch in '"\\?':
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def kotlin_string(text: str) -> str:
    """A Kotlin (and Gradle KTS) string literal: `\\`, `"` and `$` (templates) escaped, controls, separators and
    surrogates as \\uXXXX."""
    out = []
    for ch in text:
        if ch in '\\"$':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or unicodedata.category(ch) in ("Zl", "Zp", "Cs"):
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def swift_string(text: str) -> str:
    """A Swift string literal: `\\` (so no `\\(...)` interpolation) and `"` escaped, controls and separators as
    \\u{X}; a lone surrogate (no Swift character) becomes U+FFFD. A `*` next to `/` is written \\u{2a}: Swift reads
    `/*` in a string as text, but tree-sitter-swift (editors, the tests' syntax check) would start a comment."""
    out = []
    for i, ch in enumerate(text):
        if ch == "*" and "/" in text[max(i - 1, 0):i] + text[i + 1:i + 2]:
            out.append("\\u{2a}")
        elif ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif unicodedata.category(ch) == "Cs":
            out.append("\\u{fffd}")
        elif ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or unicodedata.category(ch) in ("Zl", "Zp"):
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def cmake_string(text: str) -> str:
    """A CMake quoted argument: no variable (`${}`, `$ENV{}`) or generator expression (`$<>`) evaluation, `;` kept
    as text rather than a list separator, one line (line breaks and other controls shown as <U+XXXX>)."""
    escapes = {"\\": "\\\\", '"': '\\"', "$": "\\$", ";": "\\;"}
    return '"' + "".join(escapes.get(ch, ch) for ch in _visible(text)) + '"'


_FILE_WORD = re.compile(r"^[A-Za-z0-9_./+-]+$")


def file_word(text: str) -> str:
    """A file name in a Makefile rule or variable value. Make has no quoting that survives both make and the shell,
    so only plain names are accepted (the generator only writes such names there)."""
    if not _FILE_WORD.match(text):
        raise ValueError(f"{text!r} is not a plain file name and cannot appear in a Makefile")
    return text


FILTERS = {
    "c_comment": c_comment, "hash_comment": hash_comment, "xml_comment": xml_comment,
    "markdown_code": markdown_code, "shell_word": shell_word, "c_string": c_string,
    "kotlin_string": kotlin_string, "swift_string": swift_string, "cmake_string": cmake_string,
    "file_word": file_word,
}
