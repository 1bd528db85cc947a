"""What recorded calls say: transcript turns and the AI summary / receptionist note made from them.

Callers read out their number (spoken digit by digit as speech-to-text writes it, or as written
digits) and their email; some also give the number and email of another person, so a transcript can
hold a second data subject.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from cm_pipelines.synthetic.formats import Turn
from cm_pipelines.synthetic.numbers import spoken_digits
from cm_pipelines.synthetic.people import Person

AGENT, CUSTOMER = 0, 1
REASONS: tuple[str, ...] = (
    "move my appointment",
    "ask about my invoice",
    "book a consultation",
    "cancel my booking",
    "update my address",
    "follow up on a quote",
)
RELATIONS: tuple[str, ...] = ("partner", "colleague", "flatmate", "business partner", "assistant")


@dataclass
class Conversation:
    turns: list[Turn]
    summary: str
    receptionist_note: str
    written_identifiers: list[str] = field(default_factory=list)
    """Identifier spellings only transcripts use (spoken digits), for the world's leak list."""


def _number_mention(rnd: random.Random, person: Person, local: bool, out: list[str]) -> str:
    phone = person.phone
    if not local:
        choice = rnd.choice(("e164_spaced", "spoken_e164"))
        if choice == "e164_spaced":
            return phone.e164_spaced
        spoken = "plus " + spoken_digits(phone.e164_digits)
    else:
        choice = rnd.choice(("spoken", "spoken", "written", "e164_spaced"))
        if choice == "written":
            return phone.written
        if choice == "e164_spaced":
            return phone.e164_spaced
        spoken = spoken_digits(phone.national, rnd.choice(("oh", "oh", "zero")))
    out.append(spoken)
    return spoken


def _contact_line(person: Person, local: bool) -> str:
    return person.phone.written if local else person.phone.e164_spaced


def converse(
    rnd: random.Random,
    *,
    business: str,
    outbound: bool,
    caller: Person | None,
    caller_is_local: bool = True,
    second: Person | None = None,
    campaign: str | None = None,
) -> Conversation:
    """A short call between the business (speaker 0) and the other party (speaker 1)."""
    if caller is None:
        turns: list[Turn] = [
            (AGENT, f"Good morning, {business}, how can I help?"),
            (CUSTOMER, "Hi, I'd rather not give my name, I just want to ask about opening hours."),
            (AGENT, "Of course, we are open from eight until six on weekdays."),
            (CUSTOMER, "Great, thanks, bye."),
        ]
        return Conversation(
            turns=turns,
            summary="An anonymous caller asked about opening hours; no details were taken.",
            receptionist_note="No follow-up needed: anonymous opening-hours enquiry.",
        )
    written: list[str] = []
    reason = rnd.choice(REASONS)
    mention = _number_mention(rnd, caller, caller_is_local, written)
    if outbound:
        topic = f"the {campaign.replace('-', ' ')} campaign" if campaign else "your recent enquiry"
        turns = [
            (AGENT, f"Hi, this is {business} calling for {caller.full_name}."),
            (CUSTOMER, "Speaking."),
            (
                AGENT,
                f"We're calling about {topic}. Can I confirm your number is {mention} "
                f"and your email is {caller.email}?",
            ),
            (CUSTOMER, "Yes, that's right."),
        ]
        summary = (
            f"Outbound call to {caller.full_name} about {topic}; confirmed "
            f"{_contact_line(caller, caller_is_local)} and {caller.email}."
        )
        note = f"Follow up with {caller.full_name} on {_contact_line(caller, caller_is_local)}."
    else:
        turns = [
            (AGENT, f"Good morning, {business}, how can I help?"),
            (CUSTOMER, f"Hi, it's {caller.full_name}, I'd like to {reason}."),
            (AGENT, f"Sure, is this still the best number, {mention}?"),
            (CUSTOMER, f"Yes, or email {caller.email}."),
        ]
        summary = (
            f"{caller.full_name} called to {reason}. Contact confirmed as "
            f"{_contact_line(caller, caller_is_local)} and {caller.email}."
        )
        note = (
            f"Call back {caller.full_name} on {_contact_line(caller, caller_is_local)} "
            f"re: {reason}."
        )
    if second is not None:
        relation = rnd.choice(RELATIONS)
        second_mention = _number_mention(rnd, second, True, written)
        turns.append(
            (
                CUSTOMER,
                f"Also, please add my {relation} {second.full_name}, on {second_mention}, "
                f"email {second.email}.",
            )
        )
        turns.append((AGENT, "Noted, I've added them to the file."))
        summary += f" Added {relation} {second.full_name} ({second.phone.written})."
    turns.append((AGENT, "Thanks, you're all set. Have a good day."))
    return Conversation(
        turns=turns, summary=summary, receptionist_note=note, written_identifiers=written
    )
