"""Test workspaces nobody flagged (an imperfection planted here), and the real customers that look like them.

A sandbox is one person's own test or demo workspace, left with is_internal = false: one or two users (the
creator, and sometimes a second address of the same person: jane.doe+test@...), the free plan or a lapsed
trial, used for days to a few weeks after signup and then abandoned (`life_days`); most are driven by an
import or API script (`scripted_share`: dozens of tasks created within minutes, walked through in minutes).
Its name and e-mail domain hint but do not shout: "Jane's workspace", "Sandbox 2", "asdf", or a copy of a
real customer's workspace ("Acme (test)", on that customer's domain); a webmail domain, or its own.

A few real solo and duo customers of 1-10 employees (freelancers, tiny studios: `lookalike_share`) share the
hints (a webmail domain, a name like "My workspace" or their own), so a naive exclusion heuristic drops some
real customers. imperfections/ledger lists the sandboxes (kind test_workspace), never the lookalikes.

Everything is drawn from one stream of its own ("test_workspaces", 0), one row per account whatever the
shares, so the shares change nothing about the other accounts; who is chosen is a prefix of one fixed
permutation per kind among the accounts of one or two users (a larger share adds accounts, never swaps them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..params import Params
from ..streams import DrawColumns, choice_from_u, stream
from ..units import DAY, NEVER, to_us
from . import names, vocab

UNIFORMS = (
    "scripted",
    "domain",
    "webmail",
    "copy_of",
    "name_style",
    "name_pick",
    "number",
    "tag",
    "owner_first",
    "owner_last",
    "partner_first",
    "partner_last",
    "local_style",
    "partner_style",
    "digits",
    "partner_digits",
    "hint",
)
NORMALS = ("life",)
COPY_SHARE = 0.25  # of sandboxes: a copy of a real customer's workspace, on its domain (when one signed up before)
WEBMAIL_SHARE = 0.55  # of sandboxes: on a webmail address (the rest on a company domain of their own)
PERSONAL_SHARE = 0.35  # of sandboxes not copying a customer: named after their owner ("Jane's workspace")
NUMBERED_SHARE = 0.25  # of throwaway names: a number follows ("Sandbox 2")
ENDS_IN_DIGIT = [name[-1].isdigit() for name in vocab.SANDBOX_NAMES]
# lookalikes: a webmail address only, a sandbox-like name only, or both
LOOKALIKE_WEBMAIL_ONLY, LOOKALIKE_NAME_ONLY = 0.4, 0.3


@dataclass(frozen=True)
class Chosen:
    """Per account (index = account_id - 1): which accounts are sandboxes, scripted ones, lookalikes, and the
    stream's draws (one row per account)."""

    sandbox: np.ndarray
    scripted: np.ndarray
    lookalike: np.ndarray
    u: DrawColumns
    z: DrawColumns


@dataclass(frozen=True)
class People:
    """Per account: its first user's name and e-mail local part, and its second user's ("" where the users
    draw their own: every account but sandboxes and lookalikes)."""

    owner_name: np.ndarray
    owner_local: np.ndarray
    partner_name: np.ndarray
    partner_local: np.ndarray


def _first(order: np.ndarray, eligible: np.ndarray, k: int) -> np.ndarray:
    """The first k eligible accounts in the permutation `order` (all of them when fewer are eligible)."""
    chosen = np.zeros(len(eligible), dtype=bool)
    chosen[order[eligible[order]][:k]] = True
    return chosen


def choose(params: Params, internal: np.ndarray, n_users: np.ndarray, size_band: np.ndarray, new: np.ndarray) -> Chosen:
    """Sandboxes (round(account_share x accounts) of the accounts of one or two users, never internal, that
    sign up inside the window: an earlier sandbox was abandoned before it) and lookalikes
    (round(lookalike_share x accounts) of the remaining ones of 1-10 employees), each a prefix of its own
    permutation; a scripted_share of sandboxes is scripted."""
    p = params.imperfections.test_workspaces
    n = len(internal)
    rng = stream(params.seed, "test_workspaces", 0)
    order_sandbox, order_lookalike = rng.permutation(n), rng.permutation(n)
    u = DrawColumns(rng.random((n, len(UNIFORMS))), UNIFORMS)
    z = DrawColumns(rng.normal(0.0, 1.0, (n, len(NORMALS))), NORMALS)
    small = ~internal & (n_users <= 2)
    sandbox = _first(order_sandbox, small & new, round(p.account_share * n))
    lookalike = _first(order_lookalike, small & ~sandbox & (size_band == 0), round(p.lookalike_share * n))
    return Chosen(sandbox, sandbox & (u.scripted < p.scripted_share), lookalike, u, z)


def abandoned_at(params: Params, chosen: Chosen, created: np.ndarray, churn_at: np.ndarray, w1: int) -> np.ndarray:
    """Churn times: a sandbox ends life_days after its signup (at least a day; NEVER past the window's end),
    every other account keeps its own."""
    life = params.imperfections.test_workspaces.life_days
    days = np.maximum(life.median * np.exp(life.sigma * chosen.z.life), 1.0)
    end = created + to_us(days * DAY)
    return np.where(chosen.sandbox, np.where(end < w1, end, NEVER), churn_at).astype(np.int64)


