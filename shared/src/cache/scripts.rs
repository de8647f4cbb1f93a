//! The Lua scripts that make the cache's read-modify-writes atomic in Redis.

/// Sets or evicts a tool's cached value unless a newer revision is cached or was written.
///
/// KEYS: tool key, write-marker key, fill-lease key. ARGV: revision, value (empty = evict), value
/// TTL, marker TTL (`0` for a reader's fill, which leaves no marker), the latest time (epoch ms,
/// Redis's clock) a reader's fill may land (`0`: no limit). An eviction keeps a cached value that
/// is at least as new as its revision (a replayed invalidation must not throw away what a later
/// write published). A reader's fill releases the key's lease, stored or not, so the next miss
/// need not wait for it to expire; a fill that arrives late (held in a paused Redis, say) is
/// refused, since the marker of a write made after its read may have expired by then.
pub(super) const GUARDED_SET_LUA: &str = r"
if ARGV[4] == '0' then redis.call('DEL', KEYS[3]) end
if ARGV[5] ~= '0' then
  local t = redis.call('TIME')
  if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(ARGV[5]) then return 0 end
end
local rev = tonumber(ARGV[1])
local marker = tonumber(redis.call('GET', KEYS[2]) or '-1')
if marker > rev then return 0 end
local keep = false
local cur = redis.call('GET', KEYS[1])
if cur then
  local nl = string.find(cur, '\n', 1, true)
  local cur_rev = nl and tonumber(string.sub(cur, 1, nl - 1)) or -1
  if cur_rev >= rev then
    if ARGV[2] ~= '' then return 0 end
    keep = true
  end
end
if ARGV[4] ~= '0' then redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[4]) end
if ARGV[2] == '' then
  if not keep then redis.call('DEL', KEYS[1]) end
else
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
end
return 1
";

/// Reads list generations before a fill, creating each one that is absent (a new or restarted
/// Redis, or one unused for its lifetime) from Redis's clock in milliseconds, so a generation
/// never comes back to a value used before, under which a page computed from older data might
/// still be stored; and renews their lifetime.
///
/// KEYS: generations. ARGV: their lifetime in milliseconds. Returns their values, in order.
pub(super) const READ_GENERATIONS_LUA: &str = r"
local values = {}
for i, key in ipairs(KEYS) do
  local g = redis.call('GET', key)
  if not g then
    local t = redis.call('TIME')
    g = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
    redis.call('SET', key, g)
  end
  redis.call('PEXPIRE', key, ARGV[1])
  values[i] = g
end
return values
";

/// Retires the pages of some scopes, and records which writes did so. A generation that is
/// absent is left so: no page can be stored under it, since a reader creates the generation it
/// reads before it reads the database, so before the write committed.
///
/// KEYS: the evidence set, then the generations. ARGV: the generations' lifetime and the
/// evidence's (milliseconds), then the writes' ids.
pub(super) const BUMP_GENERATIONS_LUA: &str = r"
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('INCR', KEYS[i])
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
  end
end
if #ARGV > 2 then
  redis.call('SADD', KEYS[1], unpack(ARGV, 3))
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
";

/// Moves the watermark from where the caller read it to a later outbox position, if every write
/// between them left its evidence (then forgets that evidence). Atomic with the bumps the
/// evidence proves, in the same slot: a Redis that took the new watermark holds every bump up to
/// it, and one restored to an older state (a snapshot, a lagging replica) holds an older
/// watermark.
///
/// KEYS: the watermark, the evidence set. ARGV: the watermark as read (empty: absent), the new
/// one, then the ids of the writes between. Returns 1 when moved, else 0.
pub(super) const ADVANCE_WATERMARK_LUA: &str = r"
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
for i = 3, #ARGV do
  if redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 0 then return 0 end
end
if #ARGV > 2 then redis.call('SREM', KEYS[2], unpack(ARGV, 3)) end
redis.call('SET', KEYS[1], ARGV[2])
return 1
";

/// Counts an attempt in a sliding window (a sorted set of attempts scored by Redis's clock),
/// unless the window is full. Atomic, so concurrent attempts never exceed the limit.
///
/// KEYS: the window. ARGV: window length (ms), limit, attempt id. Returns 0 when the attempt was
/// counted, else the milliseconds until the oldest attempt leaves the window.
pub(super) const SLIDING_WINDOW_LUA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 0
";

/// Takes or renews a lease for its holder: sets it for the given time unless another holder has
/// it. Renewing for 1 ms gives it up.
///
/// KEYS: the lease. ARGV: holder, milliseconds. Returns 1 when the holder has it, else 0.
pub(super) const HOLD_LEASE_LUA: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
";
