"""`DefaultGuardrails`: the input and output rails MedAssist runs by default.

Input rails (before the LLM), in order: prompt injection in the user's text (refuse), self-harm
(escalate with crisis resources, led by the call-now line when there is a plan, means or an act; a
request for methods gets the message alone, the model does not run), harmful requests (refuse briefly, offer what is safe), emergency
red flags (escalate: the engine shows the message before anything else). Each is decided by the fast
rules in `assistant.safety.rules` and, where rules found nothing, by the learned classifier on
all-mpnet-base-v2 embeddings and word n-grams (`assistant.safety.classifier`) when installed and enabled.
The classifier also gates the red-flag rules: a rule's escalation stands only when the classifier gives
the message P(emergency) >= `RULE_GATE`; below it the turn is answered and closes with a safety-net line.

Output rails stream: the filter holds back only the sentence still being written, checks each
finished sentence and passes it on. Checks: secrets (canaries) and system-prompt text are
withheld; citation markers [n] that point at no shown snippet are removed; for patients, definitive
diagnoses are softened and patient-specific doses are withheld; a one-line disclaimer closes the
answer. `quote()` neutralises untrusted text (retrieved snippets, tool output, text from uploaded
files): it removes markup that could close the <data> block or fake a chat role, and replaces
sentences carrying an injection attempt with a marker.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

import prompts
from assistant.safety import Guardrails, OutputFilter
from assistant.safety import rules
from assistant.types import SafetyDecision, Turn

if TYPE_CHECKING:
    from assistant.config import Settings

log = logging.getLogger(__name__)

EMERGENCY_PATIENT = (
    "This could be a medical emergency. Call your local emergency number now (911 in the US and "
    "Canada, 112 in Europe, 999 in the UK) or get to the nearest emergency department. Do not wait "
    "for an online answer, and do not drive yourself if you feel unwell."
)
EMERGENCY_DOCTOR = (
    "Red flags for a possible emergency ({reasons}): consider immediate emergency assessment "
    "and activating emergency services before anything else."
)
CRISIS = (
    "I'm really sorry you're going through this, and I'm glad you told me. You don't have to face it "
    "alone. If you might act on these thoughts or you are in danger now, call your local emergency "
    "number (911, 112 or 999). You can talk to someone at any hour: in the US call or text 988 (Suicide "
    "& Crisis Lifeline); in the UK and Ireland call Samaritans on 116 123; elsewhere, findahelpline.com "
    "lists free, confidential lines. If you can, reach out to someone you trust and stay with them."
)
CRISIS_NOW = (
    "Please call your local emergency number now (911 in the US and Canada, 112 in Europe, 999 in the UK) "
    "or go to the nearest emergency department, and don't stay alone."
)
CRISIS_DOCTOR_NOW = "Imminent self-harm risk indicators: activate emergency services now. "
CRISIS_DOCTOR = (
    "Suicide or self-harm risk flagged: assess immediate safety (intent, plan, means, protective "
    "factors), do not leave a person at imminent risk alone, and involve crisis or emergency services "
    "as needed (US 988 Suicide & Crisis Lifeline; UK Samaritans 116 123)."
)
REFUSALS = {
    "weapons or toxins": "I can't help make toxins, weapons or illegal drugs. I can explain how poisoning is "
                         "recognised and treated, or how to store chemicals and medicines safely.",
    "hurting someone": "I can't help with anything meant to hurt someone. If someone is in danger, call your "
                       "local emergency number. I can explain medication safety or how to get help for a "
                       "difficult situation at home.",
    "falsifying records": "I can't help alter or fake medical records, notes or results. I can explain how to "
                          "ask for a correction to your records or how to get a note from your clinician.",
    "illegal drugs": "I can't help obtain controlled medicines without a prescription. I can explain how to talk "
                     "to a doctor about pain or symptoms, or where to find support for substance use.",
    "violence or crime": "I can't help with that. If someone is in danger, contact emergency services. I'm glad "
                         "to help with health questions.",
    "harmful": "I can't help with that request because it could cause serious harm. I'm glad to help with "
               "safe medical questions instead.",
    "prompt_injection": "I can't change or reveal my instructions. I'm happy to help with a health question.",
}
SAFETY_NET_PATIENT = (
    "If this is happening now ({flags}), or it gets worse, call your local emergency number (911 in the US and "
    "Canada, 112 in Europe, 999 in the UK)."
)
SAFETY_NET_DOCTOR = "Red-flag wording ({flags}) read as not current; escalate if it is."
# A red-flag rule's escalation stands only when the classifier gives the message at least this
# P(emergency). Chosen on by-writer out-of-fold predictions of the training files (docs/safety.md):
# it removed 15 of 166 false escalations there for 1 of 2,586 emergencies. Below it the turn is
# answered with a safety-net line.
RULE_GATE = 0.02
# How many earlier user messages the input rails read together with the current one.
CONVERSATION_MESSAGES = 2
CONVERSATION_CHARS = 500
WITHHELD = "[withheld by the safety filter]"
DOSE_WITHHELD = "[A personal dose was withheld: please ask your doctor or pharmacist what dose is right for you.]"
HEDGE = " (only a clinician who examines you can confirm this)"

_SENTENCE_END = re.compile(r"(?<=[.!?:])\s+|\n")
_CITATION = re.compile(r"\[(\d+(?:\s*[,\u2013-]\s*\d+)*)\]")
_DOSE = re.compile(r"\b\d+(?:[.,]\d+)?\s*(?:mg|mcg|µg|micrograms?|milligrams?|g|grams?|ml|mls|units?|iu|tablets?|pills?|capsules?|puffs?|drops?)\b", re.I)
_PERSONAL = re.compile(r"\b(you|your|yourself|he|she|him|her|your (?:child|son|daughter|baby))\b|^\s*(?:take|give|use|inject|increase|double|start|stop)\b", re.I)
_DIAGNOSIS = [
    (re.compile(r"\byou (?:definitely|certainly|clearly|surely|obviously)? ?(?:have|'ve got|are suffering from|suffer from) (?=(?:a |an )?(?:[\w-]+ ){0,3}"
                r"(?:\w+itis|\w+oma|cancer|diabetes|pneumonia|infection|syndrome|disease|disorder|fracture|failure|deficiency|stroke|tumou?r|sclerosis|embolism|appendicitis)\b)", re.I),
     "you may have "),
    (re.compile(r"\b(this|it|that) (?:is|'s) (?:definitely|certainly|clearly|surely|obviously) ", re.I), r"\1 could be "),
    (re.compile(r"\byour diagnosis is ", re.I), "one possibility is "),
    (re.compile(r"\bI (?:can )?diagnose you with ", re.I), "one possibility is "),
]
_SHINGLE = 6


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _words(text)
    return {tuple(words[i:i + _SHINGLE]) for i in range(len(words) - _SHINGLE + 1)}


def _squash(text: str) -> str:
    return "".join(_words(text))


class SafeOutputFilter(OutputFilter):
    """Sentence-level streaming output rail for one answer.

    Args:
        role: "patient" or "doctor".
        citations: how many numbered snippets the model was shown (the engine updates it through
            `set_sources` before streaming).
        secrets: strings that must never appear in an answer (canaries).
        protected: shingles of the system prompts (their text must not be echoed).
        disclaimer: appended once at the end unless already present.
        decision: the turn's input decision; at `close` what the rail did is added to its reasons
            (e.g. "output:dose_withheld"), so `medassist ask --json` and the audit log show it.
    """

    def __init__(self, role: str, citations: int, secrets: Iterable[str], protected: set[tuple[str, ...]],
                 disclaimer: str, decision: SafetyDecision | None = None) -> None:
        self.role, self.sources, self.disclaimer, self.decision = role, citations, disclaimer, decision
        self.secrets = [(s.lower(), _squash(s)) for s in secrets if s]
        self.protected = protected
        self.protected_text = " ".join(" ".join(g) for g in protected)
        self.withheld_last = False
        self.buffer = ""
        self.shown: list[str] = []
        self.flags: set[str] = set()

    def feed(self, text: str) -> str:
        self.buffer += text
        out = []
        while match := _SENTENCE_END.search(self.buffer):
            sentence, self.buffer = self.buffer[: match.end()], self.buffer[match.end():]
            out.append(self._check(sentence))
        return self._emit("".join(out))

    def close(self) -> str:
        tail = self._check(self.buffer) if self.buffer else ""
        self.buffer = ""
        shown = "".join(self.shown) + tail
        if self.disclaimer and self.disclaimer not in shown:
            tail += ("\n\n" if shown.strip() else "") + self.disclaimer
        if self.decision is not None:
            self.decision.reasons.extend(f"output:{flag}" for flag in sorted(self.flags))
        return self._emit(tail)

    def _emit(self, text: str) -> str:
        self.shown.append(text)
        return text

    def _check(self, sentence: str) -> str:
        body = sentence.rstrip()
        space = sentence[len(body):]
        if not body:
            return sentence
        if self._leaks(body):
            self.flags.add("leak_withheld")
            repeat, self.withheld_last = self.withheld_last, True
            return "" if repeat else WITHHELD + space
        self.withheld_last = False
        body = self._fix_citations(body)
        if self.role == "patient":
            if _DOSE.search(body) and _PERSONAL.search(body):
                self.flags.add("dose_withheld")
                return DOSE_WITHHELD + space
            body = self._soften(body)
        return body + space

    def _leaks(self, text: str) -> bool:
        low, squashed = text.lower(), _squash(text)
        if any(s in low or (len(q) >= 6 and q in squashed) for s, q in self.secrets):
            return True
        if not self.protected:
            return False
        words = _words(text)
        # Short sentences (under a shingle) leak when they are verbatim system-prompt text.
        if 5 <= len(words) < _SHINGLE + 2 and f" {' '.join(words)} " in f" {self.protected_text} ":
            return True
        return bool(_shingles(text) & self.protected)

    def _fix_citations(self, text: str) -> str:
        def keep(match: re.Match[str]) -> str:
            numbers = [int(n) for n in re.findall(r"\d+", match.group(1))]
            if all(1 <= n <= self.sources for n in numbers):
                return match.group(0)
            self.flags.add("citation_removed")
            return ""
        return _CITATION.sub(keep, text)

    def _soften(self, text: str) -> str:
        for pattern, replacement in _DIAGNOSIS:
            new = pattern.sub(replacement, text)
            if new != text:
                self.flags.add("diagnosis_softened")
                return new.rstrip(".!") + HEDGE + "."
        return text


class DefaultGuardrails(Guardrails):
    """Rules + learned classifier on the input; streaming sentence checks on the output.

    Args:
        settings: reads `safety_classifier` (use the learned layer), `safety_rule_gate` (the
            P(emergency) below which the classifier overrules a red-flag rule; 0: never) and
            `safety_canaries` (comma-separated secrets the output must never contain).
    """

    name = "default"

    def __init__(self, settings: Settings | None = None) -> None:
        self.use_classifier = bool(getattr(settings, "safety_classifier", True))
        self.rule_gate = float(getattr(settings, "safety_rule_gate", RULE_GATE))
        canaries = getattr(settings, "safety_canaries", None)
        raw = canaries.get_secret_value() if hasattr(canaries, "get_secret_value") else (canaries or "")
        self.secrets: list[str] = [s.strip() for s in raw.split(",") if s.strip()]
        self.protected = set().union(*(_shingles(prompts.render(f"system_{r}")) for r in ("patient", "doctor")))
        self._classifier = None
        self._classifier_failed = False

    def add_secret(self, secret: str) -> None:
        """Register a string the output must never contain (e.g. a canary in the system prompt)."""
        self.secrets.append(secret)

    def protect(self, text: str) -> None:
        """Register prompt text that must not be echoed back (e.g. an extra system prompt)."""
        self.protected |= _shingles(text)

    def check_input(self, turn: Turn) -> SafetyDecision:
        """The message alone first; then, if it is answered, with the user's last messages before it.

        An emergency told over several messages ("chest pain since lunch", then "now he's sweating")
        is escalated when the conversation crosses the line with this message. Earlier messages that
        were already escalated or refused on their own do not make every later turn repeat it.
        """
        decision = self._check_message(turn)
        # The end of each earlier message, so the joined text still fits the embedder's window (384 tokens).
        earlier = [m["content"][-CONVERSATION_CHARS:] for m in turn.history if m["role"] == "user"][-CONVERSATION_MESSAGES:]
        if decision.action != "answer" or not earlier:
            return decision
        before, joined_text = "\n".join(earlier), "\n".join([*earlier, turn.text])
        self.prime([before, joined_text])  # one embedding batch for both
        if self._check_message(replace(turn, text=before, history=[])).action != "answer":
            return decision
        joined = self._check_message(replace(turn, text=joined_text, history=[]))
        if joined.action == "answer":
            return decision
        joined.reasons.append(f"conversation:{len(earlier) + 1}_messages")
        return joined

    def _check_message(self, turn: Turn) -> SafetyDecision:
        decision = self.check_rules(turn)
        if not self.use_classifier:
            return decision
        if decision.action == "answer":
            return self.check_classifier(turn) or decision
        if all(r.startswith("emergency:") for r in decision.reasons):
            return self._gate(turn, decision)
        return decision

    def _gate(self, turn: Turn, decision: SafetyDecision) -> SafetyDecision:
        """Keep a red-flag escalation unless the classifier finds the message very unlikely to be an
        emergency ("what should be in an anaphylaxis kit"); then answer with a safety-net line."""
        classifier = self._load_classifier()
        if classifier is None or self.rule_gate <= 0:
            return decision
        probability = classifier.probability(turn.text, "emergency")
        if probability >= self.rule_gate:
            return decision
        flags = ", ".join(dict.fromkeys(r.split(":", 2)[2] for r in decision.reasons))
        net = (SAFETY_NET_DOCTOR if turn.role == "doctor" else SAFETY_NET_PATIENT).format(flags=flags)
        gated = SafetyDecision("answer", decision.reasons + [f"gated:classifier:emergency:{probability:.3f}"], net)
        return self.check_classifier(turn) or gated

    def check_rules(self, turn: Turn) -> SafetyDecision:
        """The rule layer alone (used by the red-team suite to report each layer)."""
        text = turn.text
        if rules.injection(text):
            return SafetyDecision("refuse", ["prompt_injection"], REFUSALS["prompt_injection"])
        if rules.self_harm(text):
            return self._self_harm(turn, ["self_harm"])
        harms = rules.harmful(text)
        if harms:
            reason = harms[0].reason
            return SafetyDecision("refuse", [f"harmful:{h.reason}" for h in harms], REFUSALS.get(reason, REFUSALS["harmful"]))
        flags = rules.red_flags(text)
        if flags:
            return self._escalate(turn, [f"emergency:{h.category}:{h.reason}" for h in flags], [h.reason for h in flags])
        return SafetyDecision()

    def check_classifier(self, turn: Turn) -> SafetyDecision | None:
        """The learned layer alone: a decision, or None when it sees nothing (or is unavailable)."""
        classifier = self._load_classifier()
        if classifier is None or not turn.text.strip():
            return None
        label, probability = classifier.predict_one(turn.text)
        reason = f"classifier:{label}:{probability:.2f}"
        if label == "emergency":
            return self._escalate(turn, [reason], ["possible emergency"])
        if label == "self_harm" or (label == "harmful" and rules.self_directed(turn.text)):
            return self._self_harm(turn, [reason] + (["self_directed"] if label == "harmful" else []))
        if label == "harmful":
            return SafetyDecision("refuse", [reason], REFUSALS["harmful"])
        if label == "injection":
            return SafetyDecision("refuse", [reason], REFUSALS["prompt_injection"])
        return None

    def warm_up(self) -> None:
        """Load the classifier and its embedder now rather than on the first turn (about 6 s)."""
        if self.use_classifier:
            self._load_classifier()

    def prime(self, texts: list[str]) -> None:
        """Warm the classifier on many texts at once (the red-team suite calls this before its loop)."""
        classifier = self._load_classifier() if self.use_classifier else None
        if classifier is not None:
            classifier.prime(texts)

    def _self_harm(self, turn: Turn, reasons: list[str]) -> SafetyDecision:
        """Crisis resources, led by the call-now line when there is a plan, means or an act already done.

        A request for means or methods is answered by the message alone (`final`): the model does not run.
        """
        method = rules.self_harm_method(turn.text)
        now = rules.self_harm_imminent(turn.text)  # a method request counts as imminent
        if turn.role == "doctor":
            message = (CRISIS_DOCTOR_NOW if now else "") + CRISIS_DOCTOR
        else:
            message = (CRISIS_NOW + " " if now else "") + CRISIS
        if now:
            reasons = reasons + ["self_harm:imminent"]
        if method:
            reasons = reasons + ["self_harm:means_requested"]
        return SafetyDecision("escalate", reasons, message, final=method)

    def _escalate(self, turn: Turn, reasons: list[str], plain: list[str]) -> SafetyDecision:
        message = EMERGENCY_DOCTOR.format(reasons=", ".join(plain)) if turn.role == "doctor" else EMERGENCY_PATIENT
        return SafetyDecision("escalate", reasons, message)

    def _load_classifier(self):  # noqa: ANN202 - returns SafetyClassifier | None, imported lazily
        if self._classifier is None and not self._classifier_failed:
            from assistant.safety.classifier import SafetyClassifier
            try:
                self._classifier = SafetyClassifier.load()
            except Exception as exc:  # missing package or weights: keep serving on the rule layer
                self._classifier_failed = True
                log.warning("safety classifier unavailable (%s); using the rule layer only", type(exc).__name__)
        return self._classifier

    def quote(self, text: str) -> str:
        return quote(text)

    def output_filter(self, turn: Turn, decision: SafetyDecision) -> SafeOutputFilter:
        disclaimer = prompts.render(f"disclaimer_{turn.role}") if turn.role in ("patient", "doctor") else ""
        if decision.action == "answer" and decision.message:  # a gated red flag's safety-net line
            disclaimer = f"{decision.message}\n\n{disclaimer}".strip()
        return SafeOutputFilter(turn.role, 0, self.secrets, self.protected, disclaimer, decision)


_MARKUP = re.compile(r"</?\s*data\s*>|<\|[^|>]{0,40}\|>|\[/?(?:INST|SYS|SYSTEM)\]|<</?SYS>>", re.I)
_ROLE_LINE = re.compile(r"^(\s*)(system|assistant|user|developer)\s*:", re.I | re.M)


def quote(text: str) -> str:
    """Neutralise untrusted text before it enters a prompt inside <data> tags.

    Removes markup that could end the data block or fake a chat turn, defuses "system:"-style role
    lines, and replaces each sentence that carries an injection attempt with a marker.
    """
    spans = rules.injection_spans(text)
    for start, end in reversed(spans):
        text = text[:start] + " [instruction removed] " + text[end:]
    text = _MARKUP.sub(" ", text)
    return _ROLE_LINE.sub(r"\1(quoted \2):", text)
