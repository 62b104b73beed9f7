#!/usr/bin/env node
// mint_token.js: the Node twin of mint_token.py (crypto module only).
// Usage: node mint_token.js SECRET_FILE [ORIGIN [BUTTON]]   or require('./mint_token').mint(...)
'use strict';
const crypto = require('crypto');
const fs = require('fs');

const SECRET_MIN = 32;
const b64url = (buf) => Buffer.from(buf).toString('base64url');

function readSecret(path) {
  const st = fs.statSync(path);
  if (st.mode & 0o004) throw new Error(`${path}: readable by others; chmod o-r it first`);
  let s = fs.readFileSync(path);
  if (s.length && s[s.length - 1] === 0x0a) s = s.subarray(0, s.length - 1);
  if (s.length < SECRET_MIN) throw new Error(`${path}: the secret must be at least ${SECRET_MIN} bytes`);
  return s;
}

// HS256 over {exp, iat, jti[, origin][, button]}; ttl in seconds, keep it short.
function mint(secret, { origin, button, ttl = 120, now } = {}) {
  if (secret.length < SECRET_MIN) throw new Error(`secret must be at least ${SECRET_MIN} bytes`);
  const iat = now === undefined ? Math.floor(Date.now() / 1000) : Math.floor(now);
  const claims = { exp: iat + ttl, iat, jti: crypto.randomBytes(16).toString('base64url') };
  if (origin !== undefined) claims.origin = origin;
  if (button !== undefined) claims.button = button;
  const input = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' })) + '.' + b64url(JSON.stringify(claims));
  const sig = crypto.createHmac('sha256', secret).update(input).digest();
  return input + '.' + b64url(sig);
}

module.exports = { mint, readSecret };

if (require.main === module) {
  const [file, origin, button] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node mint_token.js SECRET_FILE [ORIGIN [BUTTON]]');
    process.exit(2);
  }
  console.log(mint(readSecret(file), { origin, button }));
}
