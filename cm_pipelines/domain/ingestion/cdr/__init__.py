"""Asterisk ``cdr_csv`` (Master.csv) into normalised call rows, bad lines quarantined.

The file has 18 positional fields and no header. Every field is read as a string: type
inference turns ``0491570156`` into an integer and ``+61...`` into a float.

``reader.read_cdr_csv`` is the production reader (pyarrow parse, vectorised validation, each
distinct number parsed once per tenant); ``naive_reader.read_cdr_csv_naive`` builds the same
result row by row and is the benchmark baseline and the test oracle. Both follow the line policy
of ``lines`` and refuse a line for the first of the reasons in ``refusals`` it fails.

Modules, in the order a line meets them:

- ``layout``: the 18 input fields, the output columns, the shapes and widths a field must have;
- ``lines``: physical lines and the refusals made before any CSV parsing;
- ``csv_parsing``: candidate lines into a table of 18 string columns;
- ``refusals``: what each refusal says;
- ``validation``: the vectorised field checks and duplicate detection;
- ``fields``: what a field means (direction, caller name, userfield values), per value and
  per column;
- ``calls``: the accepted rows as the normalised call columns;
- ``reader`` and ``naive_reader``: the two readers.
"""
