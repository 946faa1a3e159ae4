"""Emscripten: WebAssembly side modules, and every needed library shipped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

from omniwheel.audit.allowlists import system_libraries
from omniwheel.audit.base import FamilyRules, Subject
from omniwheel.audit.findings import Finding
from omniwheel.binaries import WasmModule
from omniwheel.platforms import Platform


class EmscriptenRules(FamilyRules):
    binary_format = "wasm"

    def check_binary(self, subject: Subject) -> Iterator[Finding]:
        module = cast(WasmModule, subject.binary)
        (arch,) = module.architectures
        if arch != subject.platform.arch:
            yield self.wrong_architecture(subject, arch, subject.platform.arch)
        if not module.is_side_module:
            yield subject.finding(
                "not-side-module", "is a WebAssembly module without a dylink.0 section"
            )

    def allowlist(self, platform: Platform) -> tuple[str, ...]:
        return system_libraries("emscripten")
