"""What shape of answer a question asks for, from the form of its words alone.

``question_kind(question)`` is one of ``KINDS``:

- ``who``: a named person or role ("Who led ...", "To whom was the letter addressed?",
  "Which inspectors carried out ...", "the lead inspector for ...");
- ``when``: a date or period ("When was ...", "On what date ...", "In which year ...",
  "How long ago ...", "Since when ...");
- ``number``: a count, amount, share or rate ("How many ...", "How much ...", "What
  proportion ...", "the number of ...", "the turnover rate", "How long did ... last?");
- ``which``: a named thing ("Which team ...", "What is the name of ...", "What is ... called?",
  "What model does ... use?", "What does PHASE stand for?");
- ``finding``: what the inspection said, found, judged or described ("What did Ofsted say ...",
  "How did the 2013 inspection judge ...", "How well ...", "How effective ...", "What were the
  strengths ...", "What overall judgement did ... receive?");
- ``other``: anything else (yes/no questions, "why", "what happened to ...").

The rules are tried in order and the first that matches wins, so "How many ... did inspectors
find?" is ``number`` and "Which councils were judged inadequate?" is ``which``. They speak of
the question's form only; no council, report or particular question is named here.
"""

from __future__ import annotations

import re

KINDS = ("who", "when", "number", "which", "finding", "other")

# Openings that carry no question: "tell me", "please", "can you tell me", "I'd like to know".
_POLITE = re.compile(
    r"^(?:(?:please|ok(?:ay)?|so|and|also|now|hi|hello)[ ,]+)*"
    r"(?:(?:can|could|would|will) you (?:please )?(?:tell me|say|find out|check|let me know)"
    r"|(?:please )?tell me|do you know|i(?:'d| would) like to know|i want(?: to know)?"
    r"|i(?:'m| am) wondering|i wonder|show me|give me|find out|let me know)\b[ ,:]*",
    re.IGNORECASE,
)
# A leading phrase before a comma: "According to the 2015 inspection, ...", "In 2019, ...".
_LEADING = re.compile(
    r"^(?:according to|in|at|for|during|by|from|as of|after|before|on)\b"
    r"(?:(?!\b(?:what|which|who|whom|whose|when|how)\b)[^,?]){0,80}, ",
    re.IGNORECASE,
)
# A question asked inside another: "Did Ofsted say who led it?" asks who.
_EMBEDDED = re.compile(
    r"\b(?:say|said|says|tell me|know|mention|mentioned|name|report|state|stated|record)\s+"
    r"(?=(?:who|whom|when|which|how many|how much|how long|what)\b)",
    re.IGNORECASE,
)

