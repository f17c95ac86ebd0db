"""The tool layer: the only way a conversation engine reaches practice data.

Each tool is declared once in the registry (name, description, argument model,
handler), by concern: identity, appointments, the practice, handing over.
`ReceptionistTools` runs them for one call and records each on it.
"""

from voice.conversation.tools import appointments, handover, identity, practice  # noqa: F401  (registers the tools)
from voice.conversation.tools.context import ReceptionistTools, ToolError, ToolSession
from voice.conversation.tools.registry import TOOLS, anthropic_tools

__all__ = ["TOOLS", "ReceptionistTools", "ToolError", "ToolSession", "anthropic_tools"]
