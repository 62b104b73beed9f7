/* hook/store_redis_lua.c: the Redis function library callhook_v3: one function per decision, Redis TIME as clock. */
#include "hook/store_redis_int.h"

/* Loaded with FUNCTION LOAD when FCALL says it is missing (callhook_v1 may stay loaded beside it: other names).
 * Only commands Valkey >= 7.2 also has. Each decision (connect, call) is one function that makes every check
 * before its first write, so a refused request takes nothing: no budget token, no slot, no jti binding; and a
 * request whose answer was lost (a timeout) either took everything or nothing. Budgets: one token is 60000
 * units and a bucket of capacity C refills C units per ms, so every number is an exact integer (at most 6e10,
 * well inside a double's 2^53). Expiries are relative (PEXPIRE; index and slot scores are Redis TIME + ttl),
 * so the instances' clocks do not matter. Denials are {'deny', kind, reason}. */
const char hsr_library[] =
    "#!lua name=callhook_v3\n"
    "local function now_ms()\n"
    "  local t = redis.call('TIME')\n"
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "end\n"
    /* the units a take would leave in the bucket, or nil (no token); writes nothing */
    "local function peek(key, cap, now)\n"
    "  if cap <= 0 then return false end\n"
    "  local full = cap * 60000\n"
    "  local v = redis.call('HMGET', key, 'u', 't')\n"
    "  local u, t = tonumber(v[1]), tonumber(v[2])\n"
    "  if not u then u = full\n"
    "  elseif now > t then u = math.min(full, u + (now - t) * cap) end\n" /* a clock step back refills nothing */
    "  if u < 60000 then return nil end\n"
    "  return u - 60000\n"
    "end\n"
    "local function take(key, units, now)\n"
    "  if not units then return end\n"
    "  redis.call('HSET', key, 'u', units, 't', now)\n"
    "  redis.call('PEXPIRE', key, 61000)\n" /* a bucket refills completely in 60 s */
    "end\n"
    /* gives one token back to a bucket (a cancelled call's); a bucket that lapsed is full already */
    "local function refund(key, cap)\n"
    "  if not key or key == '' or not cap or cap <= 0 then return end\n"
    "  local u = tonumber(redis.call('HMGET', key, 'u')[1])\n"
    "  if u then redis.call('HSET', key, 'u', math.min(cap * 60000, u + 60000)) end\n"
    "end\n"
    "local function deny(kind, why) return {'deny', kind, why} end\n"
    /* KEYS session, index, jti, bucket; ARGV sid, site, button, locked, ttl, max_sessions, limit, has_jti,
     * jti_ttl, origin ('' = none) */
    "local function connect(k, a)\n"
    "  local now = now_ms()\n"
    "  local old = redis.call('HMGET', k[1], 'site', 'calls')\n"
    "  local retry = old[1] ~= false\n"
    "  if retry and old[1] ~= a[2] then return deny('conflict', 'sessionId belongs to another site') end\n"
    "  if not retry then\n" /* lapsed sessions leave the index before it is counted */
    "    redis.call('ZREMRANGEBYSCORE', k[2], '-inf', now)\n"
    "    if redis.call('ZCARD', k[2]) >= tonumber(a[6]) then return deny('full', 'session table full') end\n"
    "  end\n"
    "  if a[8] == '1' then\n"
    "    local cur = redis.call('GET', k[3])\n"
    "    if cur and cur ~= a[1] then return deny('token', 'token already used by another session') end\n"
    "  end\n"
    "  local units = false\n"
    "  if not retry then\n"
    "    units = peek(k[4], tonumber(a[7]), now)\n"
    "    if units == nil then return deny('budget', 'connects_per_minute_per_ip exceeded') end\n"
    "  end\n"
    /* every check passed: the writes */
    "  take(k[4], units, now)\n"
    "  if a[8] == '1' then redis.call('SET', k[3], a[1], 'PX', a[9], 'NX') end\n"
    "  redis.call('HSET', k[1], 'site', a[2], 'button', a[3], 'locked', a[4])\n"
    "  if not retry then redis.call('HSET', k[1], 'calls', 0, 'created', now) end\n"
    "  if a[10] ~= '' then redis.call('HSET', k[1], 'origin', a[10]) end\n"
    "  redis.call('PEXPIRE', k[1], a[5])\n"
    "  redis.call('ZADD', k[2], now + tonumber(a[5]), a[1])\n"
    "  return {'ok', retry and '1' or '0', tostring(old[2] or 0)}\n"
    "end\n"
    /* the state ('o' open, 'c' closed) of button b in the list "o:name c:name ...", or nil */
    "local function button_state(list, b)\n"
    "  for st, name in string.gmatch(list, '(%a):([^ ]+)') do if name == b then return st end end\n"
    "  return nil\n"
    "end\n"
    /* KEYS session, call, slots, bucket_ip, bucket_site, index; ARGV lookup ('1': the session key is one),
     * site, fallback ('1': an unknown session may call this site), owner, req_button ('-' none, '+name'),
     * buttons, default ('o', 'c', 'n': no callee), calls_per_session, concurrent_calls, per_ip, per_site,
     * call_max_ms, session_ttl_ms, sid, attempt ('' none). KEYS[7] is the attempt's tombstone: an attempt whose
     * caller timed out and sent ch3_call_cancel before Redis ran it does nothing. An attempt answered 'ok' owns
     * the call record (field o:<attempt>, counted in 'own'), so a cancel gives back the slot and the budget
     * tokens only when no other answer that may have reached WCS (a retry) owns it too. */
    "local function call(k, a)\n"
    "  local now = now_ms()\n"
    "  local att = a[15] or ''\n"
    "  if att ~= '' and redis.call('GET', k[7]) then return deny('full', 'call attempt cancelled') end\n"
    "  local s = {false, false, false, false, false}\n"
    "  if a[1] == '1' then s = redis.call('HMGET', k[1], 'site', 'button', 'locked', 'calls', 'origin') end\n"
    "  local known = s[1] ~= false\n"
    "  if known and s[1] ~= a[2] then\n"
    "    return {'where', s[1], s[2] or '', s[3] or '0', tostring(s[4] or 0)} end\n"
    "  if not known and a[3] ~= '1' then return deny('session', 'unknown session') end\n"
    "  local b = nil\n"
    "  if known and s[3] == '1' then b = s[2]\n" /* a signed button cannot be changed by the page */
    "  elseif a[5] ~= '-' then b = string.sub(a[5], 2)\n"
    "  elseif known and s[2] ~= '' then b = s[2] end\n"
    "  local p = redis.call('HMGET', k[2], 'sid', 'site', 'button', 'status', 'reason', 'active', 'own', 'pin')\n"
    "  if p[2] and (p[2] ~= a[2] or p[1] ~= a[4]) then\n"
    "    return deny('callid', 'callId belongs to another session') end\n"
    "  local retry = p[6] == '1'\n"
    "  if retry and p[4] ~= '200' then return {'deny', 'replay', p[5] or '', p[4]} end\n"
    "  if retry then if p[3] and p[3] ~= '' then b = p[3] else b = nil end end\n"
    "  local st = a[7]\n"
    "  if b then st = button_state(a[6], b) end\n"
    "  if b and not st then return deny('button', 'unknown button') end\n"
    "  if st == 'n' then return deny('button', 'no callee configured for this site') end\n"
    "  local origin = s[5] or ''\n"
    /* a retry owns the call too; past 8 owners the call is pinned (never cancelled), so that a flood of
     * retries cannot grow the record */
    "  if retry then\n"
    "    if att ~= '' and p[8] ~= '1' then\n"
    "      if (tonumber(p[7]) or 0) < 8 then\n"
    "        redis.call('HSET', k[2], 'o:' .. att, '1')\n"
    "        redis.call('HINCRBY', k[2], 'own', 1)\n"
    "      else redis.call('HSET', k[2], 'pin', '1') end\n"
    "    end\n"
    "    return {'ok', b or '', known and '1' or '0', '1', origin}\n"
    "  end\n"
    "  if st == 'c' then return deny('closed', 'closed: outside opening hours') end\n"
    "  local cps, conc = tonumber(a[8]), tonumber(a[9])\n"
    "  if known and cps > 0 and (tonumber(s[4]) or 0) >= cps then\n"
    "    return deny('budget', 'calls_per_session exceeded') end\n"
    "  redis.call('ZREMRANGEBYSCORE', k[3], '-inf', now)\n"
    "  if conc > 0 and redis.call('ZCARD', k[3]) >= conc then\n"
    "    return deny('budget', 'concurrent_calls exceeded') end\n"
    "  local uip = peek(k[4], tonumber(a[10]), now)\n"
    "  if uip == nil then return deny('budget', 'calls_per_minute_per_ip exceeded') end\n"
    "  local usite = peek(k[5], tonumber(a[11]), now)\n"
    "  if usite == nil then return deny('budget', 'calls_per_minute exceeded') end\n"
    /* every check passed: the writes */
    "  take(k[4], uip, now)\n"
    "  take(k[5], usite, now)\n"
    "  local maxms = tonumber(a[12])\n"
    "  redis.call('DEL', k[2])\n" /* an ended call of that callId: its owners are not this call's */
    "  redis.call('HSET', k[2], 'sid', a[4], 'site', a[2], 'button', b or '', 'status', '200', 'reason', '',\n"
    "             'active', '1', 'bip', k[4], 'cip', a[10], 'bst', k[5], 'cst', a[11], 'sk', known and k[1] or '')\n"
    "  if att ~= '' then redis.call('HSET', k[2], 'o:' .. att, '1', 'own', 1) end\n"
    "  redis.call('PEXPIRE', k[2], maxms)\n"
    "  redis.call('ZADD', k[3], now + maxms, k[2])\n"
    "  if known then\n"
    "    redis.call('HINCRBY', k[1], 'calls', 1)\n"
    "    redis.call('PEXPIRE', k[1], a[13])\n"
    "    redis.call('ZADD', k[6], now + tonumber(a[13]), a[14])\n"
    "  end\n"
    "  return {'ok', b or '', known and '1' or '0', '0', origin}\n"
    "end\n"
    /* KEYS call; ARGV prefix, any ('1': whichever session), sid. 1 = a slot was freed. Idempotent. */
    "local function call_end(k, a)\n"
    "  local old = redis.call('HMGET', k[1], 'active', 'site', 'sid')\n"
    "  if old[1] ~= '1' then return 0 end\n"
    "  if a[2] ~= '1' and old[3] ~= a[3] then return 0 end\n"
    "  redis.call('ZREM', a[1] .. 'slots:' .. old[2], k[1])\n"
    "  redis.call('HSET', k[1], 'active', '0')\n"
    "  return 1\n"
    "end\n"
    /* KEYS call, the attempt's tombstone; ARGV prefix, attempt, tombstone ttl_ms. A call whose answer did not
     * reach its instance (a timeout: WCS was refused) gives back what that attempt took, once no other answer
     * owns the record; an attempt not yet run never will (the tombstone). 1 = given back. Idempotent. */
    "local function call_cancel(k, a)\n"
    "  if not redis.call('SET', k[2], '1', 'PX', a[3], 'NX') then return 0 end\n"
    "  local c = redis.call('HMGET', k[1], 'o:' .. a[2], 'active', 'site', 'bip', 'cip', 'bst', 'cst', 'sk', 'pin')\n"
    "  if c[1] ~= '1' then return 0 end\n"
    "  redis.call('HSET', k[1], 'o:' .. a[2], '0')\n"
    "  if redis.call('HINCRBY', k[1], 'own', -1) > 0 or c[2] ~= '1' or c[9] == '1' then return 0 end\n"
    "  redis.call('ZREM', a[1] .. 'slots:' .. c[3], k[1])\n"
    "  refund(c[4], tonumber(c[5]))\n"
    "  refund(c[6], tonumber(c[7]))\n"
    "  if c[8] and c[8] ~= '' then\n"
    "    local n = tonumber(redis.call('HMGET', c[8], 'calls')[1])\n"
    "    if n and n > 0 then redis.call('HINCRBY', c[8], 'calls', -1) end\n"
    "  end\n"
    "  redis.call('DEL', k[1])\n"
    "  return 1\n"
    "end\n"
    /* KEYS session, index; ARGV sid. Idempotent. */
    "local function sess_close(k, a)\n"
    "  redis.call('DEL', k[1])\n"
    "  redis.call('ZREM', k[2], a[1])\n"
    "  return 0\n"
    "end\n"
    /* read-only (no-writes): answered even when Redis is at maxmemory */
    "local function count(k, a)\n"
    "  return redis.call('ZCOUNT', k[1], '(' .. now_ms(), '+inf')\n"
    "end\n"
    "redis.register_function('ch3_connect', connect)\n"
    "redis.register_function('ch3_call', call)\n"
    "redis.register_function('ch3_call_end', call_end)\n"
    "redis.register_function('ch3_call_cancel', call_cancel)\n"
    "redis.register_function('ch3_sess_close', sess_close)\n"
    "redis.register_function{function_name='ch3_count', callback=count, flags={'no-writes'}}\n"
    "redis.register_function{function_name='ch3_version', callback=function() return 3 end, flags={'no-writes'}}\n";
