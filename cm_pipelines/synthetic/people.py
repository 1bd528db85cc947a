"""Fictional contacts: a stable name, phone number and email per person.

Caller-ID names come in the shapes that break naive parsers: ``Smith, J`` (a comma inside a CSV
field) and ``O"Brien, K`` (a quote that cdr_csv doubles). Emails use the reserved ``example``
domains and a per-world serial, so every person's email is unique.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cm_pipelines.synthetic.numbers import NumberPlan, PhoneForms, phone_forms

FIRST_NAMES: tuple[str, ...] = (
    "Jane", "Liam", "Olivia", "Noah", "Amelia", "Jack", "Mia", "Lucas", "Aisha", "Wei",
    "Priya", "Mateo", "Sofia", "Hiro", "Chloe", "Ethan", "Zara", "Omar", "Grace", "Ravi",
    "Hannah", "Kai", "Isla", "Daniel", "Mei", "Samuel", "Leila", "Tom", "Nina", "Arjun",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Doe", "Smith", "Nguyen", "O'Brien", "Patel", "Garcia", "Tan", "Williams", "Kowalski",
    "Chen", "D'Souza", "Murphy", "Lim", "Brown", "Okafor", "Rossi", "Kumar", "O'Neill",
    "Taylor", "Haddad", "Wong", "Martin", "Novak", "Singh", "Walker", "Lee", "Fischer",
)  # fmt: skip
EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.org", "example.net")

COMMA_NAME_STYLE = 1
QUOTE_NAME_STYLE = 3
_NAME_STYLES = 5  # 0 "Jane Doe", 1 "Doe, J", 2 "DOE JANE", 3 'O"Brien, K', 4 none (number shown)


@dataclass(slots=True)
class Person:
    """A data subject as the synthetic world knows them."""

    serial: int
    first: str
    last: str
    email: str
    phone: PhoneForms
    caller_name: str
    """Caller-ID name the PBX shows, empty when the network sends only the number."""

    @property
    def full_name(self) -> str:
        return f"{self.first} {self.last}"

    def identifiers(self) -> tuple[str, ...]:
        """Every raw identifier of this person the world may write."""
        names = (self.full_name, self.caller_name) if self.caller_name else (self.full_name,)
        return (*names, self.email, *self.phone.all_forms())


def caller_id_name(first: str, last: str, style: int) -> str:
    """The caller-ID (CNAM) text for a name; style 3 mimics a CNAM feed that turns ' into "."""
    if style == 0:
        return f"{first} {last}"
    if style == COMMA_NAME_STYLE:
        return f"{last}, {first[0]}"
    if style == 2:
        return f"{last.upper()} {first.upper()}"
    if style == QUOTE_NAME_STYLE and "'" in last:
        quoted_last = last.replace("'", '"')
        return f"{quoted_last}, {first[0]}"
    if style == QUOTE_NAME_STYLE:
        return f"{first} {last}"
    return ""


def _email(first: str, last: str, serial: int, domain: str) -> str:
    local_last = "".join(ch for ch in last.lower() if ch.isalpha())
    return f"{first.lower()}.{local_last}{serial}@{domain}"


def make_people(
    plan: NumberPlan,
    national_numbers: list[str],
    rng: np.random.Generator,
    first_serial: int,
) -> list[Person]:
    """One person per number; persons 2 and 3 always carry the comma and the quote name.

    Persons 0 and 1 (the DSAR subjects) always have a plain ``First Last`` caller-ID name.
    """
    count = len(national_numbers)
    firsts = rng.integers(0, len(FIRST_NAMES), count).tolist()
    lasts = rng.integers(0, len(LAST_NAMES), count).tolist()
    styles = rng.choice(_NAME_STYLES, size=count, p=[0.35, 0.2, 0.1, 0.1, 0.25]).tolist()
    domains = rng.integers(0, len(EMAIL_DOMAINS), count).tolist()
    fixed_styles = {0: 0, 1: 0, 2: COMMA_NAME_STYLE, 3: QUOTE_NAME_STYLE}
    apostrophe_names = [name for name in LAST_NAMES if "'" in name]
    people = []
    for index, nsn in enumerate(national_numbers):
        first, last = FIRST_NAMES[firsts[index]], LAST_NAMES[lasts[index]]
        if index == 3:
            last = apostrophe_names[lasts[index] % len(apostrophe_names)]
        serial = first_serial + index
        style = fixed_styles.get(index, styles[index])
        people.append(
            Person(
                serial=serial,
                first=first,
                last=last,
                email=_email(first, last, serial, EMAIL_DOMAINS[domains[index]]),
                phone=phone_forms(plan, nsn),
                caller_name=caller_id_name(first, last, style),
            )
        )
    return people
