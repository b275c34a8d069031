"""CSV files meant to be opened by people in a spreadsheet.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read
as a formula by Excel, LibreOffice and others (CSV/formula injection): a customer
address or complaint text like ``=HYPERLINK(…)`` would run on a staff member's
machine. Such values are written with a leading apostrophe, which spreadsheets
show as text. Plain numbers (``-3``, ``+1.5``) are left as they are.

The suppression snapshot CSV is for machines and is never passed through this:
identifiers there are byte-exact (README, "Suppression sync API").
"""

from __future__ import annotations

import csv
import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def spreadsheet_safe(value):
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    if NUMBER.fullmatch(value):
        return value
    return "'" + value


class SafeWriter:
    """``csv.writer`` whose rows are neutralised cell by cell."""

    def __init__(self, fileobj, **kwargs) -> None:
        self._writer = csv.writer(fileobj, **kwargs)

    def writerow(self, row):
        return self._writer.writerow([spreadsheet_safe(v) for v in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def writer_for_people(fileobj, **kwargs) -> SafeWriter:
    return SafeWriter(fileobj, **kwargs)
