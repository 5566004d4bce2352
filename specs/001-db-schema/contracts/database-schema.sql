-- The PostgreSQL schema of the todo data layer, as the Alembic migrations build it.
--
-- This file is a contract, not a migration: backend/tests/integration/test_migrations.py
-- applies it to an empty database and fails if the result differs in any table, column,
-- type, nullability, default, constraint or index from what `alembic upgrade head` builds.
-- Change the schema with a migration, then change this file to match.

-- Accounts. Emails are stored lower-cased (the application normalises them and the CHECK
-- holds raw SQL to the same rule), so one UNIQUE constraint makes the address
-- case-insensitive. Only Argon2 hashes are accepted in hashed_password.
CREATE TABLE "user" (
    created_at      TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP NOT NULL,
    email           VARCHAR(254) NOT NULL,
    id              BIGSERIAL NOT NULL,
    hashed_password VARCHAR(255) NOT NULL,
    CONSTRAINT pk_user PRIMARY KEY (id),
    CONSTRAINT ck_user_email_lowercase CHECK (email = lower(email)),
    CONSTRAINT ck_user_hashed_password_is_hash CHECK (hashed_password LIKE '$argon2%'),
    CONSTRAINT uq_user_email UNIQUE (email)
);

-- Todos. Each belongs to exactly one user and goes when its user goes.
CREATE TABLE todo (
    created_at  TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP NOT NULL,
    title       VARCHAR(255) NOT NULL,
    description VARCHAR(2000),
    completed   BOOLEAN DEFAULT false NOT NULL,
    id          BIGSERIAL NOT NULL,
    user_id     BIGINT NOT NULL,
    CONSTRAINT pk_todo PRIMARY KEY (id),
    CONSTRAINT ck_todo_title_not_blank CHECK (length(trim(title, E' \t\n\r\f\x0B')) > 0),
    CONSTRAINT ck_todo_title_length CHECK (length(title) <= 255),
    CONSTRAINT ck_todo_description_length CHECK (length(description) <= 2000),
    CONSTRAINT fk_todo_user_id_user FOREIGN KEY (user_id) REFERENCES "user" (id) ON DELETE CASCADE
);

-- Every todo query is scoped to one user. Newest-first pages walk this index backwards;
-- it also serves the foreign key's cascade (its leading column is user_id).
CREATE INDEX ix_todo_user_id_created_at_id ON todo (user_id, created_at, id);

-- Pages filtered by status, and counts per status, answered from the index alone.
CREATE INDEX ix_todo_user_id_completed_created_at_id ON todo (user_id, completed, created_at, id);

-- Row-Level Security: PostgreSQL itself admits a todo only to the user named by the
-- transaction-local setting app.current_user_id (set by the operations with
-- set_config(..., true)); with no setting, no row is visible or writable. FORCE holds
-- the table's owner to the policies too; only superusers and BYPASSRLS roles are exempt,
-- so the application connects as a plain role (see quickstart.md).
ALTER TABLE todo ENABLE ROW LEVEL SECURITY;
ALTER TABLE todo FORCE ROW LEVEL SECURITY;

CREATE POLICY todo_select_own ON todo FOR SELECT
    USING (user_id = nullif(current_setting('app.current_user_id', true), '')::bigint);
CREATE POLICY todo_insert_own ON todo FOR INSERT
    WITH CHECK (user_id = nullif(current_setting('app.current_user_id', true), '')::bigint);
CREATE POLICY todo_update_own ON todo FOR UPDATE
    USING (user_id = nullif(current_setting('app.current_user_id', true), '')::bigint)
    WITH CHECK (user_id = nullif(current_setting('app.current_user_id', true), '')::bigint);
CREATE POLICY todo_delete_own ON todo FOR DELETE
    USING (user_id = nullif(current_setting('app.current_user_id', true), '')::bigint);
