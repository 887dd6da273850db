"""Secrets out of statement text before anything is stored, landing included.

Database audit trails record statements as they were sent, and a statement can carry a
password: ``CREATE ROLE app LOGIN PASSWORD 'secret'``, ``ALTER USER ... IDENTIFIED BY '...'``,
``dblink_connect('host=db password=secret')``, ``postgresql://app:secret@db/app``. A feed that
reads such text gives the shared extract a :class:`Redactor`; every string in every record is
rewritten before its page lands, and the batch records how many values were redacted.

Regular expressions, not a SQL parser: the trails hold statements that failed to parse, are
truncated, or belong to another dialect, and each must still lose its password. The patterns
err towards redacting too much (any quoted literal after ``PASSWORD`` or ``IDENTIFIED BY``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

#: What a secret is replaced with; searchable, and never a valid password hash.
MASK = "[REDACTED]"

# A SQL string literal: '...' with '' inside, E'...' with backslash escapes, $tag$...$tag$,
# "..." (MySQL's double-quoted strings; in Postgres a mistake worth masking too), or a hex
# literal (SQL Server's hashed passwords). An unterminated one runs to the end of the text.
_LITERAL = (
    r"""(?:[eE]?'(?:[^'\\]|''|\\.)*'?|"(?:[^"\\]|""|\\.)*"?"""
    r"""|\$(?P<tag>[A-Za-z_]*)\$.*?(?:\$(?P=tag)\$|$)|0x[0-9A-Fa-f]+)"""
)

_BUILT_IN: tuple[tuple[str, str], ...] = (
    # JSON or YAML inside a statement, "password": "secret" or password: 'secret' (first:
    # its quotes would fool the patterns below)
    (
        "json password",
        r"""(?i)(["']?\b\w*(?:password|passwd|pwd|secret)["']?\s*:\s*)("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""",
    ),
    # the plain text handed to a hashing or encrypting function in a statement that names a
    # password: SET password = crypt('secret', gen_salt('bf')), md5('secret' || 'user')
    (
        "hashed plain text",
        r"(?is)(\b(?:crypt|md5|sha\d*|digest|hmac|pgp_sym_encrypt|aes_encrypt|encrypt)\s*\(\s*)"
        + _LITERAL,
    ),
    # CREATE/ALTER ROLE|USER ... [ENCRYPTED] PASSWORD '...' (Postgres), PASSWORD = '...'; a
    # quote right after the word is a quoted column name ("password"), not a literal
    ("password literal", r"(?is)(\bpassword(?:\s*=\s*|\s+|(?=[eE]?')))" + _LITERAL),
    # MySQL/MariaDB: IDENTIFIED BY [PASSWORD] '...', IDENTIFIED WITH plugin BY/AS '...';
    # Oracle: IDENTIFIED BY tiger (an unquoted word)
    (
        "identified by",
        r"(?is)(\bidentified\s+(?:with\s+\S+\s+)?(?:by|as)\s+(?:password\s+)?)"
        r"(?!(?:random|values)\b)(?:" + _LITERAL + r"|[^\s;,)'\"]+)",
    ),
    # ClickHouse: further methods after the first, IDENTIFIED WITH plaintext_password BY 'a',
    # sha256_password BY 'b'; and the salt of IDENTIFIED WITH sha256_hash BY '...' SALT '...'
    (
        "further identified by",
        r"(?is)(,\s*\w*(?:password|hash)\w*\s+by\s+)(?:" + _LITERAL + r")",
    ),
    ("identified salt", r"(?is)(\bsalt\s+)(?:" + _LITERAL + r")"),
    # MySQL: SET PASSWORD [FOR u] = PASSWORD('...') / OLD_PASSWORD('...')
    ("password function", r"(?is)(\b(?:old_)?password\s*\(\s*)" + _LITERAL),
    # SQL Server: ... WITH PASSWORD = N'...'
    ("n-literal password", r"(?is)(\bpassword\s*=\s*)[nN]" + _LITERAL),
    # SQL Server: ALTER LOGIN ... OLD_PASSWORD = N'...', BACKUP ... MEDIAPASSWORD = '...',
    # CREATE [DATABASE SCOPED] CREDENTIAL ... SECRET = '...'
    ("prefixed password", r"(?is)(\b(?:old_|media)password\s*=\s*)[nN]?" + _LITERAL),
    ("secret literal", r"(?is)(\bsecret\s*=\s*)[nN]?" + _LITERAL),
    # named procedure arguments: @rmtpassword, @passwd, @password, sp_password's @old / @new
    ("password argument", r"(?is)(@(?:\w*pass\w*|\w*pwd\w*|old|new)\s*=\s*)[nN]?" + _LITERAL),
    # positional arguments of SQL Server's procedures that take passwords: all of them
    (
        "password procedure",
        r"(?i)(\b(?:sp_addlogin|sp_password|sp_setapprole|sp_addapprole|sp_approlepassword"
        r"|sp_addlinkedsrvlogin|sp_change_users_login)\b)[^;\r\n]*",
    ),
    # libpq key/value strings and environments: password=secret, password='se cret',
    # PGPASSWORD=secret, MYSQL_PWD=secret (not a value masked already by a pattern above)
    (
        "conninfo password",
        r"(?i)(\b(?:pg|mysql_)?(?:password|pwd|passwd)\s*=\s*)(?!\[REDACTED\](?:[\s,;)]|$))"
        r"('(?:[^'\\]|\\.)*'|[^\s;'\"]+)",
    ),
    # URLs: scheme://user:secret@host
    ("url password", r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s:/@'\"]*:)([^\s@'\"]+)(?=@)"),
)


