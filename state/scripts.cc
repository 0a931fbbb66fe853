#include "state/scripts.h"

namespace rebound::state {

const char kApplyAsSenderScript[] = R"lua(
local snd, req, pair = KEYS[1], KEYS[2], KEYS[3]
local t, at, rttl = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local function int(v) return tonumber(v) or 0 end
if t == 'profile' then
  local prev = redis.call('HGET', snd, 'profile_at')
  if prev and tonumber(prev) > at then return 0 end
  redis.call('HSET', snd, 'profile', ARGV[4], 'profile_at', at)
  return 1
end
-- The pair: one string "requests:prev_sent_at:last_sent_at:last_view_at"
-- (times in s, "" unknown), written with its TTL in one SET.
local function read_pair()
  local v = redis.call('GET', pair)
  if v then
    local n, prev, last, view =
      string.match(v, '^(%d+):(%-?%d*):(%-?%d*):(%-?%d*)$')
    if n then return tonumber(n), prev, last, view end
  end
  return 0, '', '', ''
end
local function write_pair(n, prev, last, view)
  redis.call('SET', pair, n .. ':' .. prev .. ':' .. last .. ':' .. view,
             'EX', rttl)
end
if t == 'viewed' and ARGV[4] == '0' then
  -- A view naming no request: kept on the pair (latest view wins).
  local n, prev, last, view = read_pair()
  if view ~= '' and tonumber(view) >= at then return 0 end
  write_pair(n, prev, last, at)
  return 1
end
if t == 'viewed' then
  -- One key written; its first write fails whole on a wrong type.
  redis.call('HSET', req, 'viewed', 1, 'viewed_at', at)
  redis.call('EXPIRE', req, rttl)
  return 1
end
local r = redis.call('HMGET', req, 'state', 'sent_at')
local state = r[1]
if t == 'sent' then
  -- A request counts once, whatever event ids carry it.
  if r[2] then return 0 end
  local day = math.floor(at / 86400)
  local slot = 'd' .. (day % 16)
  local c = redis.call('HMGET', snd, 'sent', 'pending', slot)
  local n, prev, last, view = read_pair()
  -- Send-day ring (state/send_days.h): a slot holds day * 2^24 + count; a
  -- newer day resets it, an older one (16+ days behind) is not counted.
  local packed = tonumber(c[3])
  if not packed then
    packed = day * 16777216 + 1
  else
    local slot_day = math.floor(packed / 16777216)
    if slot_day == day then
      packed = packed + 1
    elseif slot_day < day then
      packed = day * 16777216 + 1
    end
  end
  if state then
    -- Its outcome arrived first: counted as sent, never as pending.
    redis.call('HSET', snd, 'sent', int(c[1]) + 1, slot, packed)
  else
    redis.call('HSET', snd, 'sent', int(c[1]) + 1, 'pending', int(c[2]) + 1,
               slot, packed)
  end
  -- With the request: the pair's requests counted before it and the send
  -- time of the last of them ("pn", "pp").
  redis.call('HSET', req, 'sent_at', at, 'request', ARGV[4],
             'state', state or 'pending', 'pn', n, 'pp', last)
  redis.call('EXPIRE', req, rttl)
  if last ~= '' then prev = last end
  write_pair(n + 1, prev, at, view)
  return 1
end
-- An outcome: the first one decides the request; later ones change nothing.
if state == 'accepted' or state == 'declined' or state == 'withdrawn' or
   state == 'expired' then
  return 0
end
local names = {t, 'pending'}
local reason, verdict
if t == 'declined' then
  if ARGV[4] == '1' then names[#names + 1] = 'reported' end
  reason, verdict = ARGV[5], ARGV[6]
elseif t == 'expired' then
  reason, verdict = ARGV[4], ARGV[5]
end
if reason then names[#names + 1] = 'reason:' .. reason end
local c = redis.call('HMGET', snd, unpack(names))
local out = {t, int(c[1]) + 1}
if state == 'pending' then
  out[#out + 1] = 'pending'
  out[#out + 1] = int(c[2]) - 1
end
for i = 3, #names do
  out[#out + 1] = names[i]
  out[#out + 1] = int(c[i]) + 1
end
redis.call('HSET', snd, unpack(out))
if verdict then
  redis.call('HSET', req, 'state', t, 'decided_at', at, 'verdict', verdict)
else
  redis.call('HSET', req, 'state', t, 'decided_at', at)
end
redis.call('EXPIRE', req, rttl)
return 1
)lua";

const char kApplyAsRecipientScript[] = R"lua(
local rcv, hours, marker = KEYS[1], KEYS[2], KEYS[3]
local t, at = ARGV[1], tonumber(ARGV[3])
local field = t
if t == 'sent' then field = 'received' end
local c = redis.call('HMGET', rcv, field, 'utc_offset')
if t == 'accepted' then redis.call('STRLEN', hours) end
if not redis.call('SET', marker, '1', 'NX', 'EX', ARGV[2]) then return 0 end
local off = c[2]
if ARGV[4] ~= '' and ARGV[4] ~= off then
  off = ARGV[4]
  redis.call('HSET', rcv, field, (tonumber(c[1]) or 0) + 1, 'utc_offset', off)
else
  redis.call('HSET', rcv, field, (tonumber(c[1]) or 0) + 1)
end
if t == 'accepted' and off then
  -- Hour of week in the recipient's local time (Monday 00:00 = 0); with no
  -- known offset the acceptance has no hour.
  local lt = at + tonumber(off) * 60
  local days = math.floor(lt / 86400)
  local how = ((days + 3) % 7) * 24 + math.floor((lt % 86400) / 3600)
  redis.call('BITFIELD', hours, 'OVERFLOW', 'SAT', 'INCRBY', 'u32',
             '#' .. how, 1)
end
return 1
)lua";

const char kPutSuggestionScript[] = R"lua(
local sugg, suggs, waiting, retries, flags, stream =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local tenant, marker = KEYS[7], KEYS[8]
local version = tonumber(ARGV[2])
local ttl, keep = ARGV[9], tonumber(ARGV[10])
local stored = tonumber(redis.call('HGET', sugg, 'version') or '0')
if version <= stored then return '' end
local indexed = redis.call('ZCARD', suggs)
redis.call('SCARD', waiting)
redis.call('STRLEN', retries)
redis.call('HLEN', flags)
redis.call('XLEN', stream)
if tenant then redis.call('XLEN', tenant) end
redis.call('HSET', sugg, 'data', ARGV[1], 'version', version,
           'state', ARGV[4])
redis.call('EXPIRE', sugg, ttl)
indexed = indexed + redis.call('ZADD', suggs, 'NX', ARGV[3], ARGV[5])
if indexed > keep then
  -- The index keeps the newest `keep`; dropped suggestions expire.
  redis.call('ZREMRANGEBYRANK', suggs, 0, indexed - keep - 1)
end
redis.call('EXPIRE', suggs, ttl)
if ARGV[7] == '1' then
  redis.call('SADD', waiting, ARGV[5])
  redis.call('EXPIRE', waiting, ttl)
else
  redis.call('SREM', waiting, ARGV[5])
end
if version == 1 then
  if ARGV[6] == '1' then
    redis.call('INCR', retries)
    redis.call('EXPIRE', retries, ttl)
  end
  for i = 13, #ARGV do redis.call('HINCRBY', flags, ARGV[i], 1) end
  if #ARGV >= 13 then redis.call('EXPIRE', flags, ttl) end
end
if tenant and redis.call('SET', marker, '1', 'NX', 'EX', ARGV[11]) then
  redis.call('XADD', tenant, 'MAXLEN', '~', ARGV[12], '*', 's', ARGV[1])
end
return redis.call('XADD', stream, 'MAXLEN', '~', ARGV[8], '*', 's', ARGV[1])
)lua";

const char kAppendTenantStreamScript[] = R"lua(
redis.call('XLEN', KEYS[1])
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then return '' end
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 's', ARGV[1])
)lua";

}  // namespace rebound::state
