"""Name pools built once with Faker (seeded), then indexed by vectorised draws.

Faker is slow per call (tens of microseconds), so it never runs per row: each locale gets a pool of
first names, last names and company names, built from the run's seed; rows pick pool indices.
E-mail local parts are ASCII folds of the names; domains are always reserved (example.* or .test).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from faker import Faker

FIRST_NAMES_PER_LOCALE = 160
LAST_NAMES_PER_LOCALE = 160


def ascii_fold(text: str) -> str:
    """Lower-case ASCII letters and digits only ('Jürgen Müller-Ost' -> 'jurgenmullerost')."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def slug(text: str, max_len: int = 28) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    s = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    return s[:max_len].strip("-") or "company"


@dataclass(frozen=True)
class PersonPool:
    first: np.ndarray  # display first names
    last: np.ndarray
    first_ascii: np.ndarray  # for e-mail local parts
    last_ascii: np.ndarray


def _faker(locale: str, seed: int, salt: int) -> Faker:
    fake = Faker(locale)
    fake.seed_instance(seed * 1_000_003 + salt)
    return fake


@lru_cache(maxsize=64)
def person_pool(locale: str, seed: int) -> PersonPool:
    """First/last name pools of one locale; Japanese names are romanised so e-mails stay ASCII."""
    fake = _faker(locale, seed, 1)
    romanised = hasattr(fake, "first_romanized_name")
    first_fn = fake.first_romanized_name if romanised else fake.first_name
    last_fn = fake.last_romanized_name if romanised else fake.last_name
    first = [first_fn() for _ in range(FIRST_NAMES_PER_LOCALE)]
    last = [last_fn() for _ in range(LAST_NAMES_PER_LOCALE)]
    first_ascii = [ascii_fold(x) or "user" for x in first]
    last_ascii = [ascii_fold(x) or "member" for x in last]
    return PersonPool(np.array(first, dtype=object), np.array(last, dtype=object),
                      np.array(first_ascii, dtype=object), np.array(last_ascii, dtype=object))


def company_names(locale: str, seed: int, n: int) -> list[str]:
    """n distinct company names of one locale (Faker, seeded); repeats get a numeric suffix."""
    fake = _faker(locale, seed, 2)
    seen: dict[str, int] = {}
    out = []
    for _ in range(n):
        name = fake.company()
        k = seen.get(name, 0)
        seen[name] = k + 1
        out.append(name if k == 0 else f"{name} {k + 1}")
    return out
