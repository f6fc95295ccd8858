"""Evaluation data for Sijill's OCR: synthetic Arabic pages with known text, and the error rates measured on them.

Its own package because it is not part of reading a page: the worker never needs it, the tests and benchmarks do.
A pure library like ``ocr`` (which it may use); ``ocr`` itself never imports it (docs/ARCHITECTURE.md).
"""
