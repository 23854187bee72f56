-- The register, its keys and its audit. ID numbers are stored as bigint:
-- 12-digit personal IDs and 9-digit former CMND numbers, formatted back
-- with leading zeros by their known width.

CREATE TABLE citizens (
    id_number       bigint PRIMARY KEY CHECK (id_number BETWEEN 0 AND 999999999999),
    full_name       text NOT NULL,
    birth_date      date NOT NULL,          -- 1 January when only the year is known
    birth_year_only boolean NOT NULL DEFAULT false,
    gender          "char" NOT NULL CHECK (gender IN ('M', 'F')),
    deceased        boolean NOT NULL DEFAULT false,
    province_code   smallint NOT NULL,      -- residence
    address         text NOT NULL DEFAULT '',
    version         bigint NOT NULL DEFAULT 1,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE id_cards (
    id_number   bigint NOT NULL REFERENCES citizens ON DELETE CASCADE,
    issue_date  date NOT NULL,
    expiry_date date,                       -- NULL: never expires
    status      text NOT NULL CHECK (status IN ('active', 'lost', 'revoked')),
    PRIMARY KEY (id_number, issue_date)
);

CREATE TABLE former_ids (
    former_id bigint PRIMARY KEY CHECK (former_id BETWEEN 0 AND 999999999),
    id_number bigint NOT NULL REFERENCES citizens ON DELETE CASCADE
);
CREATE INDEX former_ids_by_citizen ON former_ids (id_number);

-- Any change to a person, their cards or former IDs bumps the person's version,
-- which guards cache writes (an older record never replaces a newer one).
CREATE FUNCTION citizens_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER citizens_version BEFORE UPDATE ON citizens
    FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW) EXECUTE FUNCTION citizens_bump_version();

CREATE FUNCTION child_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE citizens SET version = version + 1 WHERE id_number = OLD.id_number;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND (TG_OP = 'INSERT' OR NEW.id_number <> OLD.id_number) THEN
        UPDATE citizens SET version = version + 1 WHERE id_number = NEW.id_number;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER id_cards_version AFTER INSERT OR UPDATE OR DELETE ON id_cards
    FOR EACH ROW EXECUTE FUNCTION child_bump_version();
CREATE TRIGGER former_ids_version AFTER INSERT OR UPDATE OR DELETE ON former_ids
    FOR EACH ROW EXECUTE FUNCTION child_bump_version();

CREATE TABLE agencies (
    id         serial PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    key_id      text PRIMARY KEY,
    agency_id   integer NOT NULL REFERENCES agencies,
    secret_hash bytea NOT NULL,             -- SHA-256 of the key's secret part
    scopes      text[] NOT NULL,
    rate_per_s  integer,                    -- NULL: no limit
    burst       integer,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

-- One row per answer (verify, batch item, stream line, lookup). subject is an
-- HMAC of the ID number, never the number.
CREATE SEQUENCE audit_log_seq;
CREATE TABLE audit_log (
    seq        bigint NOT NULL DEFAULT nextval('audit_log_seq'),  -- total order for paging
    at         timestamptz NOT NULL,
    agency_id  integer NOT NULL,
    request_id text NOT NULL,
    kind       text NOT NULL,
    purpose    text,
    subject    bytea,
    verdict    text,
    fields     text[],
    latency_ms real
) PARTITION BY RANGE (at);
CREATE INDEX audit_log_by_subject ON audit_log (subject, at DESC, seq DESC);
CREATE INDEX audit_log_by_request ON audit_log (request_id);
CREATE TABLE audit_log_default PARTITION OF audit_log DEFAULT;

-- Creates the daily partitions from today to today + days_ahead.
CREATE FUNCTION audit_ensure_partitions(days_ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    d date;
    made integer := 0;
    name text;
BEGIN
    FOR i IN 0..days_ahead LOOP
        d := current_date + i;
        name := 'audit_log_' || to_char(d, 'YYYYMMDD');
        IF to_regclass(name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF audit_log FOR VALUES FROM (%L) TO (%L)',
                name, d::timestamptz, (d + 1)::timestamptz);
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END $$;

-- Change log feeding cache invalidation (filled by triggers of a later migration).
CREATE TABLE citizen_changes (
    seq        bigserial PRIMARY KEY,
    id_number  bigint NOT NULL,
    former_id  bigint,
    changed_at timestamptz NOT NULL DEFAULT now()
);