class RedactionError(ValueError):
    """A configured redaction pattern is not a valid regular expression."""


class Redactor:
    """Rewrites secrets in text with :data:`MASK`; the built-in patterns plus ``extra``.

    An extra pattern with a group named ``secret`` masks only that group; without one, the
    whole match is masked.
    """

    def __init__(self, extra: Iterable[str] = ()) -> None:
        self._patterns: list[tuple[re.Pattern[str], bool]] = [
            (re.compile(pattern), True) for _, pattern in _BUILT_IN
        ]
        for pattern in extra:
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise RedactionError(f"redaction pattern {pattern!r}: {exc}") from None
            self._patterns.append((compiled, False))
        self._has_extra = len(self._patterns) > len(_BUILT_IN)

    def _mask_extra(self, match: re.Match[str]) -> str:
        if "secret" in match.re.groupindex and match.group("secret") is not None:
            start, end = match.span("secret")
            whole_start = match.start()
            text = match.group(0)
            return text[: start - whole_start] + MASK + text[end - whole_start :]
        return MASK

    def redact_text(self, text: str) -> tuple[str, int]:
        """``text`` with its secrets masked, and how many were."""
        count = 0
        for pattern, built_in in self._patterns:
            if built_in:
                text, found = pattern.subn(lambda m: m.group(1) + MASK, text)
            else:
                text, found = pattern.subn(self._mask_extra, text)
            count += found
        return text, count

    def redact_record(self, record: Any) -> int:
        """Mask secrets in every string of ``record`` (dicts and lists, in place); returns how
        many string values changed."""
        changed = 0
        items = record.items() if isinstance(record, dict) else enumerate(record)
        for key, value in list(items):
            if isinstance(value, str):
                # every built-in pattern needs a hint word: most values skip the regexes
                if self._has_extra or _HINTS.search(value):
                    redacted, found = self.redact_text(value)
                    if found and redacted != value:
                        record[key] = redacted
                        changed += 1
            elif isinstance(value, dict | list):
                changed += self.redact_record(value)
        return changed


_HINTS = re.compile(r"(?i)pass|pwd|identified|secret|://|\bsp_(?:add|set|change|approle)")
