#include "state/scripts.h"

namespace rebound::state {

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
local tenant = KEYS[7]
local version = tonumber(ARGV[2])
local ttl, keep = ARGV[9], tonumber(ARGV[10])
-- The member's index, waiting set and flags get their TTL when this call
-- creates them, and all three again when the caller asks (ARGV[12] = '1',
-- at most hourly per member), not on every write; a pair's retries count,
-- written rarely, on every increment.
local refresh = ARGV[12] == '1'
local stored = tonumber(redis.call('HGET', sugg, 'version') or '0')
if version <= stored then return '' end
local indexed = redis.call('ZCARD', suggs)
-- The waiting set: a first version is in it only when it waits itself.
local waits = ARGV[7] == '1'
local waiting_n = 0
if waits or version > 1 then waiting_n = redis.call('SCARD', waiting) end
redis.call('XLEN', stream)
if tenant then redis.call('XLEN', tenant) end
-- The keys only a first version writes: checked only when it will.
if version == 1 and ARGV[6] == '1' then redis.call('STRLEN', retries) end
local flagged = 0
if version == 1 and #ARGV >= 13 then flagged = redis.call('HLEN', flags) end
redis.call('HSET', sugg, 'data', ARGV[1], 'version', version,
           'state', ARGV[4])
redis.call('EXPIRE', sugg, ttl)
local was_indexed = indexed
indexed = indexed + redis.call('ZADD', suggs, 'NX', ARGV[3], ARGV[5])
if indexed > keep then
  -- The index keeps the newest `keep`; dropped suggestions expire.
  redis.call('ZREMRANGEBYRANK', suggs, 0, indexed - keep - 1)
end
if refresh or was_indexed == 0 then redis.call('EXPIRE', suggs, ttl) end
if waits then
  redis.call('SADD', waiting, ARGV[5])
  if refresh or waiting_n == 0 then redis.call('EXPIRE', waiting, ttl) end
elseif version > 1 then
  redis.call('SREM', waiting, ARGV[5])
  if refresh then redis.call('EXPIRE', waiting, ttl) end
elseif refresh then
  redis.call('EXPIRE', waiting, ttl)
end
if version == 1 then
  if ARGV[6] == '1' then
    redis.call('INCR', retries)
    redis.call('EXPIRE', retries, ttl)
  end
  for i = 13, #ARGV do redis.call('HINCRBY', flags, ARGV[i], 1) end
end
if refresh or (#ARGV >= 13 and flagged == 0) then
  redis.call('EXPIRE', flags, ttl)
end
if tenant then
  redis.call('XADD', tenant, 'MAXLEN', '~', ARGV[11], '*', 's', ARGV[1])
end
return redis.call('XADD', stream, 'MAXLEN', '~', ARGV[8], '*', 's', ARGV[1])
)lua";

const char kAppendTenantStreamScript[] = R"lua(
redis.call('XLEN', KEYS[1])
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then return '' end
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 's', ARGV[1])
)lua";

const char kNextFenceGenerationScript[] = R"lua(
local g = redis.call('INCR', KEYS[1])
local clock = tonumber(ARGV[1])
if g < clock then
  redis.call('SET', KEYS[1], clock)
  g = clock
end
return g
)lua";

const char kRaiseFenceScript[] = R"lua(
local g = tonumber(ARGV[1])
for i = 2, #ARGV do
  local now = tonumber(redis.call('HGET', KEYS[1], ARGV[i]))
  if not now or now < g then redis.call('HSET', KEYS[1], ARGV[i], g) end
end
return g
)lua";

}  // namespace rebound::state
