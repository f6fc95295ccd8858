"""bench/ocr_accuracy.py's report explains the gap to the targets page by page: the words misread on a page over the
CER target, and the pipeline's stages on a page over the CPU target."""

from __future__ import annotations

import sys
from pathlib import Path

# appended, not put first: bench/search.py must not shadow the search package for the other tests of this process
sys.path.append(str(Path(__file__).resolve().parents[1] / "bench"))

import ocr_accuracy
from ocr_accuracy import Run, misread_words, report, stage_seconds


def test_misread_words_are_shown_as_truth_then_reading() -> None:
    truth = "قدم المواطن طلب ترخيص بناء للمركز"
    assert misread_words(truth, truth) == []
    assert misread_words(truth, "قدم المواطن طلب ترخبص بناء للمرك جديد") == ["ترخيص → ترخبص", "للمركز → للمرك جديد"]
    assert misread_words("طلب بناء", "طلب") == ["بناء → ∅"]
    assert len(misread_words("a b c d e f", "x b y d z f w", limit=2)) == 2


def test_stage_seconds_split_the_pipelines_time_into_what_it_did() -> None:
    stages = {"render": 0.01, "grayscale": 0.002, "crop": 0.01, "denoise": 0.03, "contrast": 0.04, "deskew": 0.02,
              "ocr": 0.5, "first_reading": 0.22, "second_look": 0.25, "proofread": 0.001, "text_layer": 0.02,
              "line_count": 0.015, "preview": 0.012, "total": 0.65}
    parts = stage_seconds(stages)
    assert parts["clean-up"] == 0.002 + 0.01 + 0.03 + 0.04 + 0.02
    assert (parts["first reading"], parts["second look"], parts["proofread"]) == (0.22, 0.25, 0.001)
    assert abs(sum(parts.values()) - 0.65) < 1e-9  # "rest" is what the others leave of the total


def test_the_report_lists_each_page_over_a_target_with_why() -> None:
    stages = {"render": 0.01, "denoise": 0.1, "first_reading": 0.2, "second_look": 0.3, "proofread": 0.0,
              "total": 0.65}
    runs = [
        Run(0, "mixed", "Amiri", "photo", "pipeline", 0.05, 0, 0.7, 0.7, stages, ["للمركز → للمرك"]),
        Run(0, "mixed", "Amiri", "photo", "anchor", 0.30, 0, 0.35, 0.35),
        Run(1, "arabic", "Noto Sans Arabic", "clean", "pipeline", 0.001, 0, 0.3, 0.3, stages),
        Run(1, "arabic", "Noto Sans Arabic", "clean", "anchor", 0.02, 0, 0.3, 0.3),
    ]
    text = report(runs, ["pipeline", "anchor"], ["photo", "clean"], ["Amiri", "Noto Sans Arabic"])
    over_cer = text.split("Pages over 3.0 % CER")[1].split("####")[0]
    assert "للمركز → للمرك" in over_cer and "Noto Sans Arabic" not in over_cer
    over_cpu = text.split(f"Pages over {ocr_accuracy.TARGET_RATIO}× the anchor's CPU")[1].split("####")[0]
    assert "(1 of 2)" in over_cpu and "| 0 | mixed | Amiri | photo | 0.350 | 0.700 | 2.00 |" in over_cpu
    assert "| 0.300 |" in over_cpu  # the second look's seconds, where the gap went
    assert "| mixed | 1 | 0.350 | 0.700 | 2.00 |" in text  # the table by script
