"""The PII detector: payment cards by Luhn, IBANs by checksum, emails, phones, IPs, national ids
and secrets in their vendors' formats; and what it leaves alone."""

from __future__ import annotations

import pytest

from mcp_server.guardrails.pii import ENTITY_TYPES, check_entities, detect, placeholder


def found(text: str, **kwargs: object) -> list[tuple[str, str]]:
    return [(d.type, text[d.start:d.end]) for d in detect(text, **kwargs)]


def test_a_luhn_valid_card_is_found_and_a_luhn_invalid_digit_run_is_not() -> None:
    assert found("pay with 4111 1111 1111 1111 today") == [("CREDIT_CARD", "4111 1111 1111 1111")]
    assert found("pay with 4111-1111-1111-1111 today") == [("CREDIT_CARD", "4111-1111-1111-1111")]
    assert found("order number 4111 1111 1111 1112 shipped") == []


def test_an_iban_is_found_only_when_its_checksum_holds() -> None:
    assert found("send it to GB82 WEST 1234 5698 7654 32 please") == [("IBAN", "GB82 WEST 1234 5698 7654 32")]
    assert found("send it to DE89370400440532013000 please") == [("IBAN", "DE89370400440532013000")]
    assert found("send it to GB82 WEST 1234 5698 7654 33 please") == []


def test_emails_phones_and_ip_addresses() -> None:
    assert found("write to jane.doe@example.co.uk soon") == [("EMAIL", "jane.doe@example.co.uk")]
    assert found("call me on +1 212-555-0123 tonight") == [("PHONE", "+1 212-555-0123")]
    assert found("my phone number is (415) 555-2671") == [("PHONE", "(415) 555-2671")]
    assert found("the host is 203.0.113.7, and its v6 is 2001:db8::1") == [
        ("IP_ADDRESS", "203.0.113.7"), ("IP_ADDRESS", "2001:db8::1")]


def test_national_ids_with_their_context() -> None:
    assert found("my ssn is 219-09-9999") == [("US_SSN", "219-09-9999")]
    assert found("national insurance number AB123456C") == [("UK_NINO", "AB123456C")]


@pytest.mark.parametrize(("kind", "secret"), [
    ("OPENAI_API_KEY", "sk-proj-abcdefghijklmnopqrstT3BlbkFJabcdefghijklmnopqrst"),
    ("AWS_ACCESS_KEY", "AKIAIOSFODNN7EXAMPLE"),
    ("GITHUB_TOKEN", "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"),
    ("SLACK_TOKEN", "xoxb-123456-7890-abcdefghij"),
    ("JWT", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlX2hlcmU"),
    ("HIGH_ENTROPY_TOKEN", "Zx8Qw3Lp9Rt2Vb7Nm4Kc6Hj1Fg5Ds0Aa"),
])  # fmt: skip
def test_secrets_in_their_formats_are_found_whole(kind: str, secret: str) -> None:
    assert found(f"use the key {secret} for it") == [(kind, secret)]


def test_a_private_key_block_is_found_from_its_header_to_its_footer() -> None:
    block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7x\n-----END RSA PRIVATE KEY-----"
    assert found(f"here:\n{block}\nthanks") == [("PRIVATE_KEY", block)]


def test_hex_digests_words_and_plain_numbers_are_not_secrets() -> None:
    assert found("trace 4bf92f3577b34da6a3ce929d0e0e4736 at commit 9fceb02d0ae598e95dc970b74767f19372d61af8") == []
    assert found("the internationalization_configuration_manager module") == []
    assert found("We shipped 1,250 units in March 2024.") == []


def test_entity_types_and_minimum_score_choose_what_is_reported() -> None:
    text = "card 4111 1111 1111 1111, mail a.b@example.com, call +1 212-555-0123"
    assert [t for t, _ in found(text, entities=["EMAIL"])] == ["EMAIL"]
    assert [t for t, _ in found(text, min_score=0.0)] == ["CREDIT_CARD", "EMAIL", "PHONE"]
    assert [t for t, _ in found(text, min_score=0.95)] == ["CREDIT_CARD", "EMAIL"]


def test_unknown_entity_types_are_refused_naming_them() -> None:
    with pytest.raises(ValueError, match="'PASSWORD'"):
        check_entities(["EMAIL", "PASSWORD"])
    assert set(check_entities(ENTITY_TYPES)) == set(ENTITY_TYPES)
    assert placeholder("CREDIT_CARD") == "[CREDIT_CARD]"


def test_building_and_running_the_detector_reaches_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    # presidio's default engine downloads a spaCy model and its email check fetches the public-suffix
    # list; ours must do neither (a fresh engine, as the first call of a process builds it)
    import socket

    from mcp_server.guardrails import pii

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"the detector reached for the network: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    results = pii._build_analyzer().analyze(text="write to jane@example.co.uk", language="en", entities=["EMAIL_ADDRESS"])
    assert [r.entity_type for r in results] == ["EMAIL_ADDRESS"]


def test_an_entity_across_a_window_edge_is_found_whole_once() -> None:
    from mcp_server.guardrails.pii import WINDOW

    card = "4111 1111 1111 1111"
    for start in (WINDOW - 10, 2 * WINDOW - 400 - 5):  # across the first edge; across the second window's start
        text = "word " * (start // 5) + "x" * (start % 5) + card + " and more words" * 50
        found = [d for d in detect(text, ["CREDIT_CARD"]) if d.type == "CREDIT_CARD"]
        assert [(d.start, d.end) for d in found] == [(start, start + len(card))], start
