"""Do-not-call rules: registry definitions, sorted number sets and their index, the registry
file formats (FTC flat files, E.164 CSV, wash results, zips), evidence and its validity, calling
windows, and the decision for each number in its order of precedence."""
