-- queue_move.lua: move a ticket from one station to another in one step: take it off the old
-- station (with its lease, if it is there) and put it on the new one, announced there.
-- (Prefixed at load time with codec::queue_lua_prelude and queue_ops.lua.)
--
-- KEYS[1..3]  the new station's ready, entries, claimed
-- KEYS[4..6]  the old station's ready, entries, claimed
-- ARGV[1]     the new station's arrivals channel
-- ARGV[2]     ticket (32 hex)
-- ARGV[3]     ready score on the new station
-- ARGV[4]     entry value on the new station
-- Returns 'ok'.
take({ KEYS[4], KEYS[5], KEYS[6] }, ARGV[2])
return put({ KEYS[1], KEYS[2], KEYS[3] }, ARGV[2], ARGV[3], ARGV[4], ARGV[1])