_AUX = r"(?:did|does|do|was|were|is|are|has|have|had|will|would|can|could|should|the|a|an)"
# Up to two words that qualify a noun after "which"/"what" ("which lead inspector", "what new
# model"), never an auxiliary ("what did inspectors ...").
_MODIFIERS = rf"(?:(?!{_AUX}\b)[\w'’-]+ ){{0,2}}"
_ROLES = (
    r"(?:inspectors?|hmis?|directors?|dcs|ministers?|chief executives?|chairs?|chairpersons?"
    r"|commissioners?|lead members?|persons?|individuals?|officials?|officers?|head teachers?"
    r"|headteachers?|heads?)"
)
_THINGS = (
    r"(?:projects?|services?|teams?|councils?|authorit(?:y|ies)|tools?|models?|approach(?:es)?"
    r"|frameworks?|methods?|methodolog(?:y|ies)|programmes?|programs?|systems?|schemes?|units?"
    r"|partnerships?|agreements?|documents?|initiatives?|boards?|panels?|hubs?|polic(?:y|ies)"
    r"|software|databases?|platforms?|organisations?|organizations?|trusts?|charit(?:y|ies)"
    r"|agenc(?:y|ies)|schools?|awards?|interventions?|offers?|pathways?|groups?|forums?"
    r"|centres?|centers?|homes?|apps?|websites?|protocols?|strateg(?:y|ies)|ethos|motto|pledge"
    r"|slogan|brand|title)"
)
# Who or what reports: Ofsted, its inspectors, the inspection, its report or letter, "they".
_REPORTER = (
    r"(?:ofsted(?:'s|’s)?|inspectors?(?:'|’)?|hmis?|inspectorate|inspections?|re-inspections?"
    r"|reports?|visits?|letters?|judgements?|they|it)"
)
_REPORTING_VERB = (
    r"(?:say|said|says|find|found|finds|conclude|concluded|concludes|note|noted|notes|judge"
    r"|judged|judges|describe|described|describes|report|reported|reports|observe|observed"
    r"|identify|identified|highlight|highlighted|comment|commented|think|thought|make of"
    r"|rate|rated|grade|graded|criticise|criticised|criticize|criticized|praise|praised|assess"
    r"|assessed|recommend|recommended|look at|looked at|focus on|focused on|evaluate|evaluated"
    r"|characterise|characterised|characterize|characterized|see|saw|mention|mentioned|conclusion"
    r"|findings?)"
)

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(pattern, re.IGNORECASE))
    for kind, pattern in (
        # when, by its opening word, before anything inside the question
        ("when", r"^(?:(?:by|until|till|since|from) )?when\b"),
        ("when", r"^how (?:long|many years|many months) ago\b"),
        # number
        ("number", r"\bhow (?:many|much|old|often|frequently|quickly|soon)\b"),
        ("number", r"\bhow long (?:did|does|do|was|were|is|are|had|has|have|will|would)\b"),
        (
            "number",
            r"\b(?:what|which) (?:\w+ )?(?:share|percentage|percent|proportion|fraction|number"
            r"|ratio|rate|age|amount|figure|total|count|size)\b",
        ),
        ("number", r"\b(?:number|numbers|percentage|proportion|share) of\b"),
        (  # "rate" the noun ("the turnover rate in 2020"), not the verb ("did they rate it")
            "number",
            r"\brates? (?:of|for|in|at|was|were|is|are|has|had|have|rose|fell|increased|decreased"
            r"|among|across|compared|than|by)\b|\brates?$",
        ),
        # when, inside the question
        ("when", r"\b(?:what|which) (?:\w+ )?(?:dates?|days?|years?|months?|period|time)\b"),
        ("when", r"\b(?:in|during|by|from|since|until) (?:what|which) (?:year|month)s?\b"),
        ("when", r"\bdates? (?:of|for|when|on which)\b"),
        # who
        ("who", r"^(?:who|whom|whose)\b"),
        ("who", r"^(?:to|for|by|with|from|of) whom\b"),
        ("who", r"\bwhom\b"),
        ("who", r"\bwho (?:is|was|were|are) (?:responsible|in charge|accountable)\b"),
        ("who", rf"^(?:(?:to|for|by|with|from|of) )?(?:which|what) {_MODIFIERS}{_ROLES}\b"),
        ("who", rf"\bnames? (?:of )?(?:the |their |its )?{_MODIFIERS}{_ROLES}\b"),
        # which
        ("which", r"^which\b"),
        ("which", r"^(?:in|through|to|for|from|by|at|of|with|under|on|into|via) which\b"),
        ("which", r"\b(?:what|which) (?:is|was|are|were) (?:the )?names?\b"),
        ("which", r"\bthe name (?:of|for|given)\b"),
        ("which", r"\b(?:called|named|known as|stand for|stands for|short for)\b"),
        (
            "finding",
            r"^(?:what|which)\b[^,]{0,60}\b(?:judgements?|judgments?|grades?|ratings?|outcomes?)\b",
        ),
        ("which", rf"^what {_MODIFIERS}{_THINGS}\b"),
        ("which", rf"^what (?:is|was|are|were) (?:the )?{_MODIFIERS}{_THINGS}\b"),
        # a proper name or acronym after "what is": "What is CLICK in ...?" (case kept)
        ("which", r"^what (?:is|was|are|were) (?:the )?(?-i:[A-Z])[\w-]*\b(?!'s)"),
        # finding
        ("finding", rf"\b{_REPORTER}\b[^.;?]{{0,80}}?\b{_REPORTING_VERB}\b"),
        (
            "finding",
            r"\b(?:was|were|is|are|been|being)\s+(?:\w+\s+)?(?:judged|rated|graded|described"
            r"|found|assessed|evaluated|criticised|criticized|praised|considered)\b",
        ),
        (
            "finding",
            r"^how (?:is|was|were|are|has|have|had)\b[^,]{0,100}\b(?:judged|rated|graded|described"
            r"|assessed|evaluated|characterised|characterized|seen)\b",
        ),
        (
            "finding",
            r"^how (?:well|effective|effectively|good|strong|safe|safely|poor|weak|robust"
            r"|consistent|consistently|thorough|timely|successful|successfully|appropriate)\b",
        ),
        (
            "finding",
            r"\b(?:strengths?|weakness(?:es)?|areas? (?:for|of|requiring|needing) "
            r"(?:improvement|development|priority action|action|concern)|areas? to improve"
            r"|shortcomings|shortfalls|recommendations?|findings?|verdict|what needs? to improve"
            r"|what needed to improve|what is working well|what was working well)\b",
        ),
        # who, where nothing else has claimed the question
        ("who", r"\blead inspectors?\b"),
    )
)


def _normalise(question: str) -> str:
    """Plain quotes, single spaces, no closing punctuation, no polite opening."""
    text = question.replace("’", "'").replace("‘", "'")
    text = re.sub(r"\s+", " ", text).strip(" \t\n?!.")
    for pattern in (_POLITE, _LEADING):
        text = pattern.sub("", text, count=1)
    embedded = _EMBEDDED.search(text)
    if embedded and embedded.start() < 40:  # "did ofsted say who ..." asks the inner question
        text = text[embedded.end() :]
    return text


def question_kind(question: str) -> str:
    """The kind of answer ``question`` asks for: one of ``KINDS``."""
    text = _normalise(question)
    for kind, pattern in _RULES:
        if pattern.search(text):
            return kind
    return "other"
