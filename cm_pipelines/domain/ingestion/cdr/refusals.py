"""What a refused ``cdr_csv`` line's quarantine detail says, per reason.

A detail names fields, counts and line numbers, never a value: it is shown in the UI and logs.
Both readers word every refusal with these, so their quarantines compare equal.
"""

from __future__ import annotations

DETAIL_ENCODING = "line is not valid UTF-8"
DETAIL_UNBALANCED = (
    "a quoted field is not closed on this line (line breaks inside fields are not supported)"
)
DETAIL_WRONG_COUNT = "expected {expected} fields, found {found}"
DETAIL_TENANT = "accountcode is not a configured tenant"
DETAIL_UNIQUEID = "uniqueid is empty"
DETAIL_BAD_UNIQUEID = "uniqueid must be 1-64 letters, digits, '.', '_' or '-' (no leading '.')"
DETAIL_CONTROL = "a field contains control characters"
DETAIL_TOO_LONG = "a field is longer than the warehouse column that stores it"
DETAIL_TIMESTAMP = "{field} is not a 'YYYY-MM-DD HH:MM:SS' timestamp"
DETAIL_ANSWER = "answer is neither empty nor a 'YYYY-MM-DD HH:MM:SS' timestamp"
DETAIL_INTEGER = "{field} is not a whole number of seconds"
DETAIL_DUPLICATE = "uniqueid repeats the call first seen on line {line} for this tenant"
