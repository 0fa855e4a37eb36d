-- dup_sweep.lua: delete part of a retired generation (or of a rebuild abandoned by its router).
--
-- KEYS[1]  P:dup:{P}:V:gens
-- KEYS[2]  P:dup:{P}:V:gen
-- ARGV[1]  ROOT, P:dup:{P}:V:g:
-- ARGV[2]  now (ms)
-- ARGV[3]  how old a rebuild's heartbeat must be (ms) before it counts as abandoned
-- ARGV[4]  how many tickets' filings to delete at most in this call
-- Returns how many tickets' filings it deleted, plus 1 for each generation finished: 0 when
-- nothing is left to sweep.
--
-- A retired generation is written by no one (every filing resolves the current one inside its
-- script), so its records, walked with HSCAN from the cursor kept in its state, name every key
-- it holds. The walk deletes as it goes; SCAN returns every field present for the whole walk,
-- so when the cursor comes back to 0 nothing is left.
local current = redis.call('GET', KEYS[2])
local states = redis.call('HGETALL', KEYS[1])
local budget = tonumber(ARGV[4])
local done = 0
for i = 1, #states, 2 do
  local gen, state = states[i], states[i + 1]
  local cursor = nil
  if string.sub(state, 1, 2) == 'r:' then
    cursor = string.sub(state, 3)
  elseif tonumber(string.sub(state, 3)) < tonumber(ARGV[2]) - tonumber(ARGV[3]) then
    cursor = '0'
  end
  if cursor and gen ~= current then
    local base = ARGV[1] .. gen
    local tickets = base .. ':t'
    local finished = false
    while not finished and done < budget do
      local page = redis.call('HSCAN', tickets, cursor, 'COUNT', budget - done)
      local fields = page[2]
      local stopped = false
      for j = 1, #fields, 2 do
        if done >= budget then
          -- The rest of this page next time: the cursor stays before it, and what was
          -- deleted of it is not returned again.
          stopped = true
          break
        end
        unfile(base, fields[j], fields[j + 1])
        redis.call('HDEL', tickets, fields[j])
        done = done + 1
      end
      if not stopped then
        cursor = page[1]
        finished = cursor == '0'
      end
    end
    if finished then
      redis.call('DEL', tickets)
      redis.call('HDEL', KEYS[1], gen)
      done = done + 1
    else
      redis.call('HSET', KEYS[1], gen, 'r:' .. cursor)
    end
    if done >= budget then
      return done
    end
  end
end
return done
