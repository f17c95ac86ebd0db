"""Every tool, declared once: its name, what it does, the arguments it takes and the function that runs it.

Both engines reach practice data only through these. Claude's tool schema is
generated from the argument models, and every engine's arguments are
validated by the same models before a handler runs.
"""

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict


class Arguments(BaseModel):
    """Base of every tool's arguments: unknown arguments are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    arguments: type[Arguments]
    handler: Callable  # (ReceptionistTools, arguments) -> a result model

    def schema(self) -> dict:
        """The tool as the Anthropic Messages API declares tools."""
        schema = self.arguments.model_json_schema()
        schema.pop("title", None)
        return {"name": self.name, "description": self.description, "input_schema": schema}


TOOLS: dict[str, Tool] = {}


def tool(name: str, description: str, arguments: type[Arguments]):
    """Register the decorated function as the tool `name`."""

    def register(handler: Callable) -> Callable:
        if name in TOOLS:
            raise ValueError(f"The tool {name!r} is declared twice.")
        TOOLS[name] = Tool(name=name, description=description, arguments=arguments, handler=handler)
        return handler

    return register


def anthropic_tools() -> list[dict]:
    return [t.schema() for t in TOOLS.values()]
