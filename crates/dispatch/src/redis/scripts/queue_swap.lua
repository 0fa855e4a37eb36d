-- queue_swap.lua: the last step of a station's rebuild: its scratch copy (written from the
-- store) becomes its queue, keeping the lease of every ticket whose entry did not change, so a
-- rebuild of a Redis that other replicas share takes no ticket from the staff holding it.
-- (Prefixed at load time with codec::queue_lua_prelude and queue_ops.lua.)
--
-- KEYS[1..4]  the station's ready, entries, claimed, gone
-- KEYS[5..6]  the scratch ready and entries (same hash tag, so one slot)
-- Returns the number of leases kept.
local kept = {}
local claimed = redis.call('ZRANGE', KEYS[3], 0, -1)
for _, member in ipairs(claimed) do
  local ticket = string.sub(member, TAG_LEN + 1)
  local value = redis.call('HGET', KEYS[2], ticket)
  local fresh = redis.call('HGET', KEYS[6], ticket)
  if value and fresh and not is_tombstone(value) then
    local head, until_us, _, holder = split(value)
    local was = versioned(head)
    local now = versioned(fresh)
    if until_us and was == now then
      local fresh_member = member_of(fresh, ticket)
      local score = redis.call('ZSCORE', KEYS[5], fresh_member)
      if score then
        redis.call('ZREM', KEYS[5], fresh_member)
        local until_text = string.format('%d', until_us)
        redis.call('HSET', KEYS[6], ticket, fresh .. '#' .. until_text .. '|' .. score .. '|' .. holder)
        kept[#kept + 1] = until_text
        kept[#kept + 1] = fresh_member
      end
    end
  end
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
if redis.call('EXISTS', KEYS[5]) == 1 then
  redis.call('RENAME', KEYS[5], KEYS[1])
end
if redis.call('EXISTS', KEYS[6]) == 1 then
  redis.call('RENAME', KEYS[6], KEYS[2])
end
for i = 1, #kept, 2 do
  redis.call('ZADD', KEYS[3], kept[i], kept[i + 1])
end
return #kept / 2
