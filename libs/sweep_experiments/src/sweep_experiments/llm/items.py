"""A task item: one prompt and its expected answer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, JsonValue


class TaskItem(BaseModel):
    """One prompt and its expected answer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    messages: list[dict[str, JsonValue]] | None = None
    inputs: dict[str, JsonValue] | None = None
    expected: JsonValue = None
    choices: dict[str, str] | None = None
    """A multiple-choice item's options (letter → text), so `choice` can read a reply that names one."""

    def chat_messages(self, template: str | None, system: str | None) -> list[dict[str, Any]]:
        head = [{"role": "system", "content": system}] if system else []
        if self.messages is not None:
            return head + [dict(m) for m in self.messages]
        if template is None:
            raise ValueError("this task item has `inputs` but the config has no `template` to put them in")
        return [*head, {"role": "user", "content": template.format(**(self.inputs or {}))}]
