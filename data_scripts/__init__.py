"""Fetch and prepare the paper's real datasets (OpenML by task id, or a local mirror).

Entry point: ``python -m data_scripts.prepare [--mirror DIR] [--only NAME ...] [--force]``
(also ``python -m data_scripts``). See :mod:`data_scripts.prepare`.
"""
