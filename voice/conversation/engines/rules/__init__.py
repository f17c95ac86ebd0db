"""The offline rules engine: `RulesEngine` in engine.py, one module per concern beside it."""

from voice.conversation.engines.rules.engine import RulesEngine

__all__ = ["RulesEngine"]
