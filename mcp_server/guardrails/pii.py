"""Finding personal data and secrets in text, offline: the PII guardrail's detector.

What it uses, and why (measured in bench/guardrails.py, figures in BENCHMARKS.md):
- presidio-analyzer's pattern recognizers, run through its AnalyzerEngine over a *blank* spaCy
  pipeline (spacy.blank('en'): a tokenizer, no model). Presidio validates what it matches: payment
  cards by Luhn, IBANs by their mod-97 checksum, national ids by their check digits where they have
  one, phone numbers through Google's libphonenumber (phonenumbers), so '4111 1111 1111 1112' or a
  mistyped IBAN is not reported. Its card pattern is widened to 2-series Mastercards and 19-digit
  Visas (still Luhn-checked). The blank pipeline gives presidio tokens, so its context enhancer
  still raises a match's score when a word like 'ssn', 'card' or 'phone' stands near it.
  Presidio's own default engine is not used: it downloads a spaCy model on first use (it tried
  to reach raw.githubusercontent.com here), and its email check calls tldextract, which fetches the
  public-suffix list from the network; ours checks the domain against tldextract's bundled
  snapshot instead.
- detect-secrets' detector patterns (Yelp) for API keys and tokens (OpenAI, AWS, GitHub, GitLab,
  Slack, Stripe, SendGrid, Twilio, npm, PyPI, Discord, Telegram, JWTs, private-key blocks,
  credentials in URLs), and its Shannon-entropy measure for long random-looking tokens.
- Considered and not chosen: scrubadub (last release 2023; its names and addresses need spaCy or
  Stanford models), python-stdnum (the checksums presidio already applies), datafog and the many
  small 'pii-*' packages (little use, no track record).

What it cannot detect: names, street addresses, organizations and places (presidio finds those
only with an NER model, which would have to be downloaded: with the blank pipeline there is
none), dates of birth, passport and driving-licence numbers (presidio's patterns for them score
too low without a model's context to be told from any other code), and secrets in a form none of
the patterns knows that are also too short or too regular for the entropy measure (a password
like 'hunter2'). Phone numbers are recognized for presidio's default regions (US, UK, DE, FR, IL,
IN, CA, BR; presidio's 'UK' as GB) and in international form (+NN ...).

The heavy parts (presidio, spaCy: about a second) are imported on first use, not with this module.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

PRESIDIO_TYPES: dict[str, str] = {
    # our type: presidio's entity
    "EMAIL": "EMAIL_ADDRESS",
    "PHONE": "PHONE_NUMBER",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN": "IBAN_CODE",
    "IP_ADDRESS": "IP_ADDRESS",
    "CRYPTO_WALLET": "CRYPTO",
    "US_SSN": "US_SSN",
    "US_ITIN": "US_ITIN",
    "UK_NINO": "UK_NINO",
    "UK_NHS": "UK_NHS",
    "ES_NIF": "ES_NIF",
    "ES_NIE": "ES_NIE",
    "IT_FISCAL_CODE": "IT_FISCAL_CODE",
    "IN_AADHAAR": "IN_AADHAAR",
    "IN_PAN": "IN_PAN",
    "AU_TFN": "AU_TFN",
    "AU_MEDICARE": "AU_MEDICARE",
    "CA_SIN": "CA_SIN",
    "PL_PESEL": "PL_PESEL",
    "FI_PERSONAL_IDENTITY_CODE": "FI_PERSONAL_IDENTITY_CODE",
    "SE_PERSONNUMMER": "SE_PERSONNUMMER",
    "SG_NRIC_FIN": "SG_NRIC_FIN",
    "KR_RRN": "KR_RRN",
    "TR_NATIONAL_ID": "TR_NATIONAL_ID",
    "ZA_ID_NUMBER": "ZA_ID_NUMBER",
    "DE_TAX_ID": "DE_TAX_ID",
}
_PRESIDIO_RECOGNIZERS: dict[str, str] = {
    # presidio entity: the predefined recognizer class that finds it
    "EMAIL_ADDRESS": "EmailRecognizer",
    "PHONE_NUMBER": "PhoneRecognizer",
    "CREDIT_CARD": "CreditCardRecognizer",
    "IBAN_CODE": "IbanRecognizer",
    "IP_ADDRESS": "IpRecognizer",
    "CRYPTO": "CryptoRecognizer",
    "US_SSN": "UsSsnRecognizer",
    "US_ITIN": "UsItinRecognizer",
    "UK_NINO": "UkNinoRecognizer",
    "UK_NHS": "NhsRecognizer",
    "ES_NIF": "EsNifRecognizer",
    "ES_NIE": "EsNieRecognizer",
    "IT_FISCAL_CODE": "ItFiscalCodeRecognizer",
    "IN_AADHAAR": "InAadhaarRecognizer",
    "IN_PAN": "InPanRecognizer",
    "AU_TFN": "AuTfnRecognizer",
    "AU_MEDICARE": "AuMedicareRecognizer",
    "CA_SIN": "CaSinRecognizer",
    "PL_PESEL": "PlPeselRecognizer",
    "FI_PERSONAL_IDENTITY_CODE": "FiPersonalIdentityCodeRecognizer",
    "SE_PERSONNUMMER": "SePersonnummerRecognizer",
    "SG_NRIC_FIN": "SgFinRecognizer",
    "KR_RRN": "KrRrnRecognizer",
    "TR_NATIONAL_ID": "TrNationalIdRecognizer",
    "ZA_ID_NUMBER": "ZaIdNumberRecognizer",
    "DE_TAX_ID": "DeTaxIdRecognizer",
}
SECRET_TYPES: dict[str, str] = {
    # our type: the detect-secrets plugin (module:class) whose patterns find it
    "OPENAI_API_KEY": "openai:OpenAIDetector",
    "AWS_ACCESS_KEY": "aws:AWSKeyDetector",
    "GITHUB_TOKEN": "github_token:GitHubTokenDetector",
    "GITLAB_TOKEN": "gitlab_token:GitLabTokenDetector",
    "SLACK_TOKEN": "slack:SlackDetector",
    "STRIPE_KEY": "stripe:StripeDetector",
    "SENDGRID_KEY": "sendgrid:SendGridDetector",
    "TWILIO_KEY": "twilio:TwilioKeyDetector",
    "NPM_TOKEN": "npm:NpmDetector",
    "PYPI_TOKEN": "pypi_token:PypiTokenDetector",
    "DISCORD_TOKEN": "discord:DiscordBotTokenDetector",
    "TELEGRAM_TOKEN": "telegram_token:TelegramBotTokenDetector",
    "JWT": "jwt:JwtTokenDetector",
    "PRIVATE_KEY": "private_key:PrivateKeyDetector",
    "URL_CREDENTIALS": "basic_auth:BasicAuthDetector",
}
PHONE_REGIONS = ("US", "GB", "DE", "FR", "IL", "IN", "CA", "BR")
"""Where a number without a country code is read as a phone number: presidio's default regions, with
GB for its "UK", which libphonenumber does not know. More regions find more numbers and mistake more
digit runs for them (27 European and Commonwealth regions: recall 0.45 -> 0.67, precision 0.75 -> 0.46)."""
HIGH_ENTROPY = "HIGH_ENTROPY_TOKEN"
ENTITY_TYPES: tuple[str, ...] = (*PRESIDIO_TYPES, *SECRET_TYPES, HIGH_ENTROPY)
"""Every entity type the detector knows; a guardrail's `entities` picks among them (default all)."""

