-- Objects are journaled before they are written: a deletion queued to come due only after
-- `not_before` (an hour on), committed before the upload and cancelled in the transaction that
-- records the object. A process that dies between the upload and that commit leaves the
-- deletion queued, so the sweeper removes the stray object. NULL: due at once.
ALTER TABLE blob_deletions ADD COLUMN not_before TEXT;
