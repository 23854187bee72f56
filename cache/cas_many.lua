-- cas.lua for many keys in one call (a standalone Redis: on a cluster the keys of one
-- script must share a slot, so the cluster client sends cas.lua per key instead).
-- KEYS[i] a key; ARGV[2i-1] its value, ARGV[2i] its TTL in ms (0: none). The writes are
-- applied in order, each with exactly the rule of cas.lua; returns one 1 (written) or
-- 0 (refused) per key. One command instead of one per key: the per-command cost of the
-- client (packing, parsing a reply, a read timeout each) was most of a fill's CPU.
local out = {}
for i, key in ipairs(KEYS) do
    local new = ARGV[2 * i - 1]
    local written = 1
    local cur = redis.call('GET', key)
    if cur then
        local new_kind = string.sub(new, 1, 1)
        local new_v = tonumber(string.sub(new, 2, 17), 16)
        local cur_v = tonumber(string.sub(cur, 2, 17), 16)
        if cur_v ~= nil then
            if new_kind == 'T' or new_kind == 'C' or string.sub(cur, 1, 1) ~= 'T' then
                if cur_v >= new_v then written = 0 end
            elseif cur_v > new_v then
                written = 0
            end
        end
    end
    if written == 1 then
        local ttl = tonumber(ARGV[2 * i])
        if ttl > 0 then
            redis.call('SET', key, new, 'PX', ttl)
        else
            redis.call('SET', key, new)
        end
    end
    out[i] = written
end
return out
