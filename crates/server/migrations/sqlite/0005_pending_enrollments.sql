-- A low-assurance KTP capture's portrait waits for an analyst before any step-up can match it:
-- active | pending_review | rejected (rejected ones are also retired).
ALTER TABLE face_enrollments ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
