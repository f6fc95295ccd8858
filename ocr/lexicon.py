"""The Arabic words the ``ara`` model knows: its own dictionary, read out of the installed traineddata.

Why: where two readings of an Arabic word disagree, the one that is a word is the better bet. ``ara`` 4.1.0 misreads
Amiri's stacked ligatures into non-words with some confidence (الطلب -> الطاب, لمركز -> لمرك, الموافقة -> الموافمة,
وفقا -> وفما), which the ``Arabic`` script model often reads right; a dictionary tells the two apart where the
confidences do not. The word list is the one Tesseract's own beam search uses (``lstm-word-dawg``, 113,342 words in
Debian's ``tesseract-ocr-ara`` 4.1.0), so nothing is added that the model does not already believe: it is extracted
once per process with the tools that ship with Tesseract (``combine_tessdata``, ``dawg2wordlist``, ~0.07 s).

Without those tools or that model the lexicon is empty, and every rule that consults it stands aside.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

from ocr.tesseract import tessdata_dir, tesseract_environment

MODEL = "ara"
_TRIM = ".,:;،؛()«»\"'!?؟-"
_ARABIC_WORD = re.compile("[\u0621-\u064a\u0671-\u06d3]{2,}")


@lru_cache(maxsize=1)
def arabic_words() -> frozenset[str]:
    """Every word of the ``ara`` model's dictionary; empty when it cannot be read here."""
    traineddata = Path(tessdata_dir()) / f"{MODEL}.traineddata"
    if not traineddata.is_file():
        return frozenset()
    with tempfile.TemporaryDirectory(prefix="sijill-lexicon-") as tmp:
        prefix = Path(tmp) / MODEL
        try:
            for component in ("lstm-unicharset", "lstm-word-dawg"):
                subprocess.run(["combine_tessdata", "-e", str(traineddata), f"{prefix}.{component}"],
                               capture_output=True, timeout=30, check=True, env=tesseract_environment())
            subprocess.run(["dawg2wordlist", f"{prefix}.lstm-unicharset", f"{prefix}.lstm-word-dawg",
                            f"{prefix}.words"], capture_output=True, timeout=60, check=True,
                           env=tesseract_environment())
            text = Path(f"{prefix}.words").read_text(encoding="utf-8")
        except (OSError, subprocess.SubprocessError):
            return frozenset()
    return frozenset(word for word in text.split() if word)


def is_word(text: str) -> bool:
    """Whether ``text``, without the punctuation around it, is a word of the dictionary: two or more Arabic letters
    (the dictionary also holds single letters and symbols, "|", "©", "+", which say nothing about a reading)."""
    core = text.strip(_TRIM)
    return bool(_ARABIC_WORD.fullmatch(core)) and core in arabic_words()


def known_here() -> bool:
    """Whether there is a dictionary to consult at all."""
    return bool(arabic_words())
