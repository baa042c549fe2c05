"""How the customer feels, from -1 (furious) to 1 (delighted): a small lexicon and a few rules, no model.

In the spirit of VADER (Hutto & Gilbert, 2014), sized for customer service: word valences from -4 to 4, negation
("not happy") flips and damps, intensifiers ("really", "so") and words in capitals amplify, "!!!" adds weight, a
clause after "but" counts more than the one before, emoji count like words, and stock sarcasm ("thanks for
nothing", "great, just great", "oh wonderful") is read as the complaint it is. The sum is squashed into [-1, 1]
with x / sqrt(x² + 15). Written from general customer-service language, not fitted to any test set; English
first, with a few common words of the languages our demo customers write in.
"""

from __future__ import annotations

import math
import re
import unicodedata

LEXICON: dict[str, float] = {
    # anger, disgust, contempt
    "angry": -3.0, "furious": -3.6, "livid": -3.6, "fuming": -3.2, "outraged": -3.4, "outrageous": -3.0,
    "disgusted": -3.2, "disgusting": -3.2, "disgrace": -3.2, "disgraceful": -3.2, "appalling": -3.2,
    "appalled": -3.2, "shocking": -2.4, "shocked": -2.0, "unacceptable": -3.0, "ridiculous": -2.6,
    "absurd": -2.2, "pathetic": -3.0, "hate": -3.0, "hated": -2.8, "loathe": -3.2, "sick": -1.6, "pissed": -3.0,
    "annoyed": -2.2, "annoying": -2.2, "irritated": -2.2, "irritating": -2.2, "frustrated": -2.4,
    "frustrating": -2.4, "infuriating": -3.2, "infuriated": -3.2, "mad": -2.2, "rage": -3.0, "upset": -2.4,
    # quality judgements
    "terrible": -3.0, "horrible": -3.0, "awful": -3.0, "dreadful": -3.0, "atrocious": -3.4, "abysmal": -3.4,
    "worst": -3.2, "bad": -2.0, "worse": -2.2, "poor": -2.0, "poorly": -2.0, "useless": -2.8, "hopeless": -2.6,
    "incompetent": -3.0, "incompetence": -3.0, "clueless": -2.4, "rubbish": -2.6, "crap": -2.8, "shit": -3.0,
    "shitty": -3.2, "sucks": -2.8, "garbage": -2.8, "joke": -1.8, "shambles": -2.8, "nightmare": -2.8,
    "mess": -1.8, "rude": -2.8, "unprofessional": -2.6, "unhelpful": -2.4, "disappointing": -2.6,
    "disappointed": -2.6, "disappointment": -2.6, "dissatisfied": -2.4, "unhappy": -2.4, "sad": -1.8,
    "miserable": -2.6, "worried": -1.6, "concerned": -1.0, "confused": -1.0, "unfair": -2.2,
    "misleading": -2.4, "lied": -2.8, "lies": -2.6, "liar": -3.0, "cheated": -3.0, "scam": -3.0,
    "scammed": -3.2, "fraud": -2.6, "robbery": -3.0, "stolen": -2.6, "ripoff": -3.0,
    # things gone wrong (mild: a customer can describe a problem calmly)
    "broken": -1.6, "damaged": -1.6, "faulty": -1.6, "wrong": -1.4, "missing": -1.2, "lost": -1.2, "late": -1.2,
    "delayed": -1.2, "fail": -1.4, "failed": -1.4, "failing": -1.4, "failure": -1.6, "error": -1.0,
    "problem": -0.8, "problems": -0.9, "issue": -0.5, "issues": -0.6, "never": -0.6, "ignored": -2.2,
    "ignoring": -2.2, "waste": -2.4, "wasted": -2.4, "overcharged": -2.4, "dirty": -2.0, "filthy": -2.8,
    "cold": -0.6, "noisy": -1.4, "stuck": -1.2, "complain": -2.0, "complaint": -2.0, "complaining": -2.0,
    "refund": -0.6, "cancel": -0.4, "stressed": -2.0, "stressful": -2.0, "ruined": -3.0, "ruin": -2.6,
    "unbelievable": -1.6, "seriously": -0.8, "sorry": -0.4, "unfortunately": -1.0,
    # positive
    "good": 1.9, "great": 3.1, "excellent": 3.2, "amazing": 3.0, "awesome": 3.0, "fantastic": 3.2,
    "wonderful": 3.2, "brilliant": 3.0, "perfect": 2.8, "superb": 3.2, "outstanding": 3.2, "lovely": 2.8,
    "love": 3.0, "loved": 2.9, "like": 1.2, "liked": 1.6, "nice": 1.8, "fine": 0.8, "ok": 0.6, "okay": 0.6,
    "happy": 2.7, "glad": 2.0, "pleased": 2.4, "delighted": 3.0, "satisfied": 2.0, "helpful": 2.2,
    "friendly": 2.2, "kind": 1.8, "quick": 1.2, "fast": 1.0, "easy": 1.4, "clean": 1.2, "comfortable": 1.8,
    "thanks": 1.8, "thank": 1.8, "thx": 1.6, "cheers": 1.4, "appreciate": 2.2, "appreciated": 2.2,
    "grateful": 2.4, "best": 2.6, "recommend": 1.8, "enjoyed": 2.4, "enjoy": 2.0, "beautiful": 2.8,
    "sorted": 1.4, "solved": 1.6, "resolved": 1.4, "works": 0.8, "working": 0.4, "welcome": 1.4, "please": 0.2,
    # a few words of the other languages the demo's customers write in
    "obrigado": 1.8, "obrigada": 1.8, "gracias": 1.8, "merci": 1.8, "danke": 1.8, "otimo": 2.8,
    "excelente": 3.0, "genial": 2.8, "super": 2.4, "pessimo": -3.0, "horrivel": -3.0, "nul": -2.6,
    "inaceitavel": -3.0, "inaceptable": -3.0, "inacceptable": -3.0,
    "vergonha": -2.6, "verguenza": -2.6, "schlecht": -2.2, "furioso": -3.4, "furiosa": -3.4,
}
# Multi-word expressions, checked on the normalised text before word scoring (each adds its valence once).
PHRASES: dict[str, float] = {
    "fed up": -2.8, "had enough": -2.6, "sick of": -2.6, "sick and tired": -3.0, "tired of": -2.2,
    "rip off": -3.0, "waste of time": -3.0, "waste of money": -3.0, "not good enough": -1.0,
    "let down": -2.4, "no one": -0.8, "nobody": -0.8, "still waiting": -2.2, "still not": -1.6,
    "never again": -3.0, "what a joke": -3.0, "are you kidding": -2.6, "you kidding me": -2.6,
    "how hard can it be": -2.6, "last time": -1.0, "for weeks": -1.4, "for days": -1.2, "for months": -1.6,
    "worst experience": -1.0, "thank you so much": 1.0, "well done": 1.8, "spot on": 2.4,
    "no worries": 1.6, "all good": 2.0, "all sorted": 2.0,
}
# Stock sarcasm: praise words that mean the opposite. Each one found is a strong negative on its own.
SARCASM = [re.compile(p) for p in (
    r"\bthanks? (you )?for nothing\b",
    r"\b(great|wonderful|fantastic|brilliant|perfect|lovely),? just "
    r"(great|wonderful|fantastic|brilliant|perfect|lovely)\b",
    r"\bjust (great|perfect|brilliant|wonderful|fantastic)\b",
    r"^\s*(oh|wow),? (great|wonderful|fantastic|brilliant|perfect|lovely|nice|good)\b", r"\byeah,? right\b",
    r"\b(again|broke|broken|lost|late|nobody|twice|wrong|failed|missing|wait|waiting|another|delay|delayed|down|"
    r"still)\b.{0,60}\bjust what i (needed|wanted)\b|\bjust what i (needed|wanted)\b.{0,60}\b(again|broke|"
    r"broken|lost|late|nobody|twice|wrong|failed|missing|wait|waiting|another|delay|delayed|down|still)\b",
    r"\bthanks a (lot|bunch|million)\b.{0,40}\b(not|never|no|nothing)\b",
    r"\bcheers for (nothing|that)\b", r"(^|\s)/s\b", r"\bsuper helpful\b.{0,5}\bnot\b",
    r"\b(love|loving|great|nice) (how|that|waiting|being)\b.{0,60}\b(never|not|no|again|still|lost|broke|"
    r"broken|late|wait|waiting|charged)\b",
    r"\b(great|excellent|amazing|fantastic|brilliant|stellar|top notch) (job|work|service)\b.{0,60}"
    r"\b(never|not|no|again|still|lost|broke|broken|late|wrong)\b",
    r"\bwell done\b.{0,40}\b(not|never|again|lost|broke|broken|wrong|charged)\b",
    r"\b(clearly|obviously) (you|your)\b",
)]
SARCASM_VALENCE = -3.2
NEGATIONS = frozenset("not no never none nothing nobody neither nor cannot can't won't don't doesn't didn't isn't "
                      "aren't wasn't weren't haven't hasn't hadn't shouldn't wouldn't couldn't ain't without hardly "
                      "barely nao nem nunca pas jamais nicht kein".split())
