"""API keys: made, checked and told apart from typos without the database (pure)."""

from api import keys


def test_a_new_key_parses_back_to_its_parts_and_its_hash_matches():
    raw, parts = keys.key_new()
    assert raw.startswith(f"rk_{parts.prefix}_{parts.secret}_")
    assert keys.key_parse(raw) == parts
    assert keys.secret_matches(parts.secret, keys.secret_hash(parts.secret))
    assert not keys.secret_matches(parts.secret + "x", keys.secret_hash(parts.secret))


def test_a_typo_a_truncation_or_a_made_up_key_fails_its_checksum():
    raw, _ = keys.key_new()
    typo = raw[:12] + ("A" if raw[12] != "A" else "B") + raw[13:]
    assert keys.key_parse(typo) is None
    assert keys.key_parse(raw[:-1]) is None
    assert keys.key_parse("rk_" + "a" * 8 + "_" + "b" * 32 + "_" + "c" * 6) is None
    assert keys.key_parse("not a key") is None and keys.key_parse("") is None
