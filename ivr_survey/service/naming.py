"""Operators and directions named the same way everywhere: call history, ratings and CQR must agree on who
the operator is, so the one configurable pattern turns any channel name into an operator code."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..config import Settings


def _names(value: str) -> frozenset[str]:
    return frozenset(name.strip() for name in value.split(",") if name.strip())


@dataclass(frozen=True)
class OperatorNames:
    pattern: re.Pattern[str]
    inbound: frozenset[str] = field(default_factory=frozenset)
    outbound: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, settings: Settings) -> OperatorNames:
        return cls(
            re.compile(settings.operator_pattern), _names(settings.inbound_contexts), _names(settings.outbound_contexts)
        )

    def operator(self, channel: str | None) -> str | None:
        """'PJSIP/7001-00000012' or 'Local/7001@operators-00000003;1' -> '7001'; None when it does not match."""
        match = self.pattern.match(channel or "")
        return match.group(1) if match else None

    def direction(self, contexts: set[str]) -> str:
        """By the dialplan contexts the call's channels went through."""
        if contexts & self.inbound:
            return "inbound"
        if contexts & self.outbound:
            return "outbound"
        return "internal"
