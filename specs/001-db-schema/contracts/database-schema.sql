-- The PostgreSQL schema of the todo data layer, as the Alembic migrations build it.
--
-- This file is a contract, not a migration: backend/tests/integration/test_migrations.py
-- applies it to an empty database and fails if the result differs in any table, column,
-- type, nullability, default, constraint or index from what `alembic upgrade head` builds.
-- Change the schema with a migration, then change this file to match.

-- Accounts. Emails are stored as their key (NFKC, Unicode domain, lower case; the CHECK
-- holds raw SQL to lower case), so one UNIQUE constraint makes every spelling of an address
-- one account. hashed_password holds an Argon2 hash, or a bcrypt hash migrated in from
-- another application (re-hashed to Argon2id at the next successful login).
-- Ids come from BIGSERIAL sequences, which never hand an id out twice, even after its row is
-- deleted: a token carrying a deleted user's id must never name a newer user.
-- is_active false: deactivated; the account and its todos stay, login and tokens are refused.
CREATE TABLE "user" (
    created_at      TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP WITH TIME ZONE DEFAULT CURRENT_TIMESTAMP NOT NULL,
    email           VARCHAR(254) NOT NULL,
    id              BIGSERIAL NOT NULL,
    hashed_password VARCHAR(255) NOT NULL,
    is_active       BOOLEAN DEFAULT true NOT NULL,
    CONSTRAINT pk_user PRIMARY KEY (id),
    CONSTRAINT ck_user_email_lowercase CHECK (email = lower(email)),
    CONSTRAINT ck_user_hashed_password_is_hash CHECK (
        hashed_password LIKE '$argon2%' OR hashed_password LIKE '$2a$%'
        OR hashed_password LIKE '$2b$%' OR hashed_password LIKE '$2y$%'
    ),
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
    -- Not blank: something is left after trimming every invisible character (control, format
    -- and separator characters, Hangul fillers, variation selectors, tags, braille blank).
    CONSTRAINT ck_todo_title_not_blank CHECK (length(trim(title, E'\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u0009\u000A\u000B\u000C\u000D\u000E\u000F\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001A\u001B\u001C\u001D\u001E\u001F\u0020\u007F\u0080\u0081\u0082\u0083\u0084\u0085\u0086\u0087\u0088\u0089\u008A\u008B\u008C\u008D\u008E\u008F\u0090\u0091\u0092\u0093\u0094\u0095\u0096\u0097\u0098\u0099\u009A\u009B\u009C\u009D\u009E\u009F\u00A0\u00AD\u034F\u061C\u115F\u1160\u1680\u17B4\u17B5\u180B\u180C\u180D\u180E\u180F\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u200B\u200C\u200D\u200E\u200F\u2028\u2029\u202A\u202B\u202C\u202D\u202E\u202F\u205F\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\u206A\u206B\u206C\u206D\u206E\u206F\u2800\u3000\u3164\uFE00\uFE01\uFE02\uFE03\uFE04\uFE05\uFE06\uFE07\uFE08\uFE09\uFE0A\uFE0B\uFE0C\uFE0D\uFE0E\uFE0F\uFEFF\uFFA0\uFFF9\uFFFA\uFFFB\U00013430\U00013431\U00013432\U00013433\U00013434\U00013435\U00013436\U00013437\U00013438\U0001BCA0\U0001BCA1\U0001BCA2\U0001BCA3\U0001D173\U0001D174\U0001D175\U0001D176\U0001D177\U0001D178\U0001D179\U0001D17A\U000E0001\U000E0020\U000E0021\U000E0022\U000E0023\U000E0024\U000E0025\U000E0026\U000E0027\U000E0028\U000E0029\U000E002A\U000E002B\U000E002C\U000E002D\U000E002E\U000E002F\U000E0030\U000E0031\U000E0032\U000E0033\U000E0034\U000E0035\U000E0036\U000E0037\U000E0038\U000E0039\U000E003A\U000E003B\U000E003C\U000E003D\U000E003E\U000E003F\U000E0040\U000E0041\U000E0042\U000E0043\U000E0044\U000E0045\U000E0046\U000E0047\U000E0048\U000E0049\U000E004A\U000E004B\U000E004C\U000E004D\U000E004E\U000E004F\U000E0050\U000E0051\U000E0052\U000E0053\U000E0054\U000E0055\U000E0056\U000E0057\U000E0058\U000E0059\U000E005A\U000E005B\U000E005C\U000E005D\U000E005E\U000E005F\U000E0060\U000E0061\U000E0062\U000E0063\U000E0064\U000E0065\U000E0066\U000E0067\U000E0068\U000E0069\U000E006A\U000E006B\U000E006C\U000E006D\U000E006E\U000E006F\U000E0070\U000E0071\U000E0072\U000E0073\U000E0074\U000E0075\U000E0076\U000E0077\U000E0078\U000E0079\U000E007A\U000E007B\U000E007C\U000E007D\U000E007E\U000E007F\U000E0100\U000E0101\U000E0102\U000E0103\U000E0104\U000E0105\U000E0106\U000E0107\U000E0108\U000E0109\U000E010A\U000E010B\U000E010C\U000E010D\U000E010E\U000E010F\U000E0110\U000E0111\U000E0112\U000E0113\U000E0114\U000E0115\U000E0116\U000E0117\U000E0118\U000E0119\U000E011A\U000E011B\U000E011C\U000E011D\U000E011E\U000E011F\U000E0120\U000E0121\U000E0122\U000E0123\U000E0124\U000E0125\U000E0126\U000E0127\U000E0128\U000E0129\U000E012A\U000E012B\U000E012C\U000E012D\U000E012E\U000E012F\U000E0130\U000E0131\U000E0132\U000E0133\U000E0134\U000E0135\U000E0136\U000E0137\U000E0138\U000E0139\U000E013A\U000E013B\U000E013C\U000E013D\U000E013E\U000E013F\U000E0140\U000E0141\U000E0142\U000E0143\U000E0144\U000E0145\U000E0146\U000E0147\U000E0148\U000E0149\U000E014A\U000E014B\U000E014C\U000E014D\U000E014E\U000E014F\U000E0150\U000E0151\U000E0152\U000E0153\U000E0154\U000E0155\U000E0156\U000E0157\U000E0158\U000E0159\U000E015A\U000E015B\U000E015C\U000E015D\U000E015E\U000E015F\U000E0160\U000E0161\U000E0162\U000E0163\U000E0164\U000E0165\U000E0166\U000E0167\U000E0168\U000E0169\U000E016A\U000E016B\U000E016C\U000E016D\U000E016E\U000E016F\U000E0170\U000E0171\U000E0172\U000E0173\U000E0174\U000E0175\U000E0176\U000E0177\U000E0178\U000E0179\U000E017A\U000E017B\U000E017C\U000E017D\U000E017E\U000E017F\U000E0180\U000E0181\U000E0182\U000E0183\U000E0184\U000E0185\U000E0186\U000E0187\U000E0188\U000E0189\U000E018A\U000E018B\U000E018C\U000E018D\U000E018E\U000E018F\U000E0190\U000E0191\U000E0192\U000E0193\U000E0194\U000E0195\U000E0196\U000E0197\U000E0198\U000E0199\U000E019A\U000E019B\U000E019C\U000E019D\U000E019E\U000E019F\U000E01A0\U000E01A1\U000E01A2\U000E01A3\U000E01A4\U000E01A5\U000E01A6\U000E01A7\U000E01A8\U000E01A9\U000E01AA\U000E01AB\U000E01AC\U000E01AD\U000E01AE\U000E01AF\U000E01B0\U000E01B1\U000E01B2\U000E01B3\U000E01B4\U000E01B5\U000E01B6\U000E01B7\U000E01B8\U000E01B9\U000E01BA\U000E01BB\U000E01BC\U000E01BD\U000E01BE\U000E01BF\U000E01C0\U000E01C1\U000E01C2\U000E01C3\U000E01C4\U000E01C5\U000E01C6\U000E01C7\U000E01C8\U000E01C9\U000E01CA\U000E01CB\U000E01CC\U000E01CD\U000E01CE\U000E01CF\U000E01D0\U000E01D1\U000E01D2\U000E01D3\U000E01D4\U000E01D5\U000E01D6\U000E01D7\U000E01D8\U000E01D9\U000E01DA\U000E01DB\U000E01DC\U000E01DD\U000E01DE\U000E01DF\U000E01E0\U000E01E1\U000E01E2\U000E01E3\U000E01E4\U000E01E5\U000E01E6\U000E01E7\U000E01E8\U000E01E9\U000E01EA\U000E01EB\U000E01EC\U000E01ED\U000E01EE\U000E01EF')) > 0),
    CONSTRAINT ck_todo_title_length CHECK (length(title) <= 255),
    CONSTRAINT ck_todo_description_length CHECK (length(description) <= 2000),
    CONSTRAINT fk_todo_user_id_user FOREIGN KEY (user_id) REFERENCES "user" (id) ON DELETE CASCADE
);

