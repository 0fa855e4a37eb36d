-- dup_fill.lua: file tickets in a generation being built (not yet current).
--
-- KEYS[1]  P:dup:{P}:V:gens  (HASH generation -> state: `b:<heartbeat ms>` while built,
--          `r` once retired)
-- ARGV[1]  the generation
-- ARGV[2]  ROOT, P:dup:{P}:V:g:
-- ARGV[3]  now (ms): the rebuild's heartbeat
-- ARGV[4..] pairs of ticket (16 raw bytes), record
-- Errors when the generation is no longer being built (a sweep took it for abandoned): its
-- filings would be deleted under the rebuild.
local state = redis.call('HGET', KEYS[1], ARGV[1])
if not state or string.sub(state, 1, 2) ~= 'b:' then
  return redis.error_reply('ERR this duplicate-index rebuild was given up for abandoned')
end
redis.call('HSET', KEYS[1], ARGV[1], 'b:' .. ARGV[3])
local base = ARGV[2] .. ARGV[1]
for i = 4, #ARGV, 2 do
  file(base, ARGV[i], ARGV[i + 1])
end
return 0
