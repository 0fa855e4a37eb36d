-- queue_batch.lua: several operations on one station, in order, each as queue_ops.lua defines
-- it (the batch is atomic as a whole; each operation sees the ones before it).
-- (Prefixed at load time with codec::queue_lua_prelude and queue_ops.lua.)
--
-- KEYS[1..4]  the station's ready, entries, claimed, gone (one slot)
-- ARGV[1]     the station's arrivals channel
-- ARGV[2..]   operations, each a letter and its arguments (times in µs):
--   'p' ticket score value        put (enqueue)          -> 'ok' | 'stale'
--   't' ticket version now        take (remove)          -> 'removed' | 'none' | 'stale'
--   'c' ticket holder until now   claim a named ticket   -> {'ok', t} | {'notqueued'} | {'leased', holder, until}
--   'h' holder until now          claim the head         -> {'ok', t} | {'none'}
--   'r' now limit                 release expired leases -> {ticket, ...}
-- Returns one reply per operation, in order.
local k = { KEYS[1], KEYS[2], KEYS[3], KEYS[4] }
local channel = ARGV[1]
local out = {}
local released = false
local i = 2
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'p' then
    out[#out + 1] = put(k, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], channel)
    i = i + 4
  elseif op == 't' then
    out[#out + 1] = take(k, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
    i = i + 4
  elseif op == 'c' then
    out[#out + 1] = claim_named(k, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4])
    i = i + 5
  elseif op == 'h' then
    if not released then
      -- Leases that ran out take their place in line again first: once per batch (the
      -- claims of one batch come together), and a few (the sweep releases the rest).
      release(k, ARGV[i + 3], 64, channel)
      released = true
    end
    out[#out + 1] = claim_head(k, ARGV[i + 1], ARGV[i + 2])
    i = i + 4
  elseif op == 'r' then
    out[#out + 1] = release(k, ARGV[i + 1], ARGV[i + 2], channel)
    i = i + 3
  else
    return redis.error_reply('queue_batch: unknown operation ' .. tostring(op))
  end
end
return out