-- Every todo query is scoped to one user. Newest-first pages walk this index backwards;
-- it also serves the foreign key's cascade (its leading column is user_id).
CREATE INDEX ix_todo_user_id_created_at_id ON todo (user_id, created_at, id);

-- Pages filtered by status, and counts per status, answered from the index alone.
CREATE INDEX ix_todo_user_id_completed_created_at_id ON todo (user_id, completed, created_at, id);

-- Search under row security (src.models.search_index): each row's title and description,
-- lowered as the search lowers them (NULL past 2,400 bytes, so every entry fits a B-tree
-- page), carried by an index in page order. A search filters the index entries, which row
-- security allows for a condition that is not leakproof, and reads the table only for the
-- candidates. No parallel plans: every query here reads one user's rows.
ALTER TABLE todo ADD COLUMN search_head text GENERATED ALWAYS AS (CASE WHEN octet_length(lower(title COLLATE "und-x-icu") || E'\n' || coalesce(lower(description COLLATE "und-x-icu"), '')) <= 2400 THEN lower(title COLLATE "und-x-icu") || E'\n' || coalesce(lower(description COLLATE "und-x-icu"), '') END) STORED;
CREATE INDEX ix_todo_search ON todo (user_id, created_at, id) INCLUDE (completed, search_head);
ALTER TABLE todo SET (parallel_workers = 0);

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
