/* originator/shared_lua.c: the Redis function library callhook_orig_v2: the originator's limits, one function each. */
#include "originator/shared.h"

/* Beside the hook's callhook_v3 (other function names, so both load into one Redis). Only commands Valkey >= 7.2
 * also has. cho2_admit makes every check before its first write, so a refused call takes nothing. The buckets
 * are the hook's: a token is 60000 units and a bucket of capacity C refills C units per ms (exact integers).
 * Concurrent slots are tokens in a ZSET scored by their deadline (Redis TIME + the call's longest life), so an
 * instance that dies frees its slots at their deadline; the hourly limits are ZSETs over the last hour. */
const char orig_shared_library[] =
    "#!lua name=callhook_orig_v2\n"
    "local function now_ms()\n"
    "  local t = redis.call('TIME')\n"
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "end\n"
    "local function peek(key, cap, now)\n"
    "  if cap <= 0 then return false end\n"
    "  local full = cap * 60000\n"
    "  local v = redis.call('HMGET', key, 'u', 't')\n"
    "  local u, t = tonumber(v[1]), tonumber(v[2])\n"
    "  if not u then u = full\n"
    "  elseif now > t then u = math.min(full, u + (now - t) * cap) end\n"
    "  if u < 60000 then return nil end\n"
    "  return u - 60000\n"
    "end\n"
    "local function take(key, units, now)\n"
    "  if not units then return end\n"
    "  redis.call('HSET', key, 'u', units, 't', now)\n"
    "  redis.call('PEXPIRE', key, 61000)\n"
    "end\n"
    "local function refund(key, cap)\n"
    "  if cap <= 0 then return end\n"
    "  local u = tonumber(redis.call('HGET', key, 'u'))\n"
    "  if u then redis.call('HSET', key, 'u', math.min(cap * 60000, u + 60000)) end\n"
    "end\n"
    /* KEYS slots, rate bucket, initiator bucket, destination hour, initiator's destinations hour, the token's
     * tombstone; ARGV token, life_ms, concurrent_calls, calls_per_minute, per_initiator, per_destination_hour,
     * distinct_hour, destination key. {'ok', new destination '1'/'0'} or {'deny', which}. A token aborted
     * before Redis ran its admit (the admit timed out: Redis was stalled) takes nothing. */
    "local function admit(k, a)\n"
    "  if redis.call('GET', k[6]) then return {'deny', 'aborted'} end\n"
    "  local now = now_ms()\n"
    "  local conc, rate, pini = tonumber(a[3]), tonumber(a[4]), tonumber(a[5])\n"
    "  local pdest, dist = tonumber(a[6]), tonumber(a[7])\n"
    "  redis.call('ZREMRANGEBYSCORE', k[1], '-inf', now)\n"
    "  if conc > 0 and redis.call('ZCARD', k[1]) >= conc then return {'deny', 'concurrent'} end\n"
    "  local ui = peek(k[3], pini, now)\n"
    "  if ui == nil then return {'deny', 'initiator'} end\n"
    "  local ur = peek(k[2], rate, now)\n"
    "  if ur == nil then return {'deny', 'rate'} end\n"
    "  local hour = now - 3600000\n"
    "  if pdest > 0 then\n"
    "    redis.call('ZREMRANGEBYSCORE', k[4], '-inf', hour)\n"
    "    if redis.call('ZCARD', k[4]) >= pdest then return {'deny', 'destination'} end\n"
    "  end\n"
    "  local dnew = false\n"
    "  if dist > 0 then\n"
    "    redis.call('ZREMRANGEBYSCORE', k[5], '-inf', hour)\n"
    "    if not redis.call('ZSCORE', k[5], a[8]) then\n"
    "      if redis.call('ZCARD', k[5]) >= dist then return {'deny', 'distinct'} end\n"
    "      dnew = true\n"
    "    end\n"
    "  end\n"
    /* every check passed: the writes */
    "  take(k[3], ui, now)\n"
    "  take(k[2], ur, now)\n"
    "  redis.call('ZADD', k[1], now + tonumber(a[2]), a[1])\n"
    "  if pdest > 0 then redis.call('ZADD', k[4], now, a[1]); redis.call('PEXPIRE', k[4], 3600000) end\n"
    "  if dist > 0 then redis.call('ZADD', k[5], now, a[8]); redis.call('PEXPIRE', k[5], 3600000) end\n"
    "  return {'ok', dnew and '1' or '0'}\n"
    "end\n"
    /* KEYS slots; ARGV token. 1 = a slot was freed. Idempotent. */
    "local function release(k, a)\n"
    "  return redis.call('ZREM', k[1], a[1])\n"
    "end\n"
    /* KEYS as admit; ARGV token, calls_per_minute, per_initiator, new destination ('1', '0'), destination key,
     * tombstone ttl_ms: a call admitted here that could not start, or whose admit got no answer, gives back
     * what it took; an admit not run yet never will (the tombstone). 1 = it gave back. Idempotent. */
    "local function abort(k, a)\n"
    "  redis.call('SET', k[6], '1', 'PX', a[6])\n"
    "  if redis.call('ZREM', k[1], a[1]) == 0 then return 0 end\n"
    "  refund(k[2], tonumber(a[2]))\n"
    "  refund(k[3], tonumber(a[3]))\n"
    "  redis.call('ZREM', k[4], a[1])\n"
    "  if a[4] == '1' then redis.call('ZREM', k[5], a[5]) end\n"
    "  return 1\n"
    "end\n"
    /* read-only: the slots held now */
    "local function count(k, a)\n"
    "  return redis.call('ZCOUNT', k[1], '(' .. now_ms(), '+inf')\n"
    "end\n"
    "redis.register_function('cho2_admit', admit)\n"
    "redis.register_function('cho2_release', release)\n"
    "redis.register_function('cho2_abort', abort)\n"
    "redis.register_function{function_name='cho2_count', callback=count, flags={'no-writes'}}\n"
    "redis.register_function{function_name='cho2_version', callback=function() return 2 end, "
    "flags={'no-writes'}}\n";