SECRET_SCORE = 0.9  # a match of a vendor's documented key format
ENTROPY_SCORE = 0.6
ENTROPY_LIMIT = 4.5  # bits per character: detect-secrets' default for base64 strings
_TOKEN = re.compile(r"(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_=-]{24,}(?![A-Za-z0-9+/_=-])")
_MORE_CARDS = r"\b(?:2[2-7]\d{2}(?:[- ]?\d{4}){3}|4\d{3}(?:[- ]?\d{4}){3}[- ]?\d{3})\b"
_SECRET_IN_GROUP = frozenset({"AWS_ACCESS_KEY", "NPM_TOKEN", "URL_CREDENTIALS"})
_JWT_TAIL = re.compile(r"[A-Za-z0-9_=.+/-]*")
_KEY_BLOCK_END = re.compile(r"-----END[ A-Z0-9]*PRIVATE KEY( BLOCK)?-----")


@dataclass(frozen=True)
class Detection:
    """One entity found in a text: its type (ENTITY_TYPES), where it is, and how sure the detector is."""

    type: str
    start: int
    end: int
    score: float


def placeholder(entity_type: str) -> str:
    """What redaction puts in place of an entity of this type: '[EMAIL]', '[CREDIT_CARD]' ..."""
    return f"[{entity_type}]"


