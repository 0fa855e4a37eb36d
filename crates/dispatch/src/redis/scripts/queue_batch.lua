-- queue_batch.lua: several operations on one station, in order, each as queue_ops.lua defines
-- it (the batch is atomic as a whole; each operation sees the ones before it).
-- (Prefixed at load time with codec::queue_lua_prelude and queue_ops.lua.)
--
-- KEYS[1..3]  the station's ready, entries, leases (one slot)
-- ARGV[1]     the station's arrivals channel
-- ARGV[2..]   operations, each a letter and its arguments:
--   'p' ticket score value         put (enqueue)         -> 'ok'
--   't' ticket                     take (remove)         -> 'removed' | 'none'
--   'c' ticket holder until now    claim (ticket or '')  -> {'ok', t} | {'none'} | {'notqueued'} | {'leased', holder, until}
--   'r' now limit                  release expired       -> {ticket, ...}
-- Returns one reply per operation, in order.
local k = { KEYS[1], KEYS[2], KEYS[3] }
local channel = ARGV[1]
local out = {}
local i = 2
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'p' then
    out[#out + 1] = put(k, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], channel)
    i = i + 4
  elseif op == 't' then
    out[#out + 1] = take(k, ARGV[i + 1])
    i = i + 2
  elseif op == 'c' then
    out[#out + 1] = claim(k, ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4]))
    i = i + 5
  elseif op == 'r' then
    out[#out + 1] = release(k, tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2]), channel)
    i = i + 3
  else
    return redis.error_reply('queue_batch: unknown operation ' .. tostring(op))
  end
end
return out
