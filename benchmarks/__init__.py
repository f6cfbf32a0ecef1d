"""Benchmarks: what a resident's tap costs against bare python-telegram-bot (issue 7).

Run with `make bench` or `python -m benchmarks [--quick]`; the last line printed is one JSON object.
"""
