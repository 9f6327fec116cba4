"""Identifiers from user input (model, tensor and output names) made safe for Kotlin, Swift and C.

Sanitising is deterministic and collision-free within one scope: `unique_names` appends _2, _3, ...
Names the user chooses on the command line (package, class, prefix) are validated instead, so a typo
becomes a clear error rather than a silently renamed SDK.
"""
from __future__ import annotations

import re

from pockettorch.runtime import error_catalogue as errors

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
# Names that are valid identifiers but taken where the generated code lives: C++ keywords (the C header is used
# from C++) and the C library's names (functions, macros, types); Kotlin's and Java's built-in types; the Swift
# standard library's types and the modules a package may import.
CPP_KEYWORDS = frozenset("""
alignas alignof and and_eq asm bitand bitor catch char8_t char16_t char32_t class compl concept consteval
constexpr constinit const_cast co_await co_return co_yield decltype delete dynamic_cast explicit export friend
mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected public reinterpret_cast
requires static_assert static_cast template this thread_local throw try typeid typename using virtual wchar_t
xor xor_eq
""".split())
C_LIBRARY = frozenset("""
abort abs assert atexit atof atoi atol bsearch calloc clock div errno exit fclose feof ferror fflush fgetc fgets
fopen fprintf fputc fputs fread free freopen fscanf fseek ftell fwrite getc getchar getenv gets isalnum isalpha
isdigit isspace labs ldiv localtime longjmp malloc memchr memcmp memcpy memmove memset perror printf putc putchar
puts qsort raise rand realloc remove rename rewind scanf setjmp setvbuf signal snprintf sprintf srand sscanf stderr
stdin stdout strcat strchr strcmp strcpy strerror strlen strncmp strncpy strstr strtod strtol strtoul strtoull
system time tmpfile ungetc vfprintf vprintf vsnprintf NULL EOF FILE size_t ptrdiff_t intptr_t uintptr_t
wchar_t int8_t int16_t int32_t int64_t uint8_t uint16_t uint32_t uint64_t intmax_t uintmax_t max_align_t
jmp_buf va_list off_t ssize_t pthread_t main environ
""".split())
KOTLIN_TYPES = frozenset("""
Any Unit Nothing String Char Boolean Byte Short Int Long Float Double Number UByte UShort UInt ULong Array
BooleanArray ByteArray CharArray ShortArray IntArray LongArray FloatArray DoubleArray List MutableList Map
MutableMap Set MutableSet Collection Iterable Iterator Sequence Pair Triple Result Lazy Enum Comparable
CharSequence Throwable Exception Error RuntimeException IllegalArgumentException IllegalStateException
IndexOutOfBoundsException NullPointerException UnsupportedOperationException AutoCloseable Deprecated Suppress
Volatile Synchronized JvmStatic JvmField JvmOverloads Regex Object Class System Thread Math Override Void
""".split())
JAVA_KEYWORDS = frozenset("""
abstract assert boolean byte case catch char class const default double enum extends final finally float goto
implements import instanceof int long native new private protected public short static strictfp super switch
synchronized this throw throws transient try void volatile while true false null var record yield
""".split())
# kotlinc refuses `kotlin`, the JVM refuses `java`; the others belong to the JDK and the Android platform.
RESERVED_PACKAGES = ("kotlin", "java", "javax", "android", "androidx", "dalvik")
SWIFT_TYPES = frozenset("""
Any AnyObject Array Bool Character Dictionary Double Error Float Float16 Int Int8 Int16 Int32 Int64 Never
Optional Result Sequence Collection Set String Substring UInt UInt8 UInt16 UInt32 UInt64 Void Data URL Date
Bundle Task Actor Sendable Codable Equatable Hashable Identifiable Comparable Range ClosedRange
""".split())
SWIFT_MODULES = frozenset("""
Swift Foundation UIKit AppKit SwiftUI Combine CoreGraphics CoreVideo CoreImage CoreML VideoToolbox ImageIO
Accelerate Metal Dispatch Darwin Glibc ObjectiveC XCTest PackageDescription os Observation _Concurrency
""".split())
LANGUAGE_TAKEN = {"kotlin": KOTLIN_TYPES, "swift": SWIFT_TYPES | SWIFT_MODULES}

_WORD = re.compile(r"[A-Za-z0-9]+")
# Longest identifier derived from a model's names, and longest accepted on the command line: names also become
# file names (<Class>Assets.kt, <Module>Tests.swift, <prefix>_model.c, the asset), which file systems cap at 255 bytes.
MAX_NAME = 64


