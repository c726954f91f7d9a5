from dlwpt.runs import run_settings  # noqa: F401 (the old name, until rules/train.smk uses dlwpt.runs)
