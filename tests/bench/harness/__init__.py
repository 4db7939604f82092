"""The parts of tests/bench/run.py: common (paths, CPUs, processes), tools (installs), targets
(how each server starts), measure (wrk and bcrypt), report (medians and the table), chart (its
SVG), extras and extras_report (the opt-in scenarios), paired (the paired commands), and the
in-process tools signin_cpu, instructions, profile_app and two_cores."""