def copied(chosen: Chosen, internal: np.ndarray) -> np.ndarray:
    """Per account: the customer whose workspace a sandbox copies (index; -1 for none): an ordinary customer
    that signed up before it (accounts are in signup order), for COPY_SHARE of sandboxes."""
    n = len(internal)
    a = np.arange(n)
    pick = np.floor(chosen.u.copy_of * a).astype(np.int64)
    ordinary = ~internal & ~chosen.sandbox & ~chosen.lookalike
    ok = chosen.sandbox & (a > 0) & (chosen.u.domain < COPY_SHARE) & ordinary[np.minimum(pick, max(n - 1, 0))]
    return np.where(ok, pick, -1)


def _webmail(u: np.ndarray) -> np.ndarray:
    """A webmail domain per uniform, by the providers' weights."""
    domains = np.array([d for d, _ in vocab.WEBMAIL_DOMAINS], dtype=object)
    return domains[choice_from_u(u, [w for _, w in vocab.WEBMAIL_DOMAINS])]


def _pick(pool: list, u: np.ndarray) -> np.ndarray:
    """The pool's value at each uniform (equal weights)."""
    return np.array(pool, dtype=object)[np.minimum(np.floor(u * len(pool)).astype(np.int64), len(pool) - 1)]


def _fill(patterns: np.ndarray, first: np.ndarray, last: np.ndarray, company: np.ndarray) -> np.ndarray:
    """Each pattern with its row's {first}, {last}, {company} (per vocabulary value: a few patterns)."""
    out = np.empty(len(patterns), dtype=object)
    for pattern in sorted(set(patterns)):
        rows = np.nonzero(patterns == pattern)[0]
        out[rows] = [
            pattern.format(first=f, last=la, company=c)
            for f, la, c in zip(first[rows], last[rows], company[rows], strict=True)
        ]
    return out


@dataclass(frozen=True)
class _Person:
    name: np.ndarray
    first: np.ndarray
    last: np.ndarray
    local: np.ndarray


def _people(params: Params, country: np.ndarray, u_first, u_last, u_style, u_digits, webmail) -> _Person:
    """One person per row, of the row's country (the users' name pools): display name and an e-mail local
    part, first.last; on webmail (`webmail` rows) most add digits (firstlast84, first.last1990)."""
    n = len(country)
    first, last, local = (np.empty(n, dtype=object) for _ in range(3))
    locales = np.array([c[2] for c in vocab.COUNTRIES], dtype=object)[country]
    for loc in sorted(set(locales)):
        at = np.nonzero(locales == loc)[0]
        pool = names.person_pool(loc, params.seed)
        fi = np.floor(u_first[at] * len(pool.first)).astype(np.int64)
        li = np.floor(u_last[at] * len(pool.last)).astype(np.int64)
        first[at], last[at] = pool.first[fi], pool.last[li]
        dotted = pool.first_ascii[fi] + "." + pool.last_ascii[li]
        short = (10 + np.floor(u_digits[at] * 90)).astype(np.int64).astype(str).astype(object)
        year = (1965 + np.floor(u_digits[at] * 40)).astype(np.int64).astype(str).astype(object)
        with_digits = np.where(u_style[at] < 0.5, pool.first_ascii[fi] + pool.last_ascii[li] + short, dotted + year)
        local[at] = np.where(webmail[at] & (u_style[at] < 0.8), with_digits, dotted)
    return _Person(first + " " + last, first, last, local)


@dataclass(frozen=True)
class Labels:
    """What the sandboxes and lookalikes look like: new names, domains, countries and industries per account
    (every other account keeps its own) and their people."""

    account_name: np.ndarray
    domain: np.ndarray
    country: np.ndarray
    industry: np.ndarray
    people: People


def label(
    params: Params,
    chosen: Chosen,
    internal: np.ndarray,
    account_name: np.ndarray,
    domain: np.ndarray,
    country: np.ndarray,
    industry: np.ndarray,
    n_users: np.ndarray,
) -> Labels:
    """Names, e-mail domains and people of sandboxes and lookalikes (see the module's notes); a copy takes its
    customer's name, domain, country and industry. Every e-mail address stays unique."""
    u, sandbox, lookalike = chosen.u, chosen.sandbox, chosen.lookalike
    copy = copied(chosen, internal)
    is_copy = copy >= 0
    src = np.maximum(copy, 0)
    country = np.where(is_copy, country[src], country)
    industry = np.where(is_copy, industry[src], industry)
    webmail_sandbox = sandbox & ~is_copy & (u.domain < COPY_SHARE + WEBMAIL_SHARE)
    webmail_lookalike = lookalike & (u.hint < LOOKALIKE_WEBMAIL_ONLY) | lookalike & (
        u.hint >= LOOKALIKE_WEBMAIL_ONLY + LOOKALIKE_NAME_ONLY
    )
    webmail = webmail_sandbox | webmail_lookalike
    rows = np.nonzero(sandbox | lookalike)[0]
    c, w = country[rows], webmail[rows]
    owner = _people(params, c, u.owner_first[rows], u.owner_last[rows], u.local_style[rows], u.digits[rows], w)
    partner = _people(
        params, c, u.partner_first[rows], u.partner_last[rows], u.partner_style[rows], u.partner_digits[rows], w
    )
    new_domain = domain.copy()
    new_domain[is_copy] = domain[src[is_copy]]
    new_domain[webmail] = _webmail(u.webmail[webmail])
    name = account_name.copy()
    name[rows] = _names(chosen, is_copy, np.where(is_copy, account_name[src], account_name), owner, rows)
    people = _addresses(chosen, rows, is_copy, owner, partner, new_domain, n_users)
    return Labels(name, new_domain, country, industry, people)


