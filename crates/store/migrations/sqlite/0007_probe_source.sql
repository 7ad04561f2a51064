-- SPEC §2 trust boundary: a probe fact written by floorline's own prober is
-- marked `source = 'prober'`; `require_own_probes` makes D5 read only those.
-- Facts stored before this migration came from ingestion: no source.
ALTER TABLE probes ADD COLUMN source TEXT;
