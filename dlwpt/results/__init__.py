"""Training runs as results: reading and checking them (`reading`) and comparing them
(`comparisons`, comparisons.csv). Below both the page (dlwpt.report) and the run history
(dlwpt.history), which read and compare runs the same way and import neither each other."""
