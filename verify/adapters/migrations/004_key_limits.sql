-- A rate of 0 or a negative burst would make every request of the key fail:
-- refuse them at the source (the CLI checks too).
ALTER TABLE api_keys
    ADD CONSTRAINT api_keys_rate_positive CHECK (rate_per_s IS NULL OR rate_per_s > 0),
    ADD CONSTRAINT api_keys_burst_positive CHECK (burst IS NULL OR burst > 0);
