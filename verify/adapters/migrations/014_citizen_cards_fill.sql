-- Fills migration 013's card arrays for the persons already in the register (an upgrade; on
-- an empty register it does nothing).
--
-- One statement (id_cards aggregated by person, joined to citizens) rewrites every person
-- with a card. Its own transaction, so 013's ACCESS EXCLUSIVE lock is gone: readers (the
-- servers of the previous release, which read id_cards) go on. Writers wait: id_cards is
-- locked in SHARE mode (a card changed meanwhile cannot be overwritten by an aggregate read
-- before it), and disabling the triggers of citizens takes a SHARE ROW EXCLUSIVE lock on it.
-- citizens' version and change-log triggers are off for the fill: the records do not change,
-- so cached answers stay valid and millions of change rows are not logged. Autovacuum
-- reclaims the old row versions afterwards.
--
-- TIME: 51 s for a 1M register (1.17M cards, 0.8M persons with a card) on the shared 2-core
-- dev machine at load average 10 (60 s in a second run at 11): so up to ~10 minutes per 10M
-- people on such a machine, writes to the register waiting all along; a quiet or larger
-- server is faster (not measured here). For 100M plan a maintenance window for writes.
-- Run it with no register load (`verify load`) in progress: a load that has upserted
-- citizens and then writes id_cards takes the two locks in the other order, and one of the
-- two is aborted as a deadlock (the migration can simply be run again).

LOCK TABLE id_cards IN SHARE MODE;
ALTER TABLE citizens DISABLE TRIGGER citizens_version;
ALTER TABLE citizens DISABLE TRIGGER zz_change_log;
UPDATE citizens c
SET card_issue = k.issue, card_expiry = k.expiry, card_status = k.status
FROM (
    SELECT id_number,
           array_agg(issue_date ORDER BY issue_date) AS issue,
           array_agg(expiry_date ORDER BY issue_date) AS expiry,
           array_agg(status ORDER BY issue_date) AS status
    FROM id_cards GROUP BY id_number
) k
WHERE c.id_number = k.id_number;
ALTER TABLE citizens ENABLE TRIGGER citizens_version;
ALTER TABLE citizens ENABLE TRIGGER zz_change_log;
