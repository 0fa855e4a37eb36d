-- dup_remove.lua: take a ticket out of the duplicate index.
--
-- KEYS[1]  P:dup:{P}:<scheme>:buckets
-- KEYS[2]  P:dup:{P}:<scheme>:tickets
-- ARGV[1]  ticket (16 raw bytes)
-- Returns 1 when it was filed, else 0.
local old = redis.call('HGET', KEYS[2], ARGV[1])
if not old then
  return 0
end
unfile(KEYS[1], ARGV[1], old)
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
