-- dup_sweep.lua: delete retired generations, and rebuilds abandoned by their routers.
--
-- KEYS[1]  P:dup:{P}:V:gens  (generation -> `b:<heartbeat ms>` while built, `r` once retired)
-- KEYS[2]  P:dup:{P}:V:gen
-- ARGV[1]  ROOT, P:dup:{P}:V:g:
-- ARGV[2]  now (ms)
-- ARGV[3]  how old a rebuild's heartbeat must be (ms) before it counts as abandoned
-- Returns how many generations it deleted.
--
-- A generation is two keys; UNLINK frees them off the main thread, so even a city's index
-- holds Redis for microseconds. The current generation is never touched.
local current = redis.call('GET', KEYS[2])
local states = redis.call('HGETALL', KEYS[1])
local deleted = 0
for i = 1, #states, 2 do
  local gen, state = states[i], states[i + 1]
  local dead = state == 'r'
  if not dead and string.sub(state, 1, 2) == 'b:' then
    dead = tonumber(string.sub(state, 3)) < tonumber(ARGV[2]) - tonumber(ARGV[3])
  end
  if dead and gen ~= current then
    redis.call('UNLINK', ARGV[1] .. gen .. ':t', ARGV[1] .. gen .. ':b')
    redis.call('HDEL', KEYS[1], gen)
    deleted = deleted + 1
  end
end
return deleted
