"""The tokenisation key and the card tokens.

A card is identified everywhere after ingest by `tok_` + the first 16 hex digits of
HMAC-SHA256(key, PAN). Without the key the token cannot be turned back into the number, nor checked
against a guessed one; with the same key the same card always gets the same token, so runs,
manifests and the ledger can be matched up across nights.

Where the key comes from, in order: `--key-file` (the CLI), else the environment variable
`STMTPROD_CARD_KEY`. Either may hold hex (an even number of hex digits, at least 32) or text.
Production refuses to run without a key. For samples and tests, demo mode (`--demo-key` or
`STMTPROD_DEMO=1`) uses `DEMO_KEY`, a published constant: its tokens protect nothing, and every
demo run says `"key": "DEMO"` in its summary and ledger record.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from pathlib import Path

from stmtprod.errors import ConfigError

ENV_KEY = "STMTPROD_CARD_KEY"
ENV_DEMO = "STMTPROD_DEMO"
DEMO_KEY = b"STMTPROD-DEMO-CARD-KEY--NOT-FOR-PRODUCTION--SAMPLES-AND-TESTS-ONLY"
MIN_KEY_BYTES = 16
_HEX = re.compile(r"^(?:[0-9a-fA-F]{2}){16,}$")


@dataclass(frozen=True)
class CardKey:
    secret: bytes
    demo: bool

    def __repr__(self) -> str:  # never show the secret in logs or tracebacks
        return f"CardKey(mode={self.mode}, id={self.key_id})"

    @property
    def mode(self) -> str:
        return "DEMO" if self.demo else "KEYED"

    @property
    def key_id(self) -> str:
        """A short fingerprint naming the key (which key made these tokens), revealing nothing of it."""
        return hashlib.sha256(b"stmtprod card key id\0" + self.secret).hexdigest()[:12]

    def token(self, pan: str) -> str:
        return "tok_" + hmac.new(self.secret, pan.encode("ascii"), hashlib.sha256).hexdigest()[:16]


def parse_key(material: bytes | str, source: str) -> bytes:
    text = material.decode("utf-8", errors="strict") if isinstance(material, bytes) else material
    text = text.strip()
    if not text:
        raise ConfigError("the card key is empty", file=source if source != ENV_KEY else None,
                          key=ENV_KEY if source == ENV_KEY else None)
    secret = bytes.fromhex(text) if _HEX.fullmatch(text) else text.encode("utf-8")
    if len(secret) < MIN_KEY_BYTES:
        raise ConfigError(f"the card key is too short ({len(secret)} bytes; at least {MIN_KEY_BYTES})",
                          file=source if source != ENV_KEY else None, key=ENV_KEY if source == ENV_KEY else None)
    return secret


def read_key_file(path: Path) -> bytes:
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError("card key file is missing", file=str(path)) from None
    except OSError as exc:
        raise ConfigError(f"card key file is not readable: {exc.strerror}", file=str(path)) from None
    try:
        return parse_key(raw, str(path))
    except UnicodeDecodeError:
        if len(raw) < MIN_KEY_BYTES:
            raise ConfigError("the card key is too short", file=str(path)) from None
        return raw


def resolve_key(key_file: Path | None = None, demo: bool = False, environ: dict | None = None) -> tuple[bytes | None, bool]:
    """(key, demo) from a key file, the environment, or demo mode; for the CLI and callers alike."""
    env = os.environ if environ is None else environ
    demo = demo or env.get(ENV_DEMO, "").strip().lower() in ("1", "true", "yes")
    if key_file is not None:
        return read_key_file(key_file), demo
    if env.get(ENV_KEY):
        return parse_key(env[ENV_KEY], ENV_KEY), demo
    return None, demo


def card_key(key: bytes | None, demo: bool) -> CardKey:
    """The key the run uses; refuses production without a key, and a key mixed with demo mode."""
    if key is not None and demo:
        raise ConfigError("both a card key and demo mode were given; a run uses one or the other "
                          f"(unset {ENV_DEMO} / drop --demo-key for production)", key="card key")
    if demo:
        return CardKey(DEMO_KEY, demo=True)
    if key is None:
        raise ConfigError(f"no card tokenisation key: set {ENV_KEY} or give --key-file "
                          "(--demo-key only for samples and tests)", key="card key")
    if len(key) < MIN_KEY_BYTES:
        raise ConfigError(f"the card key is too short ({len(key)} bytes; at least {MIN_KEY_BYTES})", key="card key")
    return CardKey(bytes(key), demo=False)
