"""The Claude engine: `ClaudeEngine` (engine.py) over an Anthropic adapter with no Django in it (adapter.py)."""

from voice.conversation.engines.claude.engine import ClaudeEngine

__all__ = ["ClaudeEngine"]
