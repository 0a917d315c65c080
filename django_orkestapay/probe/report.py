"""The probe's report: one :class:`Row` per question, rendered as text for a person and as JSON for a bug report.

A row says what was asked, what OrkestaPay answered (``observed``), what this package assumes (``assumed``) and the
verdict: ``match`` (the package's assumption holds), ``mismatch`` (it does not: ``advice`` says what to change),
``info`` (observed; nothing is assumed), ``error`` (the question could not be answered) or ``skipped`` (not asked).
``evidence`` keeps the details (statuses, field names, bodies) for the JSON file, already redacted; both renderings
pass through the :class:`~.redaction.Redactor` once more.
"""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .redaction import Redactor

WIDTH = 116
#: The JSON report's format; bump it when a field changes meaning.
REPORT_FORMAT = 1


class Verdict(StrEnum):
    """How an observation compares with what the package assumes."""

    MATCH = "match"
    MISMATCH = "mismatch"
    INFO = "info"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Row:
    """One question's answer."""

    key: str
    question: str
    observed: str
    assumed: str
    verdict: Verdict
    advice: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    group: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The row for the JSON report."""
        return {
            "key": self.key,
            "group": self.group,
            "question": self.question,
            "verdict": self.verdict.value,
            "observed": self.observed,
            "assumed": self.assumed,
            "advice": self.advice,
            "evidence": self.evidence,
        }


@dataclass
class Report:
    """Everything one probe run found, and where it ran."""

    target: str
    target_kind: str
    client_id_hint: str
    package_version: str
    started_at: str
    finished_at: str = ""
    rows: list[Row] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """How many rows have each verdict (every verdict listed, zeros included)."""
        found = Counter(row.verdict for row in self.rows)
        return {verdict.value: found[verdict] for verdict in Verdict}

    def row(self, key: str) -> Row:
        """The row with ``key`` (KeyError when the run has none)."""
        for row in self.rows:
            if row.key == key:
                return row
        raise KeyError(key)

    def verdicts(self) -> dict[str, Verdict]:
        """``key -> verdict`` for every row."""
        return {row.key: row.verdict for row in self.rows}

    @property
    def exit_code(self) -> int:
        """0 when every row matched or was informative (or skipped), 1 when a mismatch or an error appeared."""
        counts = self.counts()
        return 1 if counts[Verdict.MISMATCH] or counts[Verdict.ERROR] else 0

    def as_dict(self) -> dict[str, Any]:
        """The JSON report's content (before the final redaction)."""
        return {
            "format": REPORT_FORMAT,
            "tool": "django-orkestapay sandbox probe",
            "package_version": self.package_version,
            "target": self.target,
            "target_kind": self.target_kind,
            "client_id_hint": self.client_id_hint,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "counts": self.counts(),
            "rows": [row.as_dict() for row in self.rows],
        }


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
    return str(value)


def render_json(report: Report, redactor: Redactor) -> str:
    """The report as indented JSON, with secrets, tokens and buyer data removed."""
    content = redactor.value(json.loads(json.dumps(report.as_dict(), default=_json_default)))
    return redactor.text(json.dumps(content, indent=2, ensure_ascii=False, sort_keys=False)) + "\n"


def _block(label: str, text: str) -> list[str]:
    indent = " " * 12
    first = f"{indent}{label:<10}"
    return textwrap.wrap(text, WIDTH, initial_indent=first, subsequent_indent=indent + " " * 10) or [first.rstrip()]


def render_text(report: Report, redactor: Redactor) -> str:
    """The report for a person: the run's target, one block per row (mismatches shouted), the counts."""
    lines = [
        f"OrkestaPay sandbox probe (django-orkestapay {report.package_version})",
        f"target: {report.target} ({report.target_kind}), client id {report.client_id_hint}",
        f"run: {report.started_at} to {report.finished_at or '...'}",
        "",
    ]
    for row in report.rows:
        tag = row.verdict.value.upper() if row.verdict in (Verdict.MISMATCH, Verdict.ERROR) else row.verdict.value
        lines.extend(textwrap.wrap(f"[{tag}] {row.key}: {row.question}", WIDTH, subsequent_indent=" " * 12))
        lines.extend(_block("observed:", row.observed))
        lines.extend(_block("assumed:", row.assumed))
        if row.advice and row.verdict in (Verdict.MISMATCH, Verdict.ERROR):
            lines.extend(_block("to do:", row.advice))
    counts = report.counts()
    lines.append("")
    lines.append(", ".join(f"{count} {verdict}" for verdict, count in counts.items()) + ".")
    if report.exit_code:
        lines.append(
            "Each MISMATCH says what to change; please attach the JSON report to an issue so the fake gateway "
            "and the package can learn the real answer."
        )
    else:
        lines.append("OrkestaPay answered every question the way this package assumes.")
    return redactor.text("\n".join(lines)) + "\n"
