-- The SQL data agent's configuration and history (see quarry_core::SqlCatalog). Keep the
-- sqlite and postgres files identical: every column is TEXT, timestamps are sortable text.
-- Connection URLs are stored sealed (XChaCha20-Poly1305 under the server's data key).

CREATE TABLE sql_connections (
    tenant_id      TEXT NOT NULL,
    id             TEXT NOT NULL,
    name           TEXT NOT NULL,
    engine         TEXT NOT NULL,
    sealed_url     TEXT NOT NULL,
    execution_mode TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE sql_semantic_models (
    tenant_id     TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    model         TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, connection_id),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES sql_connections (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE sql_examples (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    question      TEXT NOT NULL,
    sql_text      TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, connection_id) REFERENCES sql_connections (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX sql_examples_by_connection ON sql_examples (tenant_id, connection_id, created_at);

CREATE TABLE sql_settings (
    tenant_id  TEXT NOT NULL PRIMARY KEY,
    settings   TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE sql_chat_messages (
    tenant_id     TEXT NOT NULL,
    id            TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    role          TEXT NOT NULL,
    content       TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE INDEX sql_chat_by_session ON sql_chat_messages (tenant_id, session_id, created_at, id);

CREATE TABLE sql_pending_queries (
    tenant_id     TEXT NOT NULL,
    message_id    TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    connection_id TEXT NOT NULL,
    question      TEXT NOT NULL,
    sql_text      TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    -- No foreign key: built-in connections (the demo database) have no row here.
    PRIMARY KEY (tenant_id, message_id)
);
