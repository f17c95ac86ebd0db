"""Small readings of what the caller said that more than one flow needs."""

from voice.conversation.understanding import Understanding


def asks_for_a_time(u: Understanding) -> bool:
    """A time of day, a range ("after 3"), or "as early as possible"."""
    return bool(u.time and (u.time.time or u.time.earliest or u.time.after or u.time.before))


def says_anything(u: Understanding) -> bool:
    """Any detail of a request: what, with whom, when, or who is calling."""
    return bool(u.date or u.time or u.type_key or u.provider_key or u.name or u.birth_date)
