"""Train the complaint category model and show what changed.

Trains on the ``train`` part of the labelled set and on every category a handler
corrected; measures the model in use before (or the rules, when there is none) and
the new one on the ``heldout`` part, which is never trained on; lists the held-out
examples and corrections whose suggestion changed; then writes the model file.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from complaints.category_model import (
    HELDOUT,
    LABELLED_SET,
    TRAIN,
    CategoryModel,
    Report,
    evaluate,
    read_labelled,
)
from complaints.classification import classify_by_rules
from complaints.models import Category
from complaints.selectors import category_corrections

MAX_LISTED = 40


def _excerpt(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


class Command(BaseCommand):
    help = (
        "Train the complaint category model from the labelled set and handlers' "
        "corrections, print held-out figures before and after, and write the model."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--data",
            default=str(LABELLED_SET),
            help="Labelled CSV (id, split, category, lang, text); default: the "
            "shipped set.",
        )
        parser.add_argument(
            "--output",
            default=None,
            help="Model file to write; default: COMPLAINT_CLASSIFIER_MODEL.",
        )
        parser.add_argument(
            "--without-corrections",
            action="store_true",
            help="Train on the labelled set only (as the shipped model is).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Train and report, but do not write the model file.",
        )

    def handle(self, *args, **options):
        data = Path(options["data"])
        output = Path(options["output"] or settings.COMPLAINT_CLASSIFIER_MODEL)
        try:
            examples = read_labelled(data)
        except (OSError, KeyError) as exc:
            raise CommandError(f"cannot read the labelled set {data}: {exc}") from exc
        unknown = sorted({e.category for e in examples} - set(Category.values))
        if unknown:
            raise CommandError(f"unknown categories in {data}: {', '.join(unknown)}")
        train = [e for e in examples if e.split == TRAIN]
        heldout = [e for e in examples if e.split == HELDOUT]
        corrections = [] if options["without_corrections"] else category_corrections()
        if len({e.category for e in train + corrections}) < 2:
            raise CommandError("need training examples of at least two categories")

        before, before_name = self._current(output)
        started = time.monotonic()
        model = CategoryModel.fit(
            train + corrections,
            meta={
                "labelled": len(train),
                "corrections": len(corrections),
                "data": data.name,
            },
        )
        seconds = time.monotonic() - started

        self.stdout.write(
            f"trained on {len(train)} labelled examples ({data.name}, part "
            f"'{TRAIN}') and {len(corrections)} handlers' corrections "
            f"in {seconds:.1f} s"
        )
        codes = list(Category.values)
        if heldout:
            old = evaluate(before, heldout, codes)
            new = evaluate(model.predict, heldout, codes)
            self._figures(old, new, before_name, len(heldout))
            self._flips(heldout, old, new)
        else:
            self.stdout.write("no held-out examples: nothing to measure on")
        if corrections:
            self._corrections(corrections, before, model)

        if options["dry_run"]:
            self.stdout.write("dry run: model not written")
            return
        model.save(output)
        features = len(model.char_vocabulary) + len(model.word_vocabulary)
        self.stdout.write(
            f"wrote {output} ({features} n-gram features, "
            f"{output.stat().st_size // 1024} KiB)"
        )

    def _current(self, output: Path):
        if output.exists():
            try:
                model = CategoryModel.load(output)
            except (OSError, ValueError, KeyError):
                pass
            else:
                return model.predict, f"model in use ({output.name})"
        return (
            lambda texts: [classify_by_rules(t).code for t in texts],
            "rules only (no model file)",
        )

    def _figures(self, old: Report, new: Report, before_name: str, count: int):
        self.stdout.write(f"\nheld-out part, {count} examples: before = {before_name}")
        self.stdout.write(
            f"  {'category':20s} {'precision':>17s} {'recall':>17s} {'n':>4s}"
        )
        for code in old.codes:
            self.stdout.write(
                f"  {code:20s} {old.precision(code):7.2f} → {new.precision(code):.2f}"
                f"    {old.recall(code):7.2f} → {new.recall(code):.2f}"
                f"    {new.support(code):4d}"
            )
        self.stdout.write(f"  accuracy {old.accuracy:.3f} → {new.accuracy:.3f}")

    def _flips(self, heldout, old: Report, new: Report):
        flips = [
            (example, was, now)
            for example, was, now in zip(
                heldout, old.predictions, new.predictions, strict=True
            )
            if was != now
        ]
        self.stdout.write(f"\nheld-out examples whose suggestion changed: {len(flips)}")
        for example, was, now in flips[:MAX_LISTED]:
            mark = (
                "fixed"
                if now == example.category
                else ("broken" if was == example.category else "still wrong")
            )
            self.stdout.write(
                f"  {example.ref:6s} {was} → {now} (labelled {example.category}, "
                f"{mark}): {_excerpt(example.text)}"
            )
        if len(flips) > MAX_LISTED:
            self.stdout.write(f"  … and {len(flips) - MAX_LISTED} more")

    def _corrections(self, corrections, before, model: CategoryModel):
        was = before([e.text for e in corrections])
        now = model.predict([e.text for e in corrections])
        labels = [e.category for e in corrections]
        agree_before = sum(w == label for w, label in zip(was, labels, strict=True))
        agree_now = sum(n == label for n, label in zip(now, labels, strict=True))
        self.stdout.write(
            f"\nhandlers' corrections suggested as the handler chose: "
            f"{agree_before} → {agree_now} of {len(corrections)}"
        )
        # References and categories only: complaint text is personal data.
        for example, w, n in zip(corrections, was, now, strict=True):
            if w != n:
                self.stdout.write(
                    f"  {example.ref} {w} → {n} (handler chose {example.category})"
                )
