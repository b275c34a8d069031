"""Print the suggested category of a complaint text, then the evidence."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from complaints.classification import classify, model_path, wants_no_marketing


class Command(BaseCommand):
    help = "Suggest a complaint category code for TEXT (first line), then the evidence."

    def add_arguments(self, parser):
        parser.add_argument("text")

    def handle(self, *args, text: str, **options):
        suggestion = classify(text)
        self.stdout.write(suggestion.code)
        if suggestion.method == "model":
            self.stdout.write(f"decided by: trained model ({model_path().name})")
        else:
            self.stdout.write("decided by: rules (no trained model loaded)")
        self.stdout.write(f"rule score: {suggestion.score}")
        self.stdout.write("evidence: " + (", ".join(suggestion.evidence) or "-"))
        others = {k: v for k, v in suggestion.scores.items() if k != suggestion.code}
        if others:
            self.stdout.write(
                "other rule scores: "
                + ", ".join(f"{k}={v}" for k, v in sorted(others.items()))
            )
        stop = wants_no_marketing(text)
        if stop:
            self.stdout.write("stop intent: " + ", ".join(stop))
