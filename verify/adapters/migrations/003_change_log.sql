-- Change log feeding cache invalidation (DESIGN.md invariant 2).
--
-- Every change to a person, a card or a former ID appends one row per affected
-- person to citizen_changes: (id_number, former_id when a former ID changed,
-- the person's version after the change; NULL when the person is gone) and
-- wakes the listeners with pg_notify('citizen_changes', seq). The payload is
-- only the sequence number, never personal data. The listeners read the rows
-- (seq > what they have seen) and evict / tombstone the cache entries.
--
-- Triggers are named zz_change_log so that they fire after the *_version
-- triggers of 001 (PostgreSQL fires triggers of one event in name order): the
-- version they log is the bumped one.
--
-- BULK LOADING (coordinate with migration 002 and `verify load`): these are
-- plain row triggers, so `SET LOCAL session_replication_role = replica`
-- disables them, together with the version bumps of 001. That is fine for a
-- first seed into an empty register with an empty cache. A load into a LIVE
-- register must still (1) bump citizens.version of every row it changes and
-- (2) log the changes itself before it commits, e.g.
--     INSERT INTO citizen_changes (id_number, version) SELECT id_number, NULL FROM <loaded ids>;
--     SELECT pg_notify('citizen_changes', '0');
-- (version NULL = unknown: the cache refuses every fill of those keys for a
-- couple of minutes and answers them from Postgres: safe, only slower).

ALTER TABLE citizen_changes ADD COLUMN version bigint;

CREATE FUNCTION log_citizen_change(p_id bigint, p_former bigint, p_version bigint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    s bigint;
BEGIN
    INSERT INTO citizen_changes (id_number, former_id, version)
    VALUES (p_id, p_former, p_version) RETURNING seq INTO s;
    PERFORM pg_notify('citizen_changes', s::text);
END $$;

CREATE FUNCTION citizens_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD IS NOT DISTINCT FROM NEW THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND NEW.id_number <> OLD.id_number) THEN
        PERFORM log_citizen_change(OLD.id_number, NULL, NULL);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM log_citizen_change(NEW.id_number, NULL, NEW.version);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER zz_change_log AFTER INSERT OR UPDATE OR DELETE ON citizens
    FOR EACH ROW EXECUTE FUNCTION citizens_log_change();

-- id_cards and former_ids: the person's version is read after the bump of 001.
CREATE FUNCTION child_log_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_former bigint;
    new_former bigint;
BEGIN
    IF TG_TABLE_NAME = 'former_ids' THEN
        IF TG_OP <> 'INSERT' THEN old_former := OLD.former_id; END IF;
        IF TG_OP <> 'DELETE' THEN new_former := NEW.former_id; END IF;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM log_citizen_change(OLD.id_number, old_former,
            (SELECT version FROM citizens WHERE id_number = OLD.id_number));
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND (NEW.id_number <> OLD.id_number
                                              OR new_former IS DISTINCT FROM old_former)) THEN
        PERFORM log_citizen_change(NEW.id_number, new_former,
            (SELECT version FROM citizens WHERE id_number = NEW.id_number));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER zz_change_log AFTER INSERT OR UPDATE OR DELETE ON id_cards
    FOR EACH ROW EXECUTE FUNCTION child_log_change();
CREATE TRIGGER zz_change_log AFTER INSERT OR UPDATE OR DELETE ON former_ids
    FOR EACH ROW EXECUTE FUNCTION child_log_change();