INTENSIFIERS: dict[str, float] = {
    "very": 0.3, "really": 0.3, "so": 0.3, "extremely": 0.5, "incredibly": 0.5, "absolutely": 0.4,
    "totally": 0.4, "completely": 0.4, "utterly": 0.5, "truly": 0.3, "super": 0.3, "most": 0.2, "too": 0.2,
    "beyond": 0.4, "seriously": 0.3, "such": 0.2, "bloody": 0.5, "fucking": 0.6, "damn": 0.4, "muito": 0.3,
    "tres": 0.3, "muy": 0.3, "sehr": 0.3,
}
DAMPENERS: dict[str, float] = {
    "slightly": 0.4, "somewhat": 0.3, "bit": 0.3, "little": 0.3, "kinda": 0.3, "sort": 0.2, "fairly": 0.2,
    "quite": 0.1, "almost": 0.3, "barely": 0.4,
}
EMOJI: dict[str, float] = {
    "😡": -3.4, "🤬": -3.6, "😠": -3.0, "😤": -2.4, "👿": -2.8, "💩": -2.6, "👎": -2.4, "😒": -1.8, "🙄": -1.8,
    "😞": -2.0, "😟": -1.8, "😢": -2.0, "😭": -2.4, "😩": -2.2, "😫": -2.2, "😖": -2.0, "😣": -1.8, "😔": -1.8,
    "💔": -2.2, "😑": -1.0, "😐": -0.4, "🤦": -1.8, "😓": -1.4,
    "🙂": 1.4, "😊": 2.2, "😀": 2.2, "😃": 2.4, "😄": 2.4, "😁": 2.2, "😍": 3.0, "🥰": 3.0, "❤": 2.8,
    "💙": 2.4, "👍": 2.0, "👌": 1.8, "🙏": 1.6, "🎉": 2.4, "😎": 1.6, "⭐": 1.4, "🤗": 2.2,
}
# Text emoticons, matched as tokens.
EMOTICONS: dict[str, float] = {":)": 1.6, ":-)": 1.6, ":d": 2.2, ":(": -2.0, ":-(": -2.0, ":'(": -2.4, ":/": -1.2,
                               ":-/": -1.2, "<3": 2.6}
