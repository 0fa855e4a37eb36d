-- dup_put.lua: file a ticket under its key and bands, replacing its old filing (atomically).
--
-- KEYS[1]  P:dup:{P}:<scheme>:buckets  (ZSET, lexical: bucket .. rev .. ticket, score 0)
-- KEYS[2]  P:dup:{P}:<scheme>:tickets  (HASH ticket (16 bytes) -> record)
-- ARGV[1]  ticket (16 raw bytes)
-- ARGV[2]  its record (see dup_prelude.lua)
-- ARGV[3..] its members (bucket .. rev .. ticket)
-- Returns 1 when something changed, 0 when it was filed so already.
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old == ARGV[2] then
  return 0
end
if old then
  unfile(KEYS[1], ARGV[1], old)
end
local args = {}
for i = 3, #ARGV do
  args[#args + 1] = 0
  args[#args + 1] = ARGV[i]
end
if #args > 0 then
  redis.call('ZADD', KEYS[1], unpack(args))
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
