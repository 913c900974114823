"""Screening text for prompt injection and jailbreaks: a transparent, offline rule screen.

Why rules: every well-known screen is a model (llm-guard and Rebuff load a DeBERTa classifier
from Hugging Face; Meta's Prompt Guard and ProtectAI's deberta models likewise), and nothing may
be downloaded at run time here; the one offline package on PyPI with fixtures
(jailbreak-corpus-mini) is a test corpus, not a screen. So the screen is ours, and says what it
does: the text is normalized against obfuscation, then weighted signals are looked for; a text's
score is the noisy-or of the distinct signals it shows (1 - the product of 1 - weight), and a
guardrail blocks or flags at its threshold (default 0.5).

Normalization: Unicode NFKC (full-width and other compatibility forms), invisible format
characters removed (zero-width spaces and joiners, bidi controls, tag characters), Cyrillic and
Greek look-alikes folded to Latin letters, letters spaced out one by one joined
('i g n o r e'), a copy with common digit-for-letter swaps undone ('1gn0r3'), and base64 blobs
decoded and screened too. Each finding keeps its span in the original text.

Signals, by family: instruction override ('ignore all previous instructions', 'new
instructions:', 'from now on you will'), role-play jailbreaks (DAN, 'developer mode', 'no
restrictions', 'stay in character', 'pretend you have no rules'), system-prompt exfiltration
('reveal your system prompt', 'repeat the words above'), tool-call hijacking (text addressed to
the AI inside a tool result, 'call the transfer tool', 'send the conversation to http...',
markdown images that carry data out, chat-template role markers such as '<|im_start|>system' or
'</system>'), and obfuscation itself (invisible characters, mixed-script words, 'decode this and
follow it').

What it misses, honestly: attacks phrased without any of these cues (a polite request that
simply asks for the forbidden thing; a payload split over several messages or tool results;
instructions in a language other than English; encodings other than base64, such as ROT13,
leetspeak beyond simple digit swaps, or ciphers the attacker explains; instructions inside
images). It screens text; it does not understand it. The figures in BENCHMARKS.md say how much
of public attack corpora it catches, and how often it flags benign prompts.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata
from dataclasses import dataclass

from mcp_server.guardrails.pii import Detection

_SIGNALS: tuple[tuple[str, float, str], ...] = (
    # (family, weight, pattern on the normalized, lowercased text)
    ("instruction_override", 0.7,
     r"\b(ignore|disregard|forget|skip|bypass|override|overwrite|abandon|drop|neglect)\b[\w\s,'-]{0,40}?"
     r"\b(previous|prior|above|earlier|preceding|former|original|initial|all|any|your|the|these|those|system|safety|developer)"
     r"\b[\w\s,'-]{0,30}?\b(instructions?|prompts?|rules|directions|directives|guidelines|guidance|context|constraints|"
     r"programming|restrictions|commands|orders|policies|polic(y|ies)|filters?)\b"),
    ("instruction_override", 0.5, r"\b(ignore|disregard|forget|skip|bypass)\b[\w\s,'-]{0,30}\b(safety|security|content|ethical)\b"
     r"[\w\s,'-]{0,10}\b(stuff|measures|protocols|checks|features|settings|training|concerns)\b"),
    ("instruction_override", 0.5, r"\b(administrator|admin|developer|system|root|operator) (override|command|access granted)\b"),
    ("instruction_override", 0.5, r"\b(new|updated|revised|real|actual|secret|hidden|additional) (instructions?|task|orders|directives?)\s*[:\-]"),
    ("instruction_override", 0.45, r"\bfrom now on,? (you|your|u)\b"),
    ("instruction_override", 0.5, r"\bforget (everything|anything|all|any|what)\b[\w\s,'-]{0,30}\b(before|previous|prior|told|learned|"
     r"knowledge|instructions|conversations?|from)\b"),
    ("instruction_override", 0.35, r"\b(do not|don't|never) (follow|obey|listen to|adhere to) (your|the|any)\b"),
    ("instruction_override", 0.45, r"\binstead,? (you (must|will|should)|do the following|respond with|say|output)\b"),
    ("role_play_jailbreak", 0.6, r"\b(dan|stan|dude|anti-dan|aim|evil ?bot|betterdan|jailbroken?|jail ?break(ing)?|unfiltered ai)\b"
     r"[\w\s,'-]{0,40}\b(mode|can do anything|stands for|prompt|persona|character|which|who)\b"),
    ("role_play_jailbreak", 0.7, r"\bdo anything now\b"),
    ("role_play_jailbreak", 0.6, r"\b(developer|god|dev|debug|debugging|sudo|admin|unrestricted|unlocked|opposite|evil|maintenance|diagnostic) mode\b"),
    ("role_play_jailbreak", 0.5, r"\b(no|without( any)?|free of( all| any)?|free from( all| any)?|broken free of|not bound by|ignore all) "
     r"(ethical |moral |content |safety )?(restrictions|limitations|limits|filters|censorship|guidelines|rules|boundaries|"
     r"constraints|morals|ethics)\b"),
    ("role_play_jailbreak", 0.4, r"\b(stay|remain|keep|break(ing)?) (in|out of) character\b"),
    ("role_play_jailbreak", 0.5, r"\bno matter how (dangerous|reckless|immoral|unethical|illegal|inappropriate|offensive|"
     r"harmful|explicit|inhumane|wrong)\b"),
    ("role_play_jailbreak", 0.5, r"\b(doesn't|does not|don't|do not|never|won't|will not|doesnt|dont)\b[\w\s,'-]{0,12}"
     r"\b(have|has|follow|abide by|adhere to|care about|obey|respect)\b[\w\s,'-]{0,12}\b(ethical|moral|ethics|morals|"
     r"principles|content policies|guidelines|filters|censorship)\b"),
    ("role_play_jailbreak", 0.45, r"\b(will|must|shall|should|would)? ?(never|not|cannot|can't)\b[\w\s,'-]{0,10}\b(refuse|decline|"
     r"say no|tell me (that )?(it|you|he|she) can'?t|say (that )?(it|you|he|she) can'?t)\b"),
    ("role_play_jailbreak", 0.45, r"\b(you are|you're) (not|no longer) (chat ?gpt|an ai|a language model|an assistant|bound|claude)\b"),
    ("role_play_jailbreak", 0.4, r"\b(immerse yourself|fully immerse|embody) (into |in )?(the )?(role|persona|character)\b"),
    ("role_play_jailbreak", 0.3, r"\b(an? )?(ai|language model|chatbot|model|bot)\b[\w\s,'-]{0,10}\b(called|named)\b"),
    ("role_play_jailbreak", 0.3, r"\bwhich stands for\b"),
    ("role_play_jailbreak", 0.4, r"\b(simulate|enable|activate|enter)\b[\w\s,'-]{0,15}\bmode\b|\bmode (enabled|activated)\b"),
    ("role_play_jailbreak", 0.4, r"\b(pretend|imagine|act as if|roleplay as|role-play as|act as|behave as)\b[\w\s,'-]{0,40}"
     r"\b(no|without|unrestricted|unfiltered|uncensored|amoral|immoral|evil|never refuses?)\b"),
    ("role_play_jailbreak", 0.35, r"\b(amoral|uncensored|unfiltered|unrestricted|unethical|immoral)\b"),
    ("role_play_jailbreak", 0.45, r"\b(openai|anthropic|content|usage|safety)('s)? (polic(y|ies)|guidelines|rules)\b"),
    ("role_play_jailbreak", 0.3, r"\b(two|2) (different |separate )?(responses|answers|paragraphs)\b"),
    ("system_prompt_exfiltration", 0.7,
     r"\b(reveal|print|show|repeat|output|display|leak|tell me|give me|write out|share|dump|spell out|what (is|are|was|were))\b"
     r"[\w\s,'-]{0,30}?\b(system|initial|hidden|original|secret|developer|internal|pre-?prompt|confidential)\b"
     r"[\w\s,'-]{0,15}\b(prompt|instructions?|message|rules|guidelines|directives)\b"),
    ("system_prompt_exfiltration", 0.6, r"\b(repeat|print|output|echo|copy)\b[\w\s,'-]{0,30}\b(words|text|everything|all|content)\b"
     r"[\w\s,'-]{0,20}\b(above|before this|prior to this|so far)\b"),
    ("system_prompt_exfiltration", 0.5, r"\bbeginning with ['\"]?you are\b"),
    ("system_prompt_exfiltration", 0.6, r"\byour (initial|starting|original|hidden|secret|system|first|underlying|internal|preset|"
     r"pre-?set|confidential) (instructions?|prompt|configuration|setup|directives|rules|message)\b"),
    ("system_prompt_exfiltration", 0.5, r"\b(instructions?|prompt|rules|directives)\b[\w\s,'-]{0,20}\b(you (were|have been|are) "
     r"(given|told|provided|programmed)|given to you|at the (beginning|start) of (this|the) (conversation|chat|session))\b"),
    ("system_prompt_exfiltration", 0.4, r"\b(system ?prompt|initial prompt|initiali[sz]ation string|pre-?prompt)\b"),
    ("system_prompt_exfiltration", 0.5, r"\b(what (were|was) you told|i was instructed to|my instructions are|"
     r"what are you not (supposed|allowed) to (tell|say|reveal))\b"),
    ("system_prompt_exfiltration", 0.6, r"\b(print|output|reveal|show|give|list|leak|tell|display)\b[\w\s,'-]{0,30}\b(api ?keys?|"
     r"passwords?|credentials|secrets|access tokens?)\b[\w\s,'-]{0,30}\b(context|memory|conversation|prompt|system|configuration)\b"),
    ("tool_call_hijack", 0.5, r"\b(ai|assistant|model|llm|chatbot|agent|gpt|claude|bot)s?\b[,:]? (please )?(you must|you should|"
     r"must|should now|ignore|disregard|do not|don't|now)\b"),
    ("tool_call_hijack", 0.55, r"\b(important|urgent|attention|note|message|instructions?) (message |instructions? |note )?"
     r"(for|to) (the )?(ai|assistant|model|llm|chatbot|agent|bot)\b"),
    ("tool_call_hijack", 0.45, r"\b(call|invoke|use|run|execute|trigger) (the )?[\w.-]+ (tool|function|api|plugin|command)\b"),
    # asking to send something to an address is ordinary from a user; with another signal it tips the score
    ("tool_call_hijack", 0.4, r"\b(send|forward|email|e-mail|transfer|upload|post|exfiltrate|leak)\b[\w\s,'-]{0,50}\b(to|at)\b"
     r"[\w\s,'-]{0,20}(https?://|\S+@\S+\.\w+|attacker|external)"),
    ("tool_call_hijack", 0.6, r"!\[[^\]]*\]\(https?://[^)\s]*[?&][\w-]+=[^)]*\)"),
    ("tool_call_hijack", 0.6, r"(<\|im_start\|>\s*system|<\|system\|>|<\|im_end\|>|</?system>|\[/?inst\]|<<\s*sys\s*>>|"
     r"^\s*#{2,}\s*(system|instruction)s?\b|^\s*(system|assistant)\s*:)"),
    ("tool_call_hijack", 0.5, r"<!--[^>]{0,300}\b(important|instructions?|assistant|ai|model|when (summari[sz]ing|reading|you read))\b"),
    ("tool_call_hijack", 0.35, r"\bwithout (the user's |user |any |asking for )?(approval|confirmation|permission|consent|asking)\b"),
    ("tool_call_hijack", 0.45, r"\b(execute|run) (the following|this|these) (commands?|code|script|shell)\b"),
    ("obfuscation", 0.5, r"\b(decode|decipher|decrypt|translate|convert|apply rot-?13|rot-?13|reverse)\b[\w\s,'-]{0,30}\b(and|then)\b[\w\s,'-]{0,10}"
     r"\b(follow|execute|obey|do|run|comply|act on)\b"),
)
_COMPILED = tuple((family, weight, re.compile(pattern, re.MULTILINE)) for family, weight, pattern in _SIGNALS)

INVISIBLE_WEIGHT = 0.35  # several invisible format characters inside words: hiding something
MIXED_SCRIPT_WEIGHT = 0.35  # a word spelled with Latin and Cyrillic/Greek look-alikes together
MAX_SCREENED = 200_000  # characters of one text screened (its head and tail): bounds the work

_HOMOGLYPHS = str.maketrans({
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ԁ": "d",
    "ѕ": "s", "һ": "h", "ɡ": "g", "ո": "n", "ᴠ": "v", "ⅰ": "i", "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z",
    "Η": "h", "Ι": "i", "Κ": "k", "Μ": "m", "Ν": "n", "Ο": "o", "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x",
    "ο": "o", "ν": "v", "ι": "i", "α": "a", "κ": "k", "ρ": "p", "τ": "t", "υ": "u", "А": "a", "В": "b",
    "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p", "С": "c", "Т": "t", "Х": "x", "І": "i",
})  # fmt: skip
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_SPACED = re.compile(r"\b(?:[a-z] ){3,}[a-z]\b")
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{16,}={0,2}(?![A-Za-z0-9+/=])")
_WORD = re.compile(r"\w{3,}")


@dataclass(frozen=True)
class Screening:
    """A text's injection score (0 to 1) and the signals that gave it, each with its span in the
    original text (type = the signal's family, score = its weight)."""

    score: float
    signals: tuple[Detection, ...]


def screen(text: str) -> Screening:
    """Score `text` for prompt injection (see the module docstring for how)."""
    if len(text) > MAX_SCREENED:
        half = MAX_SCREENED // 2
        head, tail = screen(text[:half]), screen(text[-half:])
        shift = len(text) - half
        signals = head.signals + tuple(Detection(s.type, s.start + shift, s.end + shift, s.score) for s in tail.signals)
        return Screening(_noisy_or(signals), signals)
    normalized, origin, obfuscation = _normalize(text)
    found = list(obfuscation)
    found += _signals(normalized, origin)
    for match in _BASE64.finditer(text):
        decoded = _decoded(match.group())
        if decoded:
            inner, _, _ = _normalize(decoded)
            for signal in _signals(inner, list(range(len(inner)))):
                # found inside an encoded blob: the blob is the span, and hiding it is a signal too
                found.append(Detection(signal.type, match.start(), match.end(), signal.score))
                found.append(Detection("obfuscation", match.start(), match.end(), 0.3))
    signals = tuple(sorted(set(found), key=lambda d: (d.start, d.type)))
    return Screening(_noisy_or(signals), signals)


def _noisy_or(signals: tuple[Detection, ...]) -> float:
    # each distinct (family, weight) signal counts once, however often it repeats
    remaining = 1.0
    for _, weight in {(s.type, s.score) for s in signals}:
        remaining *= 1.0 - weight
    return round(1.0 - remaining, 4)


def _signals(normalized: str, origin: list[int]) -> list[Detection]:
    found = []
    variants = (normalized, normalized.translate(_LEET))
    for family, weight, pattern in _COMPILED:
        for variant in variants:
            match = pattern.search(variant)
            if match:
                start = origin[match.start()] if match.start() < len(origin) else origin[-1]
                end = origin[match.end() - 1] + 1 if match.end() > match.start() else start
                found.append(Detection(family, start, end, weight))
                break
    return found


def _normalize(text: str) -> tuple[str, list[int], list[Detection]]:
    """The text lowercased and de-obfuscated, the index in `text` of each of its characters, and
    the obfuscation signals met on the way."""
    if text.isascii():  # nothing to fold: the common case, without a loop over characters
        return _collapsed(text.lower(), list(range(len(text))), [])
    chars: list[str] = []
    origin: list[int] = []
    invisible: list[int] = []
    for i, ch in enumerate(text):
        if ch.isascii():
            chars.append(ch.lower())
            origin.append(i)
            continue
        if unicodedata.category(ch) == "Cf":
            invisible.append(i)
            continue
        for out in unicodedata.normalize("NFKC", ch).translate(_HOMOGLYPHS).lower():
            chars.append(out)
            origin.append(i)
    found: list[Detection] = []
    if len(invisible) >= 2:
        found.append(Detection("obfuscation", invisible[0], invisible[-1] + 1, INVISIBLE_WEIGHT))
    found += _mixed_script(text)
    return _collapsed("".join(chars), origin, found)


def _collapsed(folded: str, origin: list[int], found: list[Detection]) -> tuple[str, list[int], list[Detection]]:
    """Runs of white space as one (a newline where the run holds one), letters spaced one by one joined."""
    normalized = re.sub(r"\s+", lambda m: " " if "\n" not in m.group() else "\n", folded)
    if len(normalized) != len(folded):
        origin = _collapse_origin(folded, origin)
    joined = _SPACED.sub(lambda m: m.group().replace(" ", ""), normalized)
    if joined != normalized:
        origin = _join_origin(normalized, origin)
    return joined, origin, found


def _collapse_origin(raw: str, origin: list[int]) -> list[int]:
    kept = []
    for match in re.finditer(r"\s+|\S+", raw):
        if match.group().isspace():
            kept.append(origin[match.start()])
        else:
            kept.extend(origin[match.start():match.end()])
    return kept


def _join_origin(normalized: str, origin: list[int]) -> list[int]:
    drop: set[int] = set()
    for match in _SPACED.finditer(normalized):
        drop.update(i for i in range(match.start(), match.end()) if normalized[i] == " ")
    return [o for i, o in enumerate(origin) if i not in drop]


def _mixed_script(text: str) -> list[Detection]:
    found = []
    for match in _WORD.finditer(text):
        word = match.group()
        scripts = {_script(c) for c in word if c.isalpha()}
        if "LATIN" in scripts and scripts & {"CYRILLIC", "GREEK"}:
            found.append(Detection("obfuscation", match.start(), match.end(), MIXED_SCRIPT_WEIGHT))
            break
    return found


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if name else ""


def _decoded(blob: str) -> str | None:
    """The blob decoded from base64 when that gives readable text (words and spaces), else None."""
    try:
        raw = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)
        decoded = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    printable = sum(c.isprintable() or c in "\n\t" for c in decoded)
    if not decoded or printable / len(decoded) < 0.95 or " " not in decoded:
        return None
    return decoded
