"""Fictional-but-valid phone numbers per country and every written form a number takes.

Numbers are drawn from blocks that ``phonenumbers.is_valid_number`` accepts for the country, drama /
documentation ranges first (AU 0491 57x and 0x 5550 / 7010, US 555 exchange, GB Ofcom 496 and
020 7946), a wider realistic block only once those are three-quarters used. The forms are computed
here from a per-block digit grouping instead of through ``phonenumbers`` (16k numbers/s) so that a
million-call world stays fast; a unit test checks them against ``phonenumbers``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_DIGIT_WORDS = ("oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True)
class NumberBlock:
    """National significant numbers ``prefix`` + random digits, written in ``groups``."""

    prefix: str
    length: int
    groups: tuple[int, ...]

    @property
    def capacity(self) -> int:
        return 10 ** (self.length - len(self.prefix))

    def number(self, offset: int) -> str:
        return f"{self.prefix}{offset:0{self.length - len(self.prefix)}d}"


@dataclass(frozen=True)
class NumberPlan:
    """Where a country's synthetic numbers come from and how its people write them."""

    country: str
    calling_code: str
    trunk_prefix: str
    fictional: tuple[NumberBlock, ...]
    fallback: tuple[NumberBlock, ...]

    @property
    def blocks(self) -> tuple[NumberBlock, ...]:
        return self.fictional + self.fallback

    def block_of(self, nsn: str) -> NumberBlock:
        for block in self.blocks:
            if len(nsn) == block.length and nsn.startswith(block.prefix):
                return block
        raise ValueError(f"number outside the {self.country} synthetic plan")


def _blocks(prefixes: list[str], length: int, groups: tuple[int, ...]) -> tuple[NumberBlock, ...]:
    return tuple(NumberBlock(prefix, length, groups) for prefix in prefixes)


US_AREA_CODES: tuple[str, ...] = ("212", "415", "312", "617", "305", "512", "206", "303")

PLANS: dict[str, NumberPlan] = {
    "AU": NumberPlan(
        country="AU",
        calling_code="61",
        trunk_prefix="0",
        fictional=_blocks(["49157"], 9, (3, 3, 3))
        + _blocks(
            ["25550", "35550", "75550", "85550", "27010", "37010", "77010", "87010"], 9, (1, 4, 4)
        ),
        fallback=_blocks(["412", "413", "414", "415", "416", "417", "418", "419"], 9, (3, 3, 3)),
    ),
    "US": NumberPlan(
        country="US",
        calling_code="1",
        trunk_prefix="",
        fictional=_blocks([f"{code}555" for code in US_AREA_CODES], 10, (3, 3, 4)),
        fallback=_blocks([f"{code}62" for code in US_AREA_CODES], 10, (3, 3, 4)),
    ),
    "SG": NumberPlan(
        country="SG",
        calling_code="65",
        trunk_prefix="",
        fictional=_blocks(["91", "98", "81", "87", "61", "62"], 8, (4, 4)),
        fallback=_blocks(["92", "93", "94", "95", "96", "97", "82", "83", "84"], 8, (4, 4)),
    ),
    "GB": NumberPlan(
        country="GB",
        calling_code="44",
        trunk_prefix="0",
        fictional=_blocks(["207946"], 10, (2, 4, 4))
        + _blocks(
            [f"{area}4960" for area in ("113", "114", "116", "117", "118", "121", "131", "141")]
            + ["1514960", "1614960", "1914980"],
            10,
            (3, 3, 4),
        )
        + _blocks(["7400"], 10, (4, 6)),
        fallback=_blocks(["7410", "7411", "7412", "7413", "7414"], 10, (4, 6)),
    ),
}


def plan_for(country: str) -> NumberPlan:
    """The number plan of a tenant country; refuses countries the generator has no plan for."""
    try:
        return PLANS[country]
    except KeyError:
        raise ValueError(
            f"no synthetic number plan for country {country!r}; known: {', '.join(sorted(PLANS))}"
        ) from None


def _draw_from(blocks: tuple[NumberBlock, ...], count: int, rng: np.random.Generator) -> list[str]:
    capacities = np.array([block.capacity for block in blocks], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(capacities)[:-1]))
    picks = rng.choice(int(capacities.sum()), size=count, replace=False)
    block_index = np.searchsorted(starts, picks, side="right") - 1
    offsets = picks - starts[block_index]
    return [
        blocks[b].number(o) for b, o in zip(block_index.tolist(), offsets.tolist(), strict=True)
    ]


def draw_national_numbers(plan: NumberPlan, count: int, rng: np.random.Generator) -> list[str]:
    """``count`` distinct national significant numbers, fictional blocks first."""
    fictional_capacity = sum(block.capacity for block in plan.fictional)
    fallback_capacity = sum(block.capacity for block in plan.fallback)
    from_fictional = min(count, fictional_capacity * 3 // 4)
    from_fallback = count - from_fictional
    if from_fallback > fallback_capacity * 3 // 4:
        raise ValueError(f"{count} numbers exceed the {plan.country} synthetic plan")
    numbers = _draw_from(plan.fictional, from_fictional, rng)
    if from_fallback:
        numbers += _draw_from(plan.fallback, from_fallback, rng)
    return numbers


def _grouped(nsn: str, groups: tuple[int, ...]) -> list[str]:
    parts, position = [], 0
    for size in groups:
        parts.append(nsn[position : position + size])
        position += size
    return parts


@dataclass(frozen=True, slots=True)
class PhoneForms:
    """One number as people and systems write it.

    ``national`` is the digits a PBX shows for a domestic caller (``0491570156``, ``2125550147``),
    ``written`` the spaced national form people type (``0491 570 156``, ``(212) 555-0147``),
    ``e164`` the compact ``+61491570156``, ``e164_spaced`` ``+61 491 570 156`` and ``e164_digits``
    ``61491570156`` (the form wash results use). ``trunk_dial`` is what a PBX dials for it from
    its own country (``1`` + number in NANP, else the national digits).
    """

    country: str
    nsn: str
    national: str
    written: str
    e164: str
    e164_spaced: str
    e164_digits: str
    trunk_dial: str

    def all_forms(self) -> tuple[str, ...]:
        return (
            self.national,
            self.written,
            self.e164,
            self.e164_spaced,
            self.e164_digits,
            self.trunk_dial,
        )


def phone_forms(plan: NumberPlan, nsn: str) -> PhoneForms:
    """Every written form of a national significant number of ``plan``."""
    parts = _grouped(nsn, plan.block_of(nsn).groups)
    national = plan.trunk_prefix + nsn
    if plan.country == "US":
        written = f"({parts[0]}) {parts[1]}-{parts[2]}"
        trunk_dial = "1" + nsn
    else:
        written = " ".join([plan.trunk_prefix + parts[0], *parts[1:]])
        trunk_dial = national
    return PhoneForms(
        country=plan.country,
        nsn=nsn,
        national=national,
        written=written,
        e164=f"+{plan.calling_code}{nsn}",
        e164_spaced=" ".join([f"+{plan.calling_code}", *parts]),
        e164_digits=f"{plan.calling_code}{nsn}",
        trunk_dial=trunk_dial,
    )


def spoken_digits(digits: str, zero_word: str = "oh") -> str:
    """Digits as a speech-to-text engine writes them out: ``oh four nine one ...``."""
    return " ".join(zero_word if d == "0" else _DIGIT_WORDS[int(d)] for d in digits)
