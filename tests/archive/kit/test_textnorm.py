import unicodedata

from archive.kit.textnorm import FAST_LIMIT, inert_below_limit, may_join_previous


def test_inert_set_is_the_per_character_definition() -> None:
    """The bulk computation (one NFKD and one casefold over NUL-joined characters) gives exactly the code
    points whose NFKD and case folding, each taken alone, leave them as they are and that cannot join the
    character before them."""
    expected = {
        cp
        for cp in range(1, FAST_LIMIT)
        if not 0xD800 <= cp <= 0xDFFF
        and unicodedata.normalize("NFKD", chr(cp)) == chr(cp)
        and chr(cp).casefold() == chr(cp)
        and not may_join_previous(chr(cp))
    }
    got = inert_below_limit()
    assert got == expected
    # the set is the common case the tables skip, and leaves out what changes or combines
    assert len(got) > 0.8 * FAST_LIMIT
    assert {ord(c) for c in "Ａ①ﬁ가\u0301\u1161A\u3000"}.isdisjoint(got)
    assert {ord(c) for c in "a中支付宝😀"} <= got


def test_inert_characters_normalise_to_themselves_after_anything() -> None:
    """What the tables rely on: NFKC leaves an inert character alone, also right after another one."""
    for cp in sorted(inert_below_limit())[::97]:
        ch = chr(cp)
        assert unicodedata.normalize("NFKC", ch) == ch
        assert unicodedata.normalize("NFKC", "가" + ch) == "가" + ch
        assert unicodedata.normalize("NFKC", "e" + ch) == "e" + ch