def _names(chosen: Chosen, is_copy: np.ndarray, source_name: np.ndarray, owner: _Person, rows: np.ndarray):
    """Account names of the chosen rows: a copy of its customer ("Acme (test)"), a person's own ("Jane's
    workspace") or a throwaway one ("Sandbox 2") for sandboxes; a lookalike keeps its company name when only
    its domain hints, else a name like a sandbox's or a freelancer's ("My workspace", "Jane Doe Design")."""
    u = chosen.u
    sb, copy = chosen.sandbox[rows], is_copy[rows]
    style, pick, company = u.name_style[rows], u.name_pick[rows], source_name[rows]  # its own, or the copied one
    throwaway = _pick(vocab.SANDBOX_NAMES, pick)
    number = (2 + np.floor(u.number[rows] * 3)).astype(np.int64).astype(str).astype(object)
    numbered = (u.number[rows] < NUMBERED_SHARE) & ~_pick(ENDS_IN_DIGIT, pick).astype(bool)  # not "test123 2"
    throwaway = np.where(numbered, throwaway + " " + number, throwaway)
    personal = _fill(_pick(vocab.PERSONAL_WORKSPACES, pick), owner.first, owner.last, company)
    copies = _fill(_pick(vocab.COMPANY_COPIES, pick), owner.first, owner.last, company)
    sandbox_name = np.where(copy, copies, np.where(style < PERSONAL_SHARE, personal, throwaway))
    freelancer = _fill(_pick(vocab.LOOKALIKE_NAMES, pick), owner.first, owner.last, company)
    keeps_name = u.hint[rows] < LOOKALIKE_WEBMAIL_ONLY
    return np.where(sb, sandbox_name, np.where(keeps_name, company, freelancer))


def _addresses(
    chosen: Chosen,
    rows: np.ndarray,
    is_copy: np.ndarray,
    owner: _Person,
    partner: _Person,
    domain: np.ndarray,
    n_users: np.ndarray,
) -> People:
    """The chosen rows' people: a sandbox's second user is its owner again on a plus address
    (jane.doe+test); on a customer's domain the owner uses a plus address too (the customer's own users
    never do), so no address is taken twice; a lookalike's second user is another person. Repeats among
    them get a number (jane.doe2)."""
    n = len(chosen.sandbox)
    sb, copy = chosen.sandbox[rows], is_copy[rows]
    tags = np.array(vocab.PLUS_TAGS, dtype=object)
    t = np.minimum(np.floor(chosen.u.tag[rows] * len(tags)).astype(np.int64), len(tags) - 1)
    owner_local = np.where(copy, owner.local + "+" + tags[t], owner.local)
    plus = owner.local + "+" + tags[np.where(copy, (t + 1) % len(tags), t)]
    partner_local = np.where(sb, plus, partner.local)
    partner_name = np.where(sb, owner.name, partner.name)
    two = n_users[rows] >= 2
    locals_ = _unique(np.r_[owner_local, partner_local[two]], np.r_[domain[rows], domain[rows][two]])
    out = People(*(np.full(n, "", dtype=object) for _ in range(4)))
    out.owner_name[rows], out.owner_local[rows] = owner.name, locals_[: len(rows)]
    out.partner_name[rows[two]], out.partner_local[rows[two]] = partner_name[two], locals_[len(rows) :]
    return out


def _unique(local: np.ndarray, domain: np.ndarray) -> np.ndarray:
    """Local parts made unique per domain: a repeat gets a number (jane.doe, jane.doe2, ...), again until no
    address repeats."""
    local = local.copy()
    for _ in range(100):
        address = local + "@" + domain
        _, inverse, counts = np.unique(address, return_inverse=True, return_counts=True)
        if (counts == 1).all():
            return local
        order = np.argsort(inverse, kind="stable")
        rank = np.empty(len(local), dtype=np.int64)
        starts = np.r_[0, np.cumsum(counts)[:-1]]
        rank[order] = np.arange(len(local)) - np.repeat(starts, counts)
        local = np.where(rank > 0, local + (rank + 1).astype(str).astype(object), local)
    raise AssertionError("e-mail addresses of test workspaces could not be made unique")
