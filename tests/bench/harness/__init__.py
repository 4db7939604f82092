"""The parts of bench/run.py: common (paths, CPUs, processes), tools (installs), targets
(how each server starts), measure (wrk and bcrypt), report (medians and the table)."""
