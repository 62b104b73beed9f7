#!/usr/bin/env python3
"""mint_token.py: mint the short-lived HS256 token a site's backend hands to its click-to-call page.

Standard library only. Use it as a command:

    mint_token.py --secret-file /etc/mysite/callhook-token.secret \
                  --origin https://www.example.com --button sales

or import mint() from your own backend code. The secret file holds the same
bytes as the site's callhook `token.secret_file` (at least 32 bytes; one
trailing newline is ignored, as callhook does).
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import stat
import sys
import time

SECRET_MIN = 32


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def read_secret(path: str) -> bytes:
    """Read a secret file the way callhook does: refuse one others can read."""
    st = os.stat(path)
    if st.st_mode & stat.S_IROTH:
        raise SystemExit(f"{path}: readable by others; chmod o-r it first")
    with open(path, "rb") as f:
        secret = f.read(4097)
    if secret.endswith(b"\n"):
        secret = secret[:-1]
    if len(secret) < SECRET_MIN:
        raise SystemExit(f"{path}: the secret must be at least {SECRET_MIN} bytes")
    return secret


def mint(secret: bytes, origin=None, button=None, ttl=120, now=None) -> str:
    """Return a compact JWS: HS256 over {exp, iat, jti[, origin][, button]}.

    ttl: seconds the token stays valid; keep it short (callhook also refuses
    tokens older than its max_age_s, 300 by default). jti is random: callhook
    binds it to the first WCS session that presents it.
    """
    if len(secret) < SECRET_MIN:
        raise ValueError(f"secret must be at least {SECRET_MIN} bytes")
    iat = int(time.time()) if now is None else int(now)
    claims = {"exp": iat + int(ttl), "iat": iat, "jti": secrets.token_urlsafe(16)}
    if origin is not None:
        claims["origin"] = origin  # the page's origin, scheme://host[:port]
    if button is not None:
        claims["button"] = button  # a button id configured for the site
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    sig = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64url(sig)


def main() -> int:
    ap = argparse.ArgumentParser(description="Mint a callhook visitor token (HS256 JWT).")
    ap.add_argument("--secret-file", required=True, help="file holding the site's token secret")
    ap.add_argument("--origin", help="origin claim, e.g. https://www.example.com")
    ap.add_argument("--button", help="button claim: locks the session to this button")
    ap.add_argument("--ttl", type=int, default=120, help="seconds until exp (default 120)")
    a = ap.parse_args()
    print(mint(read_secret(a.secret_file), origin=a.origin, button=a.button, ttl=a.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
