"""Data-subject request rules: validating a request, the statutory clock, planning what to do
with each located record (with exemptions), masking in packages, sealed keys."""
