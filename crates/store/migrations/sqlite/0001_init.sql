-- quarry metadata schema, SQLite flavour. Keep in step with ../postgres/0001_init.sql: the
-- same tables, columns and constraints, only the types differ.
--
-- Timestamps are TEXT in the fixed-width form of quarry_core::time::to_sortable, so text
-- order is time order on both backends. Every key starts with tenant_id: each tenant has its
-- own id space, and no query can reach another tenant's rows without naming the tenant.

CREATE TABLE sessions (
    tenant_id        TEXT    NOT NULL,
    id               TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    model            TEXT,
    hitl_mode        TEXT    NOT NULL,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    message_count    INTEGER NOT NULL DEFAULT 0,
    kernel_variables INTEGER NOT NULL DEFAULT 0,
    -- Last event sequence number handed out; bumped in the transaction that appends an event.
    event_seq        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX sessions_newest ON sessions (tenant_id, created_at DESC, id DESC);
CREATE INDEX sessions_by_status ON sessions (tenant_id, status, created_at DESC, id DESC);

CREATE TABLE runs (
    tenant_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL,
    summary     TEXT,
    created_at  TEXT NOT NULL,
    finished_at TEXT,
    PRIMARY KEY (tenant_id, id),
    -- Lets artifacts and events reference (session, run) pairs, so a row can never name a
    -- run of another session.
    UNIQUE (tenant_id, session_id, id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE artifacts (
    -- Insertion order, to break ties between equal timestamps.
    seq         INTEGER PRIMARY KEY,
    tenant_id   TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    session_id  TEXT    NOT NULL,
    run_id      TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    media_type  TEXT    NOT NULL,
    size        INTEGER NOT NULL,
    sha256      TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    storage_key TEXT    NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, session_id, run_id)
        REFERENCES runs (tenant_id, session_id, id) ON DELETE CASCADE
);

CREATE INDEX artifacts_by_session ON artifacts (tenant_id, session_id, created_at, seq);
CREATE INDEX artifacts_by_run ON artifacts (tenant_id, run_id, created_at, seq);

CREATE TABLE messages (
    seq        INTEGER PRIMARY KEY,
    tenant_id  TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    session_id TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    content    TEXT    NOT NULL,
    sent_at    TEXT    NOT NULL,
    metadata   TEXT    NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX messages_by_session ON messages (tenant_id, session_id, sent_at, seq);

CREATE TABLE events (
    tenant_id  TEXT    NOT NULL,
    session_id TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    run_id     TEXT,
    at         TEXT    NOT NULL,
    event      TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, session_id, seq),
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, session_id, run_id)
        REFERENCES runs (tenant_id, session_id, id) ON DELETE CASCADE
) WITHOUT ROWID;
