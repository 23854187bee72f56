-- Keys carry the purposes they may be used for, an expiry, and always a rate
-- (DESIGN.md "Accountability").
--
-- purposes: lowercase identifiers in the order given at creation; the first is what a
-- claim without a purpose is recorded under; empty: any purpose, recorded as given or as
-- 'unspecified'. A key minted before this migration without a rate gets 100/s, burst 200
-- (the default of VERIFY_DEFAULT_KEY_RATE; `verify keys set-rate` changes it).

ALTER TABLE api_keys
    ADD COLUMN purposes text[] NOT NULL DEFAULT '{}',
    ADD COLUMN expires_at timestamptz;         -- NULL: never; from then on the key is refused

ALTER TABLE api_keys ADD CONSTRAINT api_keys_purposes_lowercase_identifiers CHECK (
    array_to_string(purposes, ',') ~ '^([a-z][a-z0-9_]{0,63}(,[a-z][a-z0-9_]{0,63})*)?$'
);

UPDATE api_keys SET rate_per_s = 100, burst = 200 WHERE rate_per_s IS NULL;
UPDATE api_keys SET burst = 2 * rate_per_s WHERE burst IS NULL;
ALTER TABLE api_keys
    ALTER COLUMN rate_per_s SET NOT NULL,
    ALTER COLUMN burst SET NOT NULL;
