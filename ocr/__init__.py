"""Sijill's OCR library: rasterise a page, clean it, read it (Arabic + English) and make it a searchable PDF.

A pure library: files and images in, dataclasses and bytes out. No web framework, database or task queue here; the
worker calls ``process_page`` once per page and stores what it returns (docs/ARCHITECTURE.md).
"""

from ocr.cleanup import CleanResult, CleanupOptions, clean
from ocr.errors import InputRejected, OcrFailed
from ocr.inputs import SUPPORTED_MEDIA_TYPES, SourceInfo, inspect, render_page, sniff
from ocr.limits import Limits
from ocr.pipeline import LOW_CONFIDENCE_THRESHOLD, PageResult, process_page
from ocr.recognise import PageText, Word, recognise
from ocr.searchable_pdf import image_pdf, merge_pages

__all__ = [
    "LOW_CONFIDENCE_THRESHOLD",
    "SUPPORTED_MEDIA_TYPES",
    "CleanResult",
    "CleanupOptions",
    "InputRejected",
    "Limits",
    "OcrFailed",
    "PageResult",
    "PageText",
    "SourceInfo",
    "Word",
    "clean",
    "image_pdf",
    "inspect",
    "merge_pages",
    "process_page",
    "recognise",
    "render_page",
    "sniff",
]
