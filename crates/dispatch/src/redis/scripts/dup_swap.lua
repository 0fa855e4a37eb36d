-- dup_swap.lua: make a built generation the current one and retire the one it replaces.
--
-- KEYS[1]  P:dup:{P}:V:gen
-- KEYS[2]  P:dup:{P}:V:gens
-- ARGV[1]  the new generation
-- ARGV[2..] keys of the layout before generations (one big set, a hash, a built mark): a
--          router upgraded in place leaves them, and nothing reads them any more
-- Errors when the generation is no longer being built (a sweep gave it up).
local state = redis.call('HGET', KEYS[2], ARGV[1])
if not state or string.sub(state, 1, 2) ~= 'b:' then
  return redis.error_reply('ERR this duplicate-index rebuild was given up for abandoned')
end
local old = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if old and old ~= ARGV[1] then
  redis.call('HSET', KEYS[2], old, 'r')
end
for i = 2, #ARGV do
  redis.call('UNLINK', ARGV[i])
end
return 0
