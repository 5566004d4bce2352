"""One rule for every signing key the package reads: it must look generated, not written.

A key is only as strong as its guessability. A newcomer copied the documented
placeholder `CURSOR_SECRET_KEY=<python -c "import secrets; ...">` into `.env`
as written, and production accepted it: long enough, and public. Every key the
package reads (`CURSOR_SECRET_KEY`, `JWT_SECRET`, the example service's
`EXAMPLE_TOKEN_SECRET`) is held to the rule below, in every environment,
because a key set by hand is meant to be used:

- one token, as a generator prints it: no blanks, and not `<...>`,
  `$(...)`, `${...}` or a backticked command; those are a placeholder, a
  command or a sentence, not its output;
- at least `min_length` characters (32: 128 bits and more for what the
  documented commands print);
- not mostly patterns: at most half of it may be dictionary words of four
  letters or more (English, names, common passwords, as zxcvbn, Dropbox's
  strength estimator, finds them), repeats, sequences, keyboard rows, or
  runs of letters between separators (`-todo-app-jwt-`), words of any
  dictionary or none. Why a library rather than a word list of our own:
  research.md, section 27.

Random keys hold short patterns by chance, which do not count (`_counts`).
Measured on 56,000 keys from `secrets.token_urlsafe(24/32/64)`,
`token_hex(16/32)`, upper-case hex and base64 of 32 random bytes: at most
38% covered, none refused; the written phrases tried (research.md,
section 27) are 62% and more.
"""

from __future__ import annotations

import re
from typing import Any

from zxcvbn import matching  # type: ignore[import-untyped]

KEY_COMMAND = "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
MAX_PATTERN_SHARE = 0.5
# zxcvbn refuses longer input; a key this long is past any pattern worth checking.
_CHECKED_PREFIX = 72
# What documents and shells write but generators do not print: blanks (a sentence, a command),
# `<...>` (a placeholder), `$(...)`, `${...}` or `...` (a command or variable pasted
# unexpanded). Symbols inside a key are fine: `pwgen -sy` and Django's key generator print
# quotes, `<`, `>` and `$(` in random keys; a whole key of printable ASCII has one of these
# shapes about once in 8,000.
_NOT_PRINTED_BY_A_GENERATOR = re.compile(r"\s|^<.*>$|^\$\(.*\)$|^\$\{.*\}$|^`.*`$", re.DOTALL)
_HEX_LETTERS_ONLY = re.compile(r"[a-fA-F]+")
# 3 to 12 letters in one case (or capitalised) between separators ("-app-", "_JWT_"): a
# word of any dictionary or none; a generated key has a separator once in 32 characters.
_WORD_SHAPED = re.compile(
    r"(?<![A-Za-z0-9])(?:[a-z]{3,12}|[A-Z]{3,12}|[A-Z][a-z]{2,11})(?![A-Za-z0-9])"
)


def pattern_share(key: str) -> float:
    """The part of `key` (0 to 1) that is words, repeats, sequences or keyboard rows."""
    text = key[:_CHECKED_PREFIX]
    covered = [False] * len(text)
    spans = [(m["i"], m["j"] + 1) for m in matching.omnimatch(text) if _counts(m)]
    spans += [m.span() for m in _WORD_SHAPED.finditer(text)]
    for start, end in spans:
        covered[start:end] = [True] * (end - start)
    return sum(covered) / len(text) if text else 1.0


def _counts(match: dict[str, Any]) -> bool:
    """Whether a zxcvbn match is a pattern a person typed rather than one a key holds by chance.

    Random keys hold short chance matches that zxcvbn also reports: l33t and
    a-f-only "words" in hex ("dead", "b3ef"), words in random case ("tEHC",
    zxcvbn ignores case), number-pad and Dvorak walks and dates among digits,
    a 4-character repeat ("7f27f2"). Those are left out;
    see the module docstring for what remains.
    """
    token: str = match["token"]
    pattern = match["pattern"]
    if pattern == "dictionary":
        return (
            len(token) >= 4
            and token.isalpha()
            and (token.islower() or token.isupper() or token.istitle())  # as typed, not "tEHC"
            and not match.get("l33t")
            and not _HEX_LETTERS_ONLY.fullmatch(token)
        )
    if pattern == "spatial":
        return match.get("graph") == "qwerty" and len(token) >= 5
    if pattern == "repeat":
        return len(token) >= 6
    return pattern == "sequence" and len(token) >= 4


def secret_key_problem(key: str, min_length: int = 32) -> str | None:
    """The rule `key` breaks, said without repeating it; None when it looks generated."""
    if _NOT_PRINTED_BY_A_GENERATOR.search(key):
        problem = (
            "is a placeholder or a command (it holds blanks, or is <...>, $(...), ${...} "
            "or `...`), not a key"
        )
    elif len(key) < min_length:
        problem = f"must be at least {min_length} characters"
    elif pattern_share(key) > MAX_PATTERN_SHARE:
        problem = (
            "does not look generated: more than half of it is words, repeats, sequences "
            "or keyboard rows"
        )
    else:
        return None
    return f"{problem}; make one with: {KEY_COMMAND}"