def check_entities(entities: Iterable[str]) -> list[str]:
    """The entity types given, each checked against ENTITY_TYPES (ValueError naming the unknown ones)."""
    chosen = list(dict.fromkeys(entities))
    unknown = [e for e in chosen if e not in ENTITY_TYPES]
    if unknown:
        raise ValueError(f"unknown entity type(s) {', '.join(map(repr, unknown))}; known: {', '.join(ENTITY_TYPES)}")
    return chosen


def detect(text: str, entities: Sequence[str] | None = None, *, min_score: float = 0.4) -> list[Detection]:
    """The entities of the given types (default all) in `text` scoring at least `min_score`,
    in text order, overlaps resolved in favour of the higher score (then the longer match)."""
    wanted = set(ENTITY_TYPES if entities is None else entities)
    found: list[Detection] = []
    presidio_wanted = [PRESIDIO_TYPES[t] for t in PRESIDIO_TYPES if t in wanted]
    if presidio_wanted and text.strip():
        found += _presidio(text, presidio_wanted)
    found += _secrets(text, [t for t in SECRET_TYPES if t in wanted])
    if HIGH_ENTROPY in wanted:
        found += _high_entropy(text)
    return _without_overlaps([d for d in found if d.score >= min_score])


def _without_overlaps(found: list[Detection]) -> list[Detection]:
    kept: list[Detection] = []
    for d in sorted(found, key=lambda d: (-d.score, -(d.end - d.start), d.start, d.type)):
        if all(d.end <= k.start or d.start >= k.end for k in kept):
            kept.append(d)
    return sorted(kept, key=lambda d: d.start)


_FROM_PRESIDIO = {v: k for k, v in PRESIDIO_TYPES.items()}
_lock = threading.Lock()


WINDOW = 8_000
OVERLAP = 400
"""presidio reads a text in windows of WINDOW characters, each OVERLAP into the next (every entity it
knows is far shorter, so each lies whole in some window): its cost on one text grows with the square of
its candidate matches (80,000 characters of '1234 ' took 16 s for IN_PAN alone), in windows linearly."""


def _presidio(text: str, entities: list[str]) -> list[Detection]:
    analyzer = _analyzer()
    found: dict[tuple[str, int, int], Detection] = {}
    for offset in range(0, max(len(text) - OVERLAP, 1), WINDOW - OVERLAP):
        window = text[offset:offset + WINDOW]
        for r in analyzer.analyze(text=window, language="en", entities=entities):
            if r.entity_type in _FROM_PRESIDIO:
                detection = Detection(_FROM_PRESIDIO[r.entity_type], offset + r.start, offset + r.end, round(float(r.score), 4))
                key = (detection.type, detection.start, detection.end)
                if key not in found or found[key].score < detection.score:
                    found[key] = detection
    return list(found.values())


_engine: list[Any] = []


def _analyzer() -> Any:
    """Presidio's engine with our recognizers over a blank spaCy pipeline, built once (a second),
    by the first of the worker threads that asks."""
    with _lock:
        if not _engine:
            _engine.append(_build_analyzer())
        return _engine[0]


def _build_analyzer() -> Any:
    from presidio_analyzer import AnalyzerEngine, Pattern, RecognizerRegistry
    from presidio_analyzer import predefined_recognizers as predefined

    recognizers = []
    for entity, class_name in _PRESIDIO_RECOGNIZERS.items():
        if entity == "EMAIL_ADDRESS":
            recognizers.append(_offline_email_recognizer())
        elif entity == "CREDIT_CARD":
            # presidio's pattern misses 2-series Mastercards (2221-2720) and 19-digit Visas; Luhn still decides
            wider = Pattern("card (2-series, 19 digits)", _MORE_CARDS, 0.3)
            patterns = [*predefined.CreditCardRecognizer.PATTERNS, wider]
            recognizers.append(predefined.CreditCardRecognizer(patterns=patterns, supported_language="en"))
        elif entity == "PHONE_NUMBER":
            recognizers.append(predefined.PhoneRecognizer(supported_regions=PHONE_REGIONS, supported_language="en"))
        else:
            recognizers.append(getattr(predefined, class_name)(supported_language="en"))
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
    return AnalyzerEngine(registry=registry, nlp_engine=_blank_engine(), supported_languages=["en"])


