"""Identifiers from user input (model, tensor and output names) made safe for Kotlin, Swift and C.

Sanitising is deterministic and collision-free within one scope: `unique_names` appends _2, _3, ...
Names the user chooses on the command line (package, class, prefix) are validated instead, so a typo
becomes a clear error rather than a silently renamed SDK.
"""
from __future__ import annotations

import re

from pockettorch import errors

KOTLIN_KEYWORDS = frozenset("""
as break class continue do else false for fun if in interface is null object package return super this throw true
try typealias typeof val var when while
""".split())
SWIFT_KEYWORDS = frozenset("""
associatedtype class deinit enum extension fileprivate func import init inout internal let open operator private
precedencegroup protocol public rethrows static struct subscript typealias var break case catch continue default
defer do else fallthrough for guard if in repeat return throw switch where while Any as await false is nil self
Self super throws true try Type async
""".split())
C_KEYWORDS = frozenset("""
auto break case char const continue default do double else enum extern float for goto if inline int long register
restrict return short signed sizeof static struct switch typedef union unsigned void volatile while _Bool _Complex
_Imaginary _Alignas _Alignof _Atomic _Generic _Noreturn _Static_assert _Thread_local bool true false
""".split())
KEYWORDS = {"kotlin": KOTLIN_KEYWORDS, "swift": SWIFT_KEYWORDS, "c": C_KEYWORDS}

_WORD = re.compile(r"[A-Za-z0-9]+")


def words(text: str) -> list[str]:
    """Split any string into ASCII words: 'input.0/pixel_values' -> ['input', '0', 'pixel', 'values']."""
    out = []
    for chunk in _WORD.findall(text):
        # split camelCase humps too, so 'pixelValues' and 'pixel_values' give the same words
        out.extend(w for w in re.split(r"(?<=[a-z0-9])(?=[A-Z])", chunk) if w)
    return out


def _finish(name: str, lang: str, fallback: str) -> str:
    if not name:
        name = fallback
    if name[0].isdigit():
        name = fallback[0] + name if lang != "c" else "_" + name
    if name in KEYWORDS[lang]:
        name += "_"
    return name


def camel(text: str, lang: str, fallback: str = "value") -> str:
    """lowerCamelCase for properties and parameters: 'pixel_values' -> 'pixelValues'."""
    ws = words(text)
    name = "".join([ws[0].lower()] + [w[:1].upper() + w[1:].lower() for w in ws[1:]]) if ws else ""
    return _finish(name, lang, fallback)


def pascal(text: str, lang: str, fallback: str = "Model") -> str:
    """UpperCamelCase for types: 'mobilenet_v2' -> 'MobilenetV2'."""
    name = "".join(w[:1].upper() + w[1:].lower() for w in words(text))
    return _finish(name, lang, fallback)


def snake(text: str, fallback: str = "value") -> str:
    """lower_snake_case for C: 'MobileNetV2' -> 'mobile_net_v2'."""
    name = "_".join(w.lower() for w in words(text))
    return _finish(name, "c", fallback)


def unique_names(names: list[str]) -> list[str]:
    """Make sanitised names distinct in order: ['x', 'x', 'x_2'] -> ['x', 'x_2', 'x_2_2']."""
    seen: set[str] = set()
    out = []
    for name in names:
        candidate, n = name, 2
        while candidate in seen:
            candidate, n = f"{name}_{n}", n + 1
        seen.add(candidate)
        out.append(candidate)
    return out


_JAVA_SEGMENT = re.compile(r"^[a-z][a-z0-9_]*$")


def check_package(package: str) -> str:
    """A Java/Kotlin package name such as com.acme.vision: lowercase segments, no keywords, at least two parts."""
    segments = package.split(".")
    bad = [s for s in segments if not _JAVA_SEGMENT.match(s) or s in KOTLIN_KEYWORDS or s in ("java", "import")]
    if len(segments) < 2 or bad:
        why = f"segment(s) {', '.join(repr(s) for s in bad)} are not valid" if bad else "it needs at least two segments"
        raise errors.InvalidArgumentError(
            f"package name {package!r} is not usable: {why}; use lowercase letters, digits and underscores, "
            "each segment starting with a letter, e.g. com.acme.vision")
    return package


def check_type_name(name: str, lang: str) -> str:
    """A class / module name given on the command line must already be a valid type name."""
    if not re.match(r"^[A-Z][A-Za-z0-9_]*$", name) or name in KEYWORDS[lang]:
        raise errors.InvalidArgumentError(
            f"{name!r} is not a usable {lang.capitalize()} type name; start with an uppercase letter and use "
            f"letters, digits and underscores (suggestion: {pascal(name, lang)})")
    return name


def check_c_prefix(prefix: str) -> str:
    """A C symbol prefix (lower snake case) given on the command line."""
    if not re.match(r"^[a-z][a-z0-9_]*$", prefix) or prefix in C_KEYWORDS or prefix.startswith("pkt_"):
        raise errors.InvalidArgumentError(
            f"C prefix {prefix!r} is not usable; use lowercase letters, digits and underscores starting with a "
            f"letter, not starting with pkt_ (suggestion: {snake(prefix, 'model')})")
    return prefix
