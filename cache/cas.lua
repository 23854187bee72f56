-- Version-guarded SET of one cache value (single key: fine on a cluster).
-- KEYS[1] the key; ARGV[1] the value: kind (1 byte) .. version (16 hex) .. sealed payload;
-- ARGV[2] TTL in ms, 0 for none. Returns 1 when written, 0 when refused.
--
-- kinds: R record, F former-ID mapping, N negative, T tombstone, C feed cursor.
-- A tombstone or cursor only ever raises the stored version. A value is
-- refused over a tombstone of a higher version and over any other value of
-- the same or a higher version: a slow reader never puts an old record back.
local new = ARGV[1]
local cur = redis.call('GET', KEYS[1])
if cur then
    local new_kind = string.sub(new, 1, 1)
    local new_v = tonumber(string.sub(new, 2, 17), 16)
    local cur_v = tonumber(string.sub(cur, 2, 17), 16)
    if cur_v ~= nil then
        if new_kind == 'T' or new_kind == 'C' or string.sub(cur, 1, 1) ~= 'T' then
            if cur_v >= new_v then return 0 end
        elseif cur_v > new_v then
            return 0
        end
    end
end
local ttl = tonumber(ARGV[2])
if ttl > 0 then
    redis.call('SET', KEYS[1], new, 'PX', ttl)
else
    redis.call('SET', KEYS[1], new)
end
return 1