def _offline_email_recognizer() -> Any:
    import tldextract
    from presidio_analyzer.predefined_recognizers import EmailRecognizer

    # suffix_list_urls=(): the public-suffix list bundled with tldextract, never fetched
    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return extract(pattern_text.rpartition("@")[2]).fqdn != ""

    return OfflineEmailRecognizer(supported_language="en")


def _blank_engine() -> Any:
    import spacy
    from presidio_analyzer.nlp_engine import NlpArtifacts, NlpEngine

    class BlankSpacyEngine(NlpEngine):
        """spaCy's English tokenizer and nothing else: tokens and lowercased words as 'lemmas' for
        presidio's context enhancer, no entities (there is no model to find them)."""

        def __init__(self) -> None:
            self.nlp = spacy.blank("en")

        def load(self) -> None:
            pass

        def is_loaded(self) -> bool:
            return True

        def process_text(self, text: str, language: str) -> NlpArtifacts:
            doc = self.nlp(text)
            return NlpArtifacts(entities=[], tokens=doc, tokens_indices=[t.idx for t in doc],
                                lemmas=[t.text.lower() for t in doc], nlp_engine=self, language=language)  # fmt: skip

        def process_batch(self, texts, language, batch_size=1, n_process=1, **kwargs):  # type: ignore[no-untyped-def]
            for text in texts:
                yield text, self.process_text(text, language)

        def is_stopword(self, word: str, language: str) -> bool:
            return self.nlp.vocab[word].is_stop

        def is_punct(self, word: str, language: str) -> bool:
            return self.nlp.vocab[word].is_punct

        def get_supported_entities(self) -> list[str]:
            return []

        def get_supported_languages(self) -> list[str]:
            return ["en"]

    return BlankSpacyEngine()


@functools.cache
def _secret_patterns() -> dict[str, tuple[re.Pattern[str], ...]]:
    import importlib

    patterns = {}
    for entity, where in SECRET_TYPES.items():
        module, _, name = where.partition(":")
        plugin = getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), name)
        patterns[entity] = tuple(plugin.denylist)
    return patterns


def _secrets(text: str, entities: list[str]) -> list[Detection]:
    found = []
    patterns = _secret_patterns() if entities else {}
    for entity in entities:
        for pattern in patterns[entity]:
            for match in pattern.finditer(text):
                # where the secret sits inside an assignment or URL, the pattern captures it in
                # its first group; other patterns' groups are a prefix (GitHub's 'ghp')
                group = 1 if entity in _SECRET_IN_GROUP and pattern.groups and match.group(1) else 0
                start, end = match.span(group)
                if entity == "PRIVATE_KEY":
                    start, end = _key_block(text, match.start())
                elif entity == "JWT":  # the pattern stops before the signature (a lazy tail)
                    end = _JWT_TAIL.match(text, end).end()
                found.append(Detection(entity, start, end, SECRET_SCORE))
    return found


def _key_block(text: str, header: int) -> tuple[int, int]:
    """The whole '-----BEGIN ... PRIVATE KEY----- ... -----END ...-----' block around a header
    detect-secrets found (it matches the header line only), or from the header to the text's end
    when the block is cut off."""
    start = text.rfind("-----", 0, header)
    start = start if start >= 0 and header - start <= 5 else header
    end = _KEY_BLOCK_END.search(text, header)
    return start, end.end() if end else len(text)


def _high_entropy(text: str) -> list[Detection]:
    from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString

    entropy = Base64HighEntropyString().calculate_shannon_entropy
    found = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        # a random key mixes cases and digits; a long word, path or hex digest (at most 4 bits a
        # character: trace ids, git hashes) does not reach the limit
        mixed = any(c.isdigit() for c in token) and any(c.isupper() for c in token) and any(c.islower() for c in token)
        if mixed and entropy(token) >= ENTROPY_LIMIT:
            found.append(Detection(HIGH_ENTROPY, match.start(), match.end(), ENTROPY_SCORE))
    return found
