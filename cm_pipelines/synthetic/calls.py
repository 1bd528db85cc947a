"""A tenant's calls as parallel numpy arrays, rendered in bulk as Asterisk cdr_csv lines.

A million calls must render in seconds, so nothing here builds an object per call: choices are
vectorised, per-person CDR strings are quoted once and picked by fancy indexing, and each line is
one f-string.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cm_pipelines.synthetic.formats import cdr_quote
from cm_pipelines.synthetic.people import Person

INBOUND, OUTBOUND, INTERNAL, ANONYMOUS = 0, 1, 2, 3
DIRECTION_SHARES = (0.55, 0.28, 0.10, 0.07)
ANSWERED, NO_ANSWER, BUSY, FAILED = 0, 1, 2, 3
DISPOSITIONS = ("ANSWERED", "NO ANSWER", "BUSY", "FAILED")
_DISPOSITION_SHARES = {
    INBOUND: (0.78, 0.14, 0.04, 0.04),
    OUTBOUND: (0.55, 0.33, 0.08, 0.04),
    INTERNAL: (0.85, 0.12, 0.02, 0.01),
    ANONYMOUS: (0.78, 0.14, 0.04, 0.04),
}
NATIONAL_FORM, SPACED_E164_FORM, E164_FORM = 0, 1, 2
"""How the PBX shows an external caller: ``0491570156``, ``+61 491 570 156``, ``+61491570156``."""
_SHOWN_FORM_SHARES = (0.7, 0.15, 0.15)
FIRST_START_S = 7 * 3600
LAST_START_S = 21 * 3600
MAX_TALK_S = 7200
_HMS = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]


@dataclass(frozen=True)
class ForcedCall:
    """A call the world needs to exist (a DSAR subject's call, a name with a quote ...)."""

    direction: int
    person: int = -1
    form: int = NATIONAL_FORM
    crm: bool = False
    campaign: int = -1
    second_person: int = -1


@dataclass
class CallTable:
    """One row per call, sorted by start time; ``person`` is -1 for internal and anonymous."""

    day: np.ndarray
    start: np.ndarray
    direction: np.ndarray
    person: np.ndarray
    form: np.ndarray
    disposition: np.ndarray
    ring: np.ndarray
    talk: np.ndarray
    ext: np.ndarray
    other_ext: np.ndarray
    campaign: np.ndarray
    via_dialer: np.ndarray
    queue: np.ndarray
    to_did: np.ndarray
    crm: np.ndarray
    second_person: np.ndarray
    epoch: np.ndarray
    seq: np.ndarray

    def __len__(self) -> int:
        return len(self.day)

    @property
    def answered(self) -> np.ndarray:
        return self.disposition == ANSWERED

    @property
    def billsec(self) -> np.ndarray:
        return np.where(self.answered, self.talk, 0)

    @property
    def duration(self) -> np.ndarray:
        return self.ring + self.billsec

    @property
    def external(self) -> np.ndarray:
        return self.direction != INTERNAL

    def uniqueid(self, index: int) -> str:
        return f"{int(self.epoch[index])}.{int(self.seq[index])}"

    def uniqueids(self, indices: np.ndarray) -> list[str]:
        epochs, seqs = self.epoch[indices].tolist(), self.seq[indices].tolist()
        return [f"{e}.{s}" for e, s in zip(epochs, seqs, strict=True)]

    def day_bounds(self, days: int) -> np.ndarray:
        """``bounds[d]:bounds[d+1]`` are the rows of day ``d``."""
        return np.searchsorted(self.day, np.arange(days + 1), side="left")


def forced_positions(count: int, wanted: int) -> np.ndarray:
    """Spread forced calls over the period instead of bunching them on the first morning."""
    k = min(count, wanted)
    return np.linspace(0, count - 1, k).round().astype(np.int64) if k else np.zeros(0, np.int64)


def generate_calls(
    rng: np.random.Generator,
    *,
    count: int,
    days: int,
    day_epochs: np.ndarray,
    person_weights: np.ndarray,
    campaign_members: Sequence[np.ndarray],
    extensions: int,
    forced: Sequence[ForcedCall],
    seq_base: int,
) -> CallTable:
    """Draw ``count`` calls; the first ``len(forced)`` rules override evenly spaced calls."""
    local_people = len(person_weights)
    day = rng.integers(0, days, count)
    start = rng.integers(FIRST_START_S, LAST_START_S, count)
    order = np.lexsort((start, day))
    day, start = day[order], start[order]
    direction = rng.choice(4, size=count, p=DIRECTION_SHARES)
    person = rng.choice(local_people, size=count, p=person_weights)
    form = rng.choice(3, size=count, p=_SHOWN_FORM_SHARES)
    dial_form = rng.random(count) < 0.15
    form = np.where(direction == OUTBOUND, np.where(dial_form, E164_FORM, NATIONAL_FORM), form)

    campaign = np.full(count, -1, dtype=np.int64)
    if campaign_members:
        is_campaign = (direction == OUTBOUND) & (rng.random(count) < 0.6)
        chosen = rng.integers(0, len(campaign_members), count)
        for index, members in enumerate(campaign_members):
            mask = is_campaign & (chosen == index)
            campaign[mask] = index
            person[mask] = members[rng.integers(0, len(members), int(mask.sum()))]
    via_dialer = (campaign >= 0) & (rng.random(count) < 0.7)

    disposition = np.empty(count, dtype=np.int64)
    draws = rng.random(count)
    for kind, shares in _DISPOSITION_SHARES.items():
        mask = direction == kind
        disposition[mask] = np.searchsorted(np.cumsum(shares), draws[mask], side="right")
    disposition = np.minimum(disposition, FAILED)

    ring = rng.integers(2, 26, count)
    ring = np.where(disposition == NO_ANSWER, rng.integers(15, 46, count), ring)
    ring = np.where(disposition == BUSY, rng.integers(1, 13, count), ring)
    ring = np.where(disposition == FAILED, rng.integers(0, 3, count), ring)
    talk = np.clip(rng.lognormal(4.6, 1.0, count), 5, MAX_TALK_S).astype(np.int64)

    ext = rng.integers(0, extensions, count)
    other_ext = (ext + rng.integers(1, extensions, count)) % extensions
    queue = rng.random(count) < 0.3
    to_did = rng.random(count) < 0.5
    crm = ((direction == INBOUND) | ((direction == OUTBOUND) & (campaign < 0))) & (
        rng.random(count) < 0.3
    )
    second = rng.integers(0, max(local_people - 1, 1), count)
    second = second + (second >= person)
    second_person = np.where(rng.random(count) < 0.25, second, -1)

    positions = forced_positions(count, len(forced))
    for position, rule in zip(positions.tolist(), forced, strict=False):
        direction[position] = rule.direction
        person[position] = rule.person
        form[position] = rule.form
        crm[position] = rule.crm
        campaign[position] = rule.campaign
        via_dialer[position] = False
        disposition[position] = ANSWERED
        ring[position] = max(int(ring[position]), 3)
        talk[position] = max(int(talk[position]), 40)
        second_person[position] = rule.second_person

    personless = (direction == INTERNAL) | (direction == ANONYMOUS)
    person[personless] = -1
    second_person[personless | (local_people < 2)] = -1
    crm[personless] = False
    campaign[personless | (direction == INBOUND)] = -1
    via_dialer &= campaign >= 0

    epoch = day_epochs[day] + start
    seq = seq_base + np.cumsum(rng.integers(1, 5, count))
    return CallTable(
        day=day,
        start=start,
        direction=direction,
        person=person,
        form=form,
        disposition=disposition,
        ring=ring,
        talk=talk,
        ext=ext,
        other_ext=other_ext,
        campaign=campaign,
        via_dialer=via_dialer,
        queue=queue,
        to_did=to_did,
        crm=crm,
        second_person=second_person,
        epoch=epoch,
        seq=seq,
    )


@dataclass(frozen=True)
class PbxView:
    """How one tenant's PBX writes everything in a CDR, pre-quoted for bulk rendering."""

    account: str
    did: str
    trunk: str
    business_caller_name: str
    extensions: tuple[str, ...]
    extension_names: tuple[str, ...]
    campaign_ids: tuple[str, ...]
    crm_userfields: np.ndarray
    src_by_form: np.ndarray
    clid_by_form: np.ndarray
    dst_by_form: np.ndarray
    dial_by_form: np.ndarray

    @classmethod
    def build(
        cls,
        *,
        account: str,
        did: str,
        trunk: str,
        business_caller_name: str,
        extensions: Sequence[str],
        extension_names: Sequence[str],
        campaign_ids: Sequence[str],
        crm_system: str,
        crm_ids: Sequence[int],
        people: Sequence[Person],
        local: Sequence[bool],
    ) -> PbxView:
        count = len(people)
        src = np.empty((3, count), dtype=object)
        clid = np.empty((3, count), dtype=object)
        dst = np.empty((3, count), dtype=object)
        dial = np.empty((3, count), dtype=object)
        for index, (person, is_local) in enumerate(zip(people, local, strict=True)):
            phone = person.phone
            shown = (
                (phone.national, phone.e164_spaced, phone.e164)
                if is_local
                else (phone.e164, phone.e164_spaced, phone.e164)
            )
            dialled = phone.trunk_dial if is_local else phone.e164
            for form, number in enumerate(shown):
                compact = number.replace(" ", "")
                src[form, index] = cdr_quote(number)
                clid[form, index] = cdr_quote(f'"{person.caller_name or compact}" <{compact}>')
            for form, number in ((NATIONAL_FORM, shown[0]), (E164_FORM, dialled)):
                dst[form, index] = cdr_quote(number)
                dial[form, index] = number
            dst[SPACED_E164_FORM, index] = dst[NATIONAL_FORM, index]
            dial[SPACED_E164_FORM, index] = dial[NATIONAL_FORM, index]
        crm_userfields = np.array(
            [cdr_quote(f"crm={crm_system}:contact/{crm_id}") for crm_id in crm_ids], dtype=object
        )
        return cls(
            account=cdr_quote(account),
            did=did,
            trunk=trunk,
            business_caller_name=business_caller_name,
            extensions=tuple(extensions),
            extension_names=tuple(extension_names),
            campaign_ids=tuple(campaign_ids),
            crm_userfields=crm_userfields,
            src_by_form=src,
            clid_by_form=clid,
            dst_by_form=dst,
            dial_by_form=dial,
        )


def _pick(count: int, default: str) -> np.ndarray:
    column = np.empty(count, dtype=object)
    column[:] = default
    return column


def render_cdr(calls: CallTable, rows: slice, view: PbxView, call_date: str) -> bytes:
    """The Master.csv lines of ``calls[rows]`` (all on ``call_date``), in cdr_csv's layout."""
    idx = np.arange(rows.start, rows.stop)
    count = len(idx)
    if count == 0:
        return b""
    direction = calls.direction[idx]
    person = calls.person[idx]
    form = calls.form[idx]
    ext = calls.ext[idx]
    other = calls.other_ext[idx]
    dialer = calls.via_dialer[idx]
    inbound = (direction == INBOUND) | (direction == ANONYMOUS)
    known = direction == INBOUND
    outbound = direction == OUTBOUND
    ext_q = np.array([cdr_quote(e) for e in view.extensions], dtype=object)
    ext_clid = np.array(
        [
            cdr_quote(f'"{name}" <{e}>')
            for e, name in zip(view.extensions, view.extension_names, strict=True)
        ],
        dtype=object,
    )
    did_q = cdr_quote(view.did)

    src = ext_q[ext]
    src[known] = view.src_by_form[form[known], person[known]]
    src[direction == ANONYMOUS] = '"anonymous"'
    src[dialer] = did_q

    dst = ext_q[other]
    dst[inbound] = np.where(calls.to_did[idx][inbound], did_q, ext_q[ext[inbound]])
    dst[outbound] = view.dst_by_form[form[outbound], person[outbound]]

    context = _pick(count, '"from-internal"')
    context[inbound] = '"from-pstn"'
    context[dialer] = '"outbound"'

    clid = ext_clid[ext]
    clid[known] = view.clid_by_form[form[known], person[known]]
    clid[direction == ANONYMOUS] = cdr_quote('"Anonymous" <anonymous>')
    clid[dialer] = cdr_quote(f'"{view.business_caller_name}" <{view.did}>')

    trunk_channel = f"PJSIP/{view.trunk}"
    ext_channel = np.array([f"PJSIP/{e}" for e in view.extensions], dtype=object)
    channel = ext_channel[ext]
    channel[inbound] = trunk_channel
    dstchannel = ext_channel[other]
    dstchannel[inbound] = ext_channel[ext[inbound]]
    dstchannel[outbound] = trunk_channel
    chan_ids = ((calls.seq[idx] * 2) & 0xFFFFFFFF).tolist()
    failed = (calls.disposition[idx] == FAILED).tolist()
    channel_f = [f'"{p}-{c:08x}"' for p, c in zip(channel.tolist(), chan_ids, strict=True)]
    dstchannel_f = [
        '""' if f else f'"{p}-{c + 1:08x}"'
        for p, c, f in zip(dstchannel.tolist(), chan_ids, failed, strict=True)
    ]

    queue = calls.queue[idx] & known
    app = _pick(count, '"Dial"')
    app[queue] = '"Queue"'
    data = np.array([cdr_quote(f"PJSIP/{e},20") for e in view.extensions], dtype=object)[other]
    data[inbound] = np.array(
        [cdr_quote(f"PJSIP/{e},30,tTr") for e in view.extensions], dtype=object
    )[ext[inbound]]
    data[queue] = '"support,tT,,,300"'
    dial_numbers = view.dial_by_form[form[outbound], person[outbound]].tolist()
    timeouts = np.where(dialer[outbound], "45", "60,tT").tolist()
    data[outbound] = [
        f'"PJSIP/{n}@{view.trunk},{t}"' for n, t in zip(dial_numbers, timeouts, strict=True)
    ]

    userfield = _pick(count, '""')
    crm = calls.crm[idx]
    userfield[crm] = view.crm_userfields[person[crm]]
    campaign = calls.campaign[idx]
    has_campaign = campaign >= 0
    if has_campaign.any():
        campaign_q = np.array([cdr_quote(f"campaign={c}") for c in view.campaign_ids], object)
        userfield[has_campaign] = campaign_q[campaign[has_campaign]]

    start = calls.start[idx]
    billsec = calls.billsec[idx]
    duration = calls.ring[idx] + billsec
    answered = calls.answered[idx]
    answer_f = [
        f'"{call_date} {_HMS[s]}"' if a else '""'
        for s, a in zip((start + calls.ring[idx]).tolist(), answered.tolist(), strict=True)
    ]
    disposition_q = np.array([cdr_quote(d) for d in DISPOSITIONS], dtype=object)[
        calls.disposition[idx]
    ]
    account = view.account
    lines = [
        f"{account},{s},{d},{ctx},{cl},{ch},{dch},{ap},{da},"
        f'"{call_date} {_HMS[st]}",{an},"{call_date} {_HMS[en]}",{du},{bs},{di},'
        f'"DOCUMENTATION","{ep}.{sq}",{uf}\n'
        for s, d, ctx, cl, ch, dch, ap, da, st, an, en, du, bs, di, ep, sq, uf in zip(
            src.tolist(),
            dst.tolist(),
            context.tolist(),
            clid.tolist(),
            channel_f,
            dstchannel_f,
            app.tolist(),
            data.tolist(),
            start.tolist(),
            answer_f,
            (start + duration).tolist(),
            duration.tolist(),
            billsec.tolist(),
            disposition_q.tolist(),
            calls.epoch[idx].tolist(),
            calls.seq[idx].tolist(),
            userfield.tolist(),
            strict=True,
        )
    ]
    return "".join(lines).encode("utf-8")
