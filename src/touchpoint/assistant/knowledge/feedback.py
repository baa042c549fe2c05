"""The customer's answer to "Did this answer your question?": yes, no, or something else (a new question).

The whole message must be made of feedback phrases (yes/no words, thanks, fillers, 👍/👎) to count: "yes but
what about parking?" is a new question, not a yes. A message with any "no" phrase is a no ("no thanks", "not
really, thanks"): politeness comes with both, and a missed "no" would hide a failure from the escalation policy.
"""

from __future__ import annotations

import re
import unicodedata

from touchpoint.assistant.knowledge.lexical import fold

MAX_FEEDBACK_CHARS = 200  # longer than any "yes"/"no"; a paragraph is a new message whatever it starts with

_YES = """
yes | yeah | yea | yeh | yep | yup | ya | yas | y | sure | of course | absolutely | definitely | indeed | correct |
exactly | perfect | great | awesome | excellent | brilliant | cool | nice | super | good | very good | ok | okay |
k | kk | alright | all right | fine | thanks | thank you | thank u | thankyou | thx | thnx | tx | ty | tks | cheers |
ta | thumbs up | helped | that helped | it helped | this helped | helpful | very helpful | it did | that did |
it does | that does | thats it | that is it | that answers it | that answers my question | answered | got it |
gotcha | understood | solved | sorted | all good | all sorted | that works | works | it works | yes thanks |
si | oui | ja | sim | obrigado | obrigada | gracias | merci | danke
"""
_NO = """
no | nope | nah | na | n | nop | nay | not really | not quite | not at all | not exactly | no thanks |
didnt help | did not help | doesnt help | does not help | didnt | did not | doesnt | does not | it didnt |
it did not | that didnt | that did not | not helpful | unhelpful | useless | not useful | wrong | wrong answer |
thats wrong | thats not it | that is not it | not it | not what i asked | not what i meant | not what i need |
not what i was looking for | not my question | thumbs down | still no | not | non | nein | nao | nee
"""
# Words that may surround a yes or a no without changing it.
_FILLER = """
it | that | this | so | much | very | really | a lot | lot | you | i | well | oh | ah | um | uh | hmm | hm | mm |
please | pls | bot | just | but | and | actually | sorry | afraid | im afraid | i am afraid | unfortunately |
still | answer | question | my | the | for | help | your | smile | indeed | lol | haha | yes yes | again | man | mate
"""


def _phrases(block: str) -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(p.split()) for p in block.replace("\n", " ").split("|") if p.strip())


YES_PHRASES, NO_PHRASES, FILLERS = _phrases(_YES), _phrases(_NO), _phrases(_FILLER)
_LONGEST = max(len(p) for p in YES_PHRASES | NO_PHRASES | FILLERS)
_EMOJI = {"👍": " thumbs up ", "👌": " ok ", "🙏": " thanks ", "✅": " yes ", "👎": " thumbs down ", "❌": " no ",
          "🙂": " smile ", "😊": " smile ", "😀": " smile ", "😃": " smile ", "❤": " thanks ", "♥": " thanks "}
_NOT_WORD = re.compile(r"[^a-z0-9 ]+")


def _words(text: str) -> list[str]:
    for emoji, word in _EMOJI.items():
        text = text.replace(emoji, word)
    # Skin tones, variation selectors and the rest of the emoji noise go; apostrophes vanish ("didn't" → didnt).
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] in "LNZ" or ch in "'’")
    return _NOT_WORD.sub(" ", fold(text).replace("'", "").replace("’", "")).split()


def feedback_of(text: str) -> bool | None:
    """True for a yes ("yes", "yep", "thanks", "that helped", 👍), False for a no ("no", "nope", "not really",
    "that didn't help", 👎), None when the message is anything else."""
    if not text or len(text) > MAX_FEEDBACK_CHARS:
        return None
    words = _words(text)
    said_yes = said_no = False
    position = 0
    while position < len(words):
        for size in range(min(_LONGEST, len(words) - position), 0, -1):
            phrase = tuple(words[position:position + size])
            if phrase in NO_PHRASES:
                said_no = True
            elif phrase in YES_PHRASES:
                said_yes = True
            elif phrase not in FILLERS:
                continue
            position += size
            break
        else:
            return None  # a word that is not feedback: the customer is saying something else
    if said_no:
        return False
    return True if said_yes else None