CAPS_BOOST = 0.6  # a sentiment word in capitals in a message that is not all capitals
SHOUT_BOOST = 0.3  # the whole message in capitals
NEGATION_FACTOR = -0.74
BUT_BEFORE, BUT_AFTER = 0.5, 1.5
ALPHA = 15.0

_TOKEN = re.compile(r"(?<!\S)[:;]['-]?[()dDpP/](?!\S)|(?<!\S)<3|[\w']+|[^\w\s]", re.UNICODE)
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})
_REPEATS = re.compile(r"(\w)\1{2,}")
_CONTRACTIONS = {"dont": "don't", "doesnt": "doesn't", "didnt": "didn't", "cant": "can't", "wont": "won't",
                 "isnt": "isn't", "wasnt": "wasn't", "havent": "haven't", "hasnt": "hasn't", "aint": "ain't",
                 "shouldnt": "shouldn't", "wouldnt": "wouldn't", "couldnt": "couldn't", "arent": "aren't"}
_BUT = frozenset({"but", "however", "although", "though", "yet", "mas", "pero", "mais", "aber"})


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _squash(total: float) -> float:
    return total / math.sqrt(total * total + ALPHA)


def sentiment(text: str | None) -> float:
    """-1 (very negative) .. 1 (very positive); 0 for empty or neutral text. Never raises."""
    if not text or not isinstance(text, str):
        return 0.0
    text = text[:4000].translate(_APOSTROPHES)
    letters = [ch for ch in text if ch.isalpha()]
    all_caps = len(letters) >= 6 and all(not ch.islower() for ch in letters)
    lowered = _strip_accents(_REPEATS.sub(r"\1\1", text.casefold()))
    total = 0.0
    for pattern in SARCASM:
        if pattern.search(lowered):
            total += SARCASM_VALENCE
    sarcastic = total < 0
    original_tokens = _TOKEN.findall(_strip_accents(text))
    tokens = [_CONTRACTIONS.get(t.casefold(), t.casefold()) for t in original_tokens]
    valences = _word_valences(tokens, original_tokens, all_caps, skip_praise=sarcastic)
    for phrase, value in PHRASES.items():
        if re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", lowered):
            total += value
    total += sum(valences)
    for ch in text:
        total += EMOJI.get(ch, 0.0)
    if total:
        exclamations = min(text.count("!"), 4)
        questions = min(text.count("?"), 3) if text.count("?") > 1 else 0
        emphasis = 0.292 * exclamations + 0.18 * questions
        total += math.copysign(emphasis, total)
        if all_caps:
            total *= 1 + SHOUT_BOOST
    return round(max(-1.0, min(1.0, _squash(total))), 4)


