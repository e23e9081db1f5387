"""The password policy: long enough, not built from the account's own details, hard to guess.

Guessability is estimated by zxcvbn (Dropbox's estimator; pure Python with its own lists of
common passwords, words, names and keyboard patterns). Pure: no Flask, no database.
"""

from __future__ import annotations

import re

from zxcvbn import zxcvbn

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256  # hashing an unbounded string is a denial-of-service lever

# zxcvbn scores 0-4 by the guesses an attacker would need: 2 is under 10^8, 3 at least 10^8 and
# 4 at least 10^10. 3 is the level zxcvbn calls "safely unguessable" (moderate protection against
# an offline attack on a slow hash, which scrypt is) and the usual threshold: sign-in is throttled,
# so only a leaked hash could be attacked: at a thousand scrypt guesses a second, 10^8 guesses take
# more than a day, 10^6 a quarter of an hour. Three ordinary words already reach 4, so a threshold
# of 3 refuses no sensible passphrase.
MIN_SCORE = 3

# zxcvbn's own limit: its matching grows quadratically with the length (256 characters took up to
# a second). The first 72 characters decide; whatever follows only adds guesses.
ESTIMATE_LENGTH = 72

# Short fragments ("al", "io") would match inside any password and say nothing.
_MIN_OWN_WORD = 3
_SPLIT = re.compile(r"[^0-9a-z]+")
_GENERIC_ADVICE = "Use three or four uncommon words together, or a short sentence only you would think of."


def _own_words(email: str, name: str, company: str) -> list[str]:
    """The account's own details as zxcvbn user inputs: whole, without spaces, and word by word."""
    local = email.partition("@")[0]
    words: list[str] = []
    for text in (email, local, name, company, "Sales Tracking"):
        text = (text or "").strip().lower()
        words += [text, _SPLIT.sub("", text), *_SPLIT.split(text)]
    return sorted({w for w in words if len(w) >= _MIN_OWN_WORD})


def _explain(result: dict) -> str:
    """zxcvbn's verdict as one sentence or three: why, then what to do instead."""
    if any(match.get("dictionary_name") == "user_inputs" for match in result["sequence"]):
        return ("Too easy to guess: it is built from your name, email address, company or this site's name. "
                + _GENERIC_ADVICE)
    feedback = result["feedback"]
    parts = ["Too easy to guess."]
    if feedback.get("warning"):
        parts.append(feedback["warning"])
    parts += feedback.get("suggestions", [])[:2] or [_GENERIC_ADVICE]
    return " ".join(parts)


def password_problem(password: str, *, email: str = "", name: str = "", company: str = "") -> str | None:
    """Why this password may not be set for the account with these details, or None if it may."""
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"Use at most {MAX_PASSWORD_LENGTH} characters."
    local = (email or "").partition("@")[0].strip().lower()
    if len(local) >= _MIN_OWN_WORD and local in password.lower():
        return (f"Do not put your email address in the password (it contains “{local}”): it is the first "
                "thing an attacker tries.")
    result = zxcvbn(password[:ESTIMATE_LENGTH], user_inputs=_own_words(email, name, company))
    if result["score"] >= MIN_SCORE:
        return None
    return _explain(result)
