-- Warehouse roles and grants, as code (docs/roles.md). Idempotent; applied by `telco360 grants`.
-- Group roles (NOLOGIN): people and services log in as their own users and are granted one of these.
--   loader       writes raw and audit (telco360 ingest)
--   transformer  reads raw/audit, builds staging, intermediate, reference and the candidate marts (dbt)
--   bi_reader    reads marts only (published after the data-quality gate, and marts.dq_scorecard):
--                never raw, staging or unaudited candidates, so never a clear MSISDN or ID number
--   auditor      reads the audit trail (load manifest, quarantine, data-quality results), marts and candidates
--   ml           reads marts (features), writes model outputs to schema ml
-- Objects are created by the owner role of the warehouse (the one running this script); default
-- privileges make every table it creates later readable by the right roles.

DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['loader', 'transformer', 'bi_reader', 'auditor', 'ml'] LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    END IF;
    EXECUTE format('GRANT %I TO %I', r, current_user);  -- lets the owner act as each role (SET ROLE)
  END LOOP;
END $$;

CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS audit;
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS intermediate;
CREATE SCHEMA IF NOT EXISTS reference;
CREATE SCHEMA IF NOT EXISTS marts;
CREATE SCHEMA IF NOT EXISTS marts_candidate;
CREATE SCHEMA IF NOT EXISTS ml;

REVOKE ALL ON SCHEMA raw, audit, staging, intermediate, reference, marts, marts_candidate, ml FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- loader
GRANT USAGE, CREATE ON SCHEMA raw, audit TO loader;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA raw, audit TO loader;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA audit TO loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA raw, audit GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO loader;
ALTER DEFAULT PRIVILEGES IN SCHEMA audit GRANT USAGE ON SEQUENCES TO loader;

-- transformer
GRANT USAGE ON SCHEMA raw, audit TO transformer;
GRANT SELECT ON ALL TABLES IN SCHEMA raw, audit TO transformer;
ALTER DEFAULT PRIVILEGES IN SCHEMA raw, audit GRANT SELECT ON TABLES TO transformer;
GRANT USAGE, CREATE ON SCHEMA staging, intermediate, reference, marts_candidate TO transformer;
GRANT SELECT ON ALL TABLES IN SCHEMA staging, intermediate, reference, marts_candidate, marts TO transformer;
ALTER DEFAULT PRIVILEGES IN SCHEMA staging, intermediate, reference, marts_candidate, marts
  GRANT SELECT ON TABLES TO transformer;
GRANT USAGE ON SCHEMA marts TO transformer;

-- bi_reader: marts only
GRANT USAGE ON SCHEMA marts TO bi_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA marts TO bi_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA marts GRANT SELECT ON TABLES TO bi_reader;

-- auditor: audit trail and marts
GRANT USAGE ON SCHEMA audit, marts, marts_candidate TO auditor;
GRANT SELECT ON ALL TABLES IN SCHEMA audit, marts, marts_candidate TO auditor;
ALTER DEFAULT PRIVILEGES IN SCHEMA audit, marts, marts_candidate GRANT SELECT ON TABLES TO auditor;

-- ml: reads marts, writes model outputs
GRANT USAGE ON SCHEMA marts TO ml;
GRANT SELECT ON ALL TABLES IN SCHEMA marts TO ml;
ALTER DEFAULT PRIVILEGES IN SCHEMA marts GRANT SELECT ON TABLES TO ml;
GRANT USAGE, CREATE ON SCHEMA ml TO ml;

-- publisher: the data-quality gate (telco360 audit --publish) writes the audit trail and copies audited
-- candidates into marts; it runs as the warehouse owner, whose default privileges above cover the copies
