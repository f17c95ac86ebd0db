"""The Anthropic adapter's pure parts: no Django, no network."""

from voice.conversation.engines.claude.adapter import keep_heard


def test_keep_heard_cuts_the_last_turn_to_what_was_heard_and_keeps_tool_uses():
    messages = [
        {"role": "user", "content": "Can I book a cleaning?"},
        {"role": "assistant", "content": [{"type": "text", "text": "Let me check."},
                                          {"type": "tool_use", "id": "t1", "name": "find_slots", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "{}"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "I have 9 AM.  Or 10 AM, or noon."}]},
    ]
    keep_heard(messages, "Let me check. I have 9 AM. Or 10")
    assert messages[1]["content"][0] == {"type": "text", "text": "Let me check."}
    assert messages[1]["content"][1]["type"] == "tool_use"
    assert messages[3]["content"] == [{"type": "text", "text": "I have 9 AM. Or 10"}]


def test_a_reply_heard_not_at_all_leaves_a_placeholder_claude_accepts():
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": [{"type": "text", "text": "Hello!"}]}]
    keep_heard(messages, "")
    assert messages[1]["content"] == [{"type": "text", "text": "..."}]
