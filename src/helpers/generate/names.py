"""Name pools built once with Faker (seeded), then indexed by vectorised draws.

Faker is slow per call (tens of microseconds), so it never runs per row: each locale gets a pool of
first names, last names and company names, built from the run's seed; rows pick pool indices.
E-mail local parts are ASCII folds of the names; domains are always reserved (example.* or .test).
"""

from __future__ import annotations

import re
import threading
import unicodedata
import zlib
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
from faker import Faker
from faker.providers.person import Provider as PersonProvider

FIRST_NAMES_PER_LOCALE = 160
LAST_NAMES_PER_LOCALE = 160


def ascii_fold(text: str) -> str:
    """Lower-case ASCII letters and digits only ('Jürgen Müller-Ost' -> 'jurgenmullerost')."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def slug(text: str, max_len: int = 28) -> str:
    """'Müller & Söhne GmbH' -> 'muller-sohne-gmbh'; long names are cut at a word boundary."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    s = re.sub(r"[^a-z0-9]+", "-", folded).strip("-")
    if len(s) > max_len:
        cut = s[: max_len + 1].rsplit("-", 1)[0]
        s = cut if len(cut) >= 3 else s[:max_len]
    return s.strip("-") or "company"


@dataclass(frozen=True)
class PersonPool:
    first: np.ndarray  # display first names
    last: np.ndarray
    first_ascii: np.ndarray  # for e-mail local parts
    last_ascii: np.ndarray


# the only providers the pools use: a Faker with all ~25 imports each one's locale module (~10 ms a locale)
PROVIDERS = ["faker.providers.person", "faker.providers.company"]


# one Faker per locale is re-seeded for every pool: pools are built one at a time (Dask runs blocks on threads)
_FAKER_LOCK = threading.RLock()


@cache
def _locale_faker(locale: str) -> Faker:
    return Faker(locale, providers=PROVIDERS)  # built once per locale and process (seeded anew for every use)


def _faker(locale: str, seed: int, salt: int) -> Faker:
    """The locale's Faker, seeded by (seed, locale, purpose): locales that share providers (en_US,
    en_CA, ...) still draw different names, and a use never depends on an earlier one."""
    fake = _locale_faker(locale)
    fake.seed_instance((seed * 1_000_003 + salt) * 4_294_967_311 + zlib.crc32(locale.encode()))
    return fake


def _sample(fake: Faker, method: str, elements: str, n: int) -> list[str]:
    """n draws of fake.<method>(); one weighted batch draw from the locale's list when <method> is
    the standard one (random_element of that list; a per-call draw re-weights the list each time)."""
    provider = next(p for p in fake.get_providers() if hasattr(p, elements))
    if getattr(type(provider), method) is getattr(PersonProvider, method):
        return list(fake.random_elements(getattr(provider, elements), length=n, unique=False))
    return [getattr(fake, method)() for _ in range(n)]


def person_pool(locale: str, seed: int) -> PersonPool:
    """First/last name pools of one locale; Japanese names are romanised so e-mails stay ASCII."""
    with _FAKER_LOCK:
        return _person_pool(locale, seed)


@lru_cache(maxsize=64)
def _person_pool(locale: str, seed: int) -> PersonPool:
    fake = _faker(locale, seed, 1)
    if hasattr(fake, "first_romanized_name"):
        first = [fake.first_romanized_name() for _ in range(FIRST_NAMES_PER_LOCALE)]
        last = [fake.last_romanized_name() for _ in range(LAST_NAMES_PER_LOCALE)]
    else:
        first = _sample(fake, "first_name", "first_names", FIRST_NAMES_PER_LOCALE)
        last = _sample(fake, "last_name", "last_names", LAST_NAMES_PER_LOCALE)
    first_ascii = [ascii_fold(x) or "user" for x in first]
    last_ascii = [ascii_fold(x) or "member" for x in last]
    return PersonPool(
        np.array(first, dtype=object),
        np.array(last, dtype=object),
        np.array(first_ascii, dtype=object),
        np.array(last_ascii, dtype=object),
    )


ROMANISED_COMPANY_SUFFIXES = ["Co., Ltd.", "Inc.", "Holdings", "Systems", "Trading", "Works", "Partners"]


def company_names(locale: str, seed: int, n: int) -> list[str]:
    """n distinct company names of one locale (see _company_names); one pool at a time."""
    with _FAKER_LOCK:
        return _company_names(locale, seed, n)


def _company_names(locale: str, seed: int, n: int) -> list[str]:
    """n distinct company names of one locale (Faker, seeded); repeats get a numeric suffix.
    Locales with romanised names (ja_JP) get romanised company names, so domains stay readable."""
    fake = _faker(locale, seed, 2)
    romanised = hasattr(fake, "last_romanized_name")
    seen: dict[str, int] = {}
    out = []
    for _ in range(n):
        if romanised:
            name = f"{fake.last_romanized_name()} {fake.random_element(ROMANISED_COMPANY_SUFFIXES)}"
        else:
            name = fake.company()
        k = seen.get(name, 0)
        seen[name] = k + 1
        out.append(name if k == 0 else f"{name} {k + 1}")
    return out
