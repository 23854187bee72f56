-- GCRA rate limit, the rule of verify/domain/gcra.py on Redis's clock.
-- KEYS[1]: the key's state (its TAT in microseconds)
-- ARGV: interval_us, burst, cost[, strict]: with strict = 1 the whole cost must fit
-- (the probing limit: a batch of guesses on one person never passes from a full bucket)
-- returns {allowed (0/1), retry_after_us}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local needed = math.min(cost, burst)
if ARGV[4] == '1' then needed = cost end
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local allow_at = tat + interval * needed - interval * burst
if allow_at > now then
  return {0, allow_at - now}
end
local new_tat = tat + interval * cost
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return {1, 0}