def words(text: str) -> list[str]:
    """Split any string into ASCII words: 'input.0/pixel_values' -> ['input', '0', 'pixel', 'values']."""
    out = []
    for chunk in _WORD.findall(text):
        # split camelCase humps too, so 'pixelValues' and 'pixel_values' give the same words
        out.extend(w for w in re.split(r"(?<=[a-z0-9])(?=[A-Z])", chunk) if w)
    return out


def _finish(name: str, lang: str, fallback: str) -> str:
    name = name[:MAX_NAME].rstrip("_")
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
    """A Java/Kotlin package name such as com.acme.vision: lowercase segments, no Kotlin or Java keywords, at least
    two parts, not under a package the platform reserves (kotlin.*, java.*, android.*, ...)."""
    segments = package.split(".")
    bad = [s for s in segments
           if not _JAVA_SEGMENT.match(s) or s in KOTLIN_KEYWORDS or s in JAVA_KEYWORDS or len(s) > MAX_NAME]
    if segments[0] in RESERVED_PACKAGES:
        raise errors.InvalidArgumentError(
            f"package name {package!r} is not usable: {segments[0]}.* is reserved by Kotlin, Java or Android; "
            f"use your own domain, e.g. com.acme.{'.'.join(segments[1:]) or 'vision'}")
    if len(segments) < 2 or bad:
        why = f"segment(s) {', '.join(repr(s) for s in bad)} are not valid" if bad else "it needs at least two segments"
        raise errors.InvalidArgumentError(
            f"package name {package!r} is not usable: {why}; use lowercase letters, digits and underscores, "
            f"each segment starting with a letter and at most {MAX_NAME} long, e.g. com.acme.vision")
    return package


def check_type_name(name: str, lang: str, taken: frozenset[str] | set[str] = frozenset(), what: str = "type") -> str:
    """A class / module name given on the command line: a valid type name, not a keyword, not a type or module of
    the language's library (LANGUAGE_TAKEN) and not one of `taken` (names the generated code declares or uses)."""
    suggestion = pascal(name, lang)
    if not re.match(r"^[A-Z][A-Za-z0-9_]*$", name) or name in KEYWORDS[lang]:
        problem = "start with an uppercase letter and use letters, digits and underscores"
    elif len(name) > MAX_NAME:
        problem, suggestion = f"use at most {MAX_NAME} characters", name[:MAX_NAME]
    elif name in LANGUAGE_TAKEN[lang] or name in taken:
        problem, suggestion = "it is a name the generated code or its language already uses", name + "Model"
    else:
        return name
    raise errors.InvalidArgumentError(
        f"{name!r} is not a usable {lang.capitalize()} {what} name: {problem} (suggestion: {suggestion})")


def derived_type_name(model_name: str, lang: str, taken: frozenset[str] | set[str]) -> str:
    """The type name both mobile SDKs derive from a model's name: 'mobilenet_v2' -> 'MobilenetV2'; a name the
    language or the generated code already uses gets a Model suffix ('string' -> 'StringModel', 'model' ->
    'TypedModel')."""
    name = pascal(model_name, lang, "Model")
    if name in LANGUAGE_TAKEN[lang] or name in taken:
        name = "TypedModel" if name == "Model" else name + "Model"
    return name


def check_c_prefix(prefix: str, taken: frozenset[str] | set[str] = frozenset()) -> str:
    """A C symbol prefix (lower snake case) given on the command line: not a C or C++ keyword, not a C library
    name, not the runtime's pkt prefix, not one of `taken` (names the generated code uses)."""
    suggestion = snake(prefix, "model")
    if not re.match(r"^[a-z][a-z0-9_]*$", prefix) or prefix in C_KEYWORDS:
        problem = "use lowercase letters, digits and underscores starting with a letter"
    elif len(prefix) > MAX_NAME:
        problem, suggestion = f"use at most {MAX_NAME} characters", prefix[:MAX_NAME].rstrip("_")
    elif prefix == "pkt" or prefix.startswith("pkt_"):
        problem, suggestion = "pkt and pkt_ belong to the runtime", "model"
    elif prefix in CPP_KEYWORDS:
        problem, suggestion = "it is a C++ keyword (the header is also used from C++)", prefix + "_model"
    elif prefix in C_LIBRARY or prefix in taken:
        problem, suggestion = "it is a name the C library or the generated code already uses", prefix + "_model"
    else:
        return prefix
    raise errors.InvalidArgumentError(f"C prefix {prefix!r} is not usable: {problem} (suggestion: {suggestion})")