def _word_valences(tokens: list[str], originals: list[str], all_caps: bool, skip_praise: bool) -> list[float]:
    but_at = next((i for i, t in enumerate(tokens) if t in _BUT), None)
    out: list[float] = []
    for i, token in enumerate(tokens):
        value = LEXICON.get(token, EMOTICONS.get(token, 0.0))
        if not value:
            continue
        if skip_praise and value > 0:
            continue  # the praise in "great, just great" is the sarcasm, already counted
        if not _is_feeling(tokens, i):
            continue
        original = originals[i]
        if not all_caps and original.isupper() and len(original) > 1:
            value += math.copysign(CAPS_BOOST, value)
        for back in (1, 2, 3):
            if i - back < 0:
                break
            scale = {1: 1.0, 2: 0.95, 3: 0.9}[back]
            word = tokens[i - back]
            if word in INTENSIFIERS:
                value += math.copysign(INTENSIFIERS[word] * scale, value)
            elif word in DAMPENERS:
                value -= math.copysign(DAMPENERS[word] * scale, value)
        if any(tokens[j] in NEGATIONS for j in range(max(0, i - 3), i)):
            value *= NEGATION_FACTOR
        if but_at is not None:
            value *= BUT_BEFORE if i < but_at else BUT_AFTER if i > but_at else 1.0
        out.append(value)
    return out


def _is_feeling(tokens: list[str], i: int) -> bool:
    """Words that are only sometimes feelings: "I'd like to book" and "kind of" are not; "super" before another
    sentiment word is an intensifier (counted there)."""
    word = tokens[i]
    following = tokens[i + 1] if i + 1 < len(tokens) else ""
    previous = tokens[i - 1] if i else ""
    if word == "like":
        return previous in ("i", "we", "really", "don't", "didn't", "do", "did") and following not in ("to", "a")
    if word == "kind":
        return following != "of"
    if word == "super":
        return following not in LEXICON
    return True
