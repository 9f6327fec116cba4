"""English sentences for calibrating quantized text models, from the docstrings of Python's standard library
(present wherever the tests run, nothing downloaded): technical prose, unlike the short everyday sentences the
accuracy tests evaluate on, so calibration and evaluation data are distinct."""
from __future__ import annotations

import importlib
import inspect
import random
import re

MODULES = ["argparse", "collections", "email.message", "http.client", "json", "logging", "pathlib", "shutil",
           "subprocess", "textwrap", "threading", "unittest", "urllib.request", "zipfile", "tarfile", "csv",
           "calendar", "datetime", "decimal", "fractions", "random", "statistics", "string", "difflib", "smtplib",
           "ftplib", "imaplib", "mailbox", "configparser", "sqlite3", "asyncio", "socket", "ssl", "queue", "heapq",
           "bisect", "functools", "itertools"]


def sentences(count: int, seed: int = 0) -> list[str]:
    """`count` distinct prose sentences (40-220 characters, no code), shuffled with `seed`."""
    out, seen = [], set()
    for name in MODULES:
        module = importlib.import_module(name)
        docs = [inspect.getdoc(module) or ""] + [inspect.getdoc(obj) or "" for _, obj in inspect.getmembers(module)]
        for doc in docs:
            for s in re.split(r"(?<=[.!?])\s+", re.sub(r"\s+", " ", doc)):
                if 40 < len(s) < 220 and s[0].isupper() and s not in seen and not re.search(r"[>{}\[\]=_]|\(\)", s):
                    seen.add(s)
                    out.append(s)
    random.Random(seed).shuffle(out)
    if len(out) < count:
        raise ValueError(f"only {len(out)} sentences in the standard library's docstrings, {count} wanted")
    return out[:count]
