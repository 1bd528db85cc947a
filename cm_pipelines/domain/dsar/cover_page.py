"""The cover page of an access package (``index.html``): what GDPR Art. 15(1) says a requester
is owed besides the copy of the data, written for a person, readable in any browser offline.

Art. 15(1): (a) purposes, (b) categories, (c) recipients, (d) retention period or the criteria
for it, (e) the rights to rectification, erasure, restriction and objection, (f) the right to
complain to a supervisory authority, (g) the source of data not collected from the subject,
(h) automated decision-making. The same facts serve CCPA's right to know and APP 12.

What the page says was masked comes from ``MASKED`` and ``NOT_MASKED`` here, next to nothing
else: whoever changes the masking changes these statements in the same review.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

from cm_pipelines.domain.dsar import planning

MASKED: tuple[str, ...] = (
    "In call records, the other party's phone number (shown as country code and last three "
    "digits, e.g. +61******156) and, when you did not place the call, the caller-ID name "
    "([name]).",
    "In transcripts, AI summaries and receptionist notes, every phone number and email address "
    "that is not one of yours ([phone], [email]).",
    "In transcripts, AI summaries and receptionist notes, names of other people ([name]): the "
    "caller-ID names of the other parties of your calls wherever they appear, and names found "
    "by an automatic name finder (titles such as Mr, Puan or Dr, family links such as bin, "
    "binti or s/o, phrases such as 'my partner ...', and lists of common given names and "
    "surnames). Where the name finder was unsure whether a word was a name, it was masked "
    "too, and a privacy officer reviewed the package before it was released to you. Your own "
    "caller-ID name is not masked.",
)
NOT_MASKED: tuple[str, ...] = (
    "The name finder is automatic and can miss a name (most often one written in lower case, "
    "or an unusual name with no title or phrase around it) or mask a word that is not a name.",
    "Recordings are the audio as recorded, including the other party's voice and any names "
    "spoken in it.",
)

CATEGORY_LABELS: dict[str, tuple[str, str]] = {
    planning.CALLS: ("Call records", "the telephone system (call detail records)"),
    planning.RECORDINGS: ("Call recordings", "the telephone system, when calls are recorded"),
    planning.TRANSCRIPTS: ("Transcripts", "speech-to-text of the recordings"),
    planning.AI_OUTPUTS: ("AI summaries and notes", "AI models run on the transcripts"),
    planning.CRM_LINKS: ("CRM links", "the organisation's CRM system"),
    planning.CONSENTS: ("Consents to be called", "forms and records the organisation keeps"),
    planning.WASH_RESULTS: (
        "Do-not-call checks",
        "do-not-call registers and the organisation's lists",
    ),
    planning.BLOCKED_CALLS: ("Blocked calls", "do-not-call checks before dialling"),
    planning.SUPPRESSION: ("Do-not-call list entries", "your requests and the organisation"),
    planning.RESTRICTIONS: ("Restrictions of processing", "your earlier requests"),
}
RETENTION_LABELS: dict[str, str] = {
    "call_logs": "Call records",
    "recordings": "Recordings",
    "transcripts": "Transcripts",
    "ai_summaries": "AI summaries and notes",
    "crm_links": "CRM links",
    "wash_results": "Do-not-call checks",
    "dsar_case_files": "Records of requests like this one",
}
COMPLAINTS: dict[str, str] = {
    "gdpr": "the data protection supervisory authority of the country where you live or work "
    "or where you think the law was broken (in the United Kingdom, the Information "
    "Commissioner's Office, ico.org.uk; in the EU, your national authority listed at "
    "edpb.europa.eu)",
    "ccpa": "the California Privacy Protection Agency (cppa.ca.gov) or the California Attorney "
    "General (oag.ca.gov/privacy)",
    "au": "the Office of the Australian Information Commissioner (oaic.gov.au), if the "
    "organisation does not answer your complaint within 30 days",
}


@dataclass(frozen=True)
class Disclosure:
    """The facts the cover page states; ids, names of organisations and counts only."""

    controller: str
    request_id: str
    request_type: str
    jurisdiction: str
    generated_at: str
    expires_at: str
    categories: Mapping[str, int]
    crm_systems: Sequence[str] = ()
    registries: Sequence[str] = ()
    retention_days: Mapping[str, int] = field(default_factory=dict)
    files: Sequence[str] = ()


def _list(items: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{escape(item)}</li>" for item in items) + "</ul>"


def _rows(rows: Sequence[Sequence[str]]) -> str:
    return "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
    )


def _recipients(disclosure: Disclosure) -> list[str]:
    recipients = [
        "Call Manager, the telephony provider that records, transcribes and summarises calls "
        f"and keeps these records for {disclosure.controller} (a processor acting on its "
        "instructions)."
    ]
    recipients += [
        f"{system}: the CRM system where {disclosure.controller} keeps your contact record."
        for system in disclosure.crm_systems
    ]
    if disclosure.registries:
        recipients.append(
            "Operators of do-not-call registers ("
            + ", ".join(disclosure.registries)
            + ") when your number is checked against them before a call."
        )
    return recipients


def _sections(disclosure: Disclosure) -> list[str]:
    counts = [
        (CATEGORY_LABELS.get(name, (name, ""))[0], str(count), f"data/{name}.csv, .json")
        for name, count in sorted(disclosure.categories.items())
    ]
    sources = sorted(
        {CATEGORY_LABELS[name][1] for name in disclosure.categories if name in CATEGORY_LABELS}
    )
    retention = [
        (RETENTION_LABELS.get(kind, kind), f"{days} days")
        for kind, days in sorted(disclosure.retention_days.items())
    ]
    complaint = COMPLAINTS.get(disclosure.jurisdiction, COMPLAINTS["gdpr"])
    return [
        "<h2>Why your data is processed</h2>"
        + _list(
            [
                f"To provide {disclosure.controller}'s telephone service: connecting, logging "
                "and, where enabled, recording calls.",
                "To transcribe recordings and write AI summaries and receptionist notes, so "
                "staff can follow up your calls.",
                "To link calls to your record in the organisation's CRM system.",
                "To respect do-not-call rules: check numbers against registers, your consents "
                "and do-not-call lists before an outbound call.",
                "To keep records the law requires (consents, do-not-call decisions, requests "
                "like this one).",
            ]
        ),
        "<h2>What data (categories) and where it is in this package</h2>"
        "<table><tr><th>Category</th><th>Records</th><th>Files</th></tr>"
        + _rows(counts)
        + "</table><p>Recordings are under <code>recordings/</code>, transcripts as text "
        "under <code>transcripts/</code>.</p>",
        "<h2>Who receives it</h2>" + _list(_recipients(disclosure)),
        "<h2>How long it is kept</h2><p>Each record is deleted when its period, counted from "
        "the call or the record's date, runs out, unless a legal hold requires it to be kept "
        "longer. Transcripts and AI notes never outlive their call.</p>"
        "<table><tr><th>Record</th><th>Kept for</th></tr>" + _rows(retention) + "</table>",
        "<h2>Where it came from</h2>" + _list(sources or ["you, when you called or were called"]),
        "<h2>Automated processing</h2><p>Calls may be transcribed and summarised by AI models. "
        "Do-not-call checks decide automatically whether an outbound call to your number is "
        "allowed, from the registers, your consents and do-not-call lists. No other decision "
        "about you is made by automated means alone.</p>",
        "<h2>Your rights</h2>"
        + _list(
            [
                "Ask for incorrect data to be corrected (rectification).",
                "Ask for your data to be erased.",
                "Ask for processing to be restricted, or object to it (including to calls for "
                "marketing).",
                "Receive the data you provided in a machine-readable form (the CSV and JSON "
                "files here).",
                f"Complain to {complaint}.",
            ]
        )
        + f"<p>To use them, contact {escape(disclosure.controller)} and quote request "
        f"<code>{escape(disclosure.request_id)}</code>.</p>",
        "<h2>What was masked in this package, and what was not</h2><p>Calls involve other "
        "people, whose data is protected too.</p><p>Masked:</p>"
        + _list(list(MASKED))
        + "<p>Not masked:</p>"
        + _list(list(NOT_MASKED)),
        "<h2>Checking the files</h2><p><code>manifest.json</code> lists every file with its "
        "size and SHA-256 digest. The package is deleted from our systems on "
        f"{escape(disclosure.expires_at)}; keep your own copy.</p>",
    ]


def cover_page(disclosure: Disclosure) -> bytes:
    """``index.html``: a self-contained page (no script, no remote content)."""
    title = f"Your personal data held by {disclosure.controller}"
    head = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>body{{font-family:sans-serif;max-width:48em;"
        "margin:2em auto;line-height:1.4}table{border-collapse:collapse}td,th{border:1px "
        "solid #999;padding:.2em .6em;text-align:left}</style></head><body>"
    )
    intro = (
        f"<h1>{escape(title)}</h1><p>This is the answer to your "
        f"{escape(disclosure.request_type)} request <code>{escape(disclosure.request_id)}"
        f"</code>, prepared on {escape(disclosure.generated_at)}. It holds a copy of the "
        "personal data held about you and the information the law says you should receive "
        "with it.</p>"
    )
    return (head + intro + "".join(_sections(disclosure)) + "</body></html>\n").encode("utf-8")


def readme_text(disclosure: Disclosure | None, request_id: str, request_type: str) -> bytes:
    """``README.txt``: where to start, and the masking statements in plain text."""
    lines = [
        "Your personal data",
        "",
        f"Request: {request_id} ({request_type})",
        "",
        "Start with index.html (open it in any web browser): why your data is processed, who",
        "receives it, how long it is kept, where it came from and your rights.",
        "data/<category>.csv and data/<category>.json hold the same records in two formats.",
        "recordings/ holds call recordings, transcripts/ the text of your calls.",
        "manifest.json lists every file with its SHA-256 so you can check nothing was altered.",
        "Spreadsheet note: a CSV cell that began with = + - or @ starts with ' (so it is not run",
        "as a formula).",
        "",
        "Masked:",
        *(f"- {line}" for line in MASKED),
        "Not masked:",
        *(f"- {line}" for line in NOT_MASKED),
    ]
    if disclosure is not None:
        lines += ["", f"Held by: {disclosure.controller}"]
    return ("\n".join(lines) + "\n").encode("utf-8")
