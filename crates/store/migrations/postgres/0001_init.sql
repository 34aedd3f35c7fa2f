-- quarry metadata schema, PostgreSQL flavour. Keep in step with ../sqlite/0001_init.sql: the
-- same tables, columns and constraints, only the types differ.
--
-- Timestamps are TEXT in the fixed-width form of quarry_core::time::to_sortable, so text
-- order is time order on both backends (and one set of queries serves both through sqlx's
-- Any driver, which has no timestamp type). Ids and timestamps use the "C" collation so
-- ordering is bytewise, as in SQLite, whatever the database's locale. Every key starts with
-- tenant_id: each tenant has its own id space.

CREATE TABLE sessions (
    tenant_id        TEXT COLLATE "C" NOT NULL,
    id               TEXT COLLATE "C" NOT NULL,
    name             TEXT             NOT NULL,
    status           TEXT COLLATE "C" NOT NULL,
    model            TEXT,
    hitl_mode        TEXT COLLATE "C" NOT NULL,
    created_at       TEXT COLLATE "C" NOT NULL,
    updated_at       TEXT COLLATE "C" NOT NULL,
    message_count    BIGINT           NOT NULL DEFAULT 0,
    kernel_variables BIGINT           NOT NULL DEFAULT 0,
    -- Last event sequence number handed out; bumped in the transaction that appends an event,
    -- whose row lock serialises concurrent appends to one session.
    event_seq        BIGINT           NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX sessions_newest ON sessions (tenant_id, created_at DESC, id DESC);
CREATE INDEX sessions_by_status ON sessions (tenant_id, status, created_at DESC, id DESC);

CREATE TABLE runs (
    tenant_id   TEXT COLLATE "C" NOT NULL,
    id          TEXT COLLATE "C" NOT NULL,
    session_id  TEXT COLLATE "C" NOT NULL,
    kind        TEXT COLLATE "C" NOT NULL,
    status      TEXT COLLATE "C" NOT NULL,
    summary     TEXT,
    created_at  TEXT COLLATE "C" NOT NULL,
    finished_at TEXT COLLATE "C",
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, session_id, id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE artifacts (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   TEXT COLLATE "C" NOT NULL,
    id          TEXT COLLATE "C" NOT NULL,
    session_id  TEXT COLLATE "C" NOT NULL,
    run_id      TEXT COLLATE "C" NOT NULL,
    kind        TEXT COLLATE "C" NOT NULL,
    name        TEXT             NOT NULL,
    media_type  TEXT             NOT NULL,
    size        BIGINT           NOT NULL,
    sha256      TEXT             NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL,
    storage_key TEXT             NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, session_id, run_id)
        REFERENCES runs (tenant_id, session_id, id) ON DELETE CASCADE
);

CREATE INDEX artifacts_by_session ON artifacts (tenant_id, session_id, created_at, seq);
CREATE INDEX artifacts_by_run ON artifacts (tenant_id, run_id, created_at, seq);

CREATE TABLE messages (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  TEXT COLLATE "C" NOT NULL,
    id         TEXT COLLATE "C" NOT NULL,
    session_id TEXT COLLATE "C" NOT NULL,
    role       TEXT COLLATE "C" NOT NULL,
    content    TEXT             NOT NULL,
    sent_at    TEXT COLLATE "C" NOT NULL,
    metadata   TEXT             NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX messages_by_session ON messages (tenant_id, session_id, sent_at, seq);

CREATE TABLE events (
    tenant_id  TEXT COLLATE "C" NOT NULL,
    session_id TEXT COLLATE "C" NOT NULL,
    seq        BIGINT           NOT NULL,
    run_id     TEXT COLLATE "C",
    at         TEXT COLLATE "C" NOT NULL,
    event      TEXT             NOT NULL,
    PRIMARY KEY (tenant_id, session_id, seq),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, session_id, run_id)
        REFERENCES runs (tenant_id, session_id, id) ON DELETE CASCADE
);
