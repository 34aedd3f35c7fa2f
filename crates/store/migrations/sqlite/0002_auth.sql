-- quarry accounts and credentials, SQLite flavour. Keep in step with ../postgres/0002_auth.sql:
-- the same tables, columns and constraints, only the types differ.
--
-- Only hashes of secrets are stored. Ids of users, keys and clients are unique across the
-- server (keys and clients are looked up by id alone); each table also carries tenant_id, and
-- the foreign keys name (tenant_id, id) pairs, so a key, token, code or client can never
-- belong to a user or client of another tenant. Deleting a user or client cascades to what
-- hangs off it. Flags are integers 0/1 on both backends, so one set of queries serves both.

CREATE TABLE users (
    id                  TEXT    NOT NULL PRIMARY KEY,
    tenant_id           TEXT    NOT NULL,
    -- Lower case: the store lower-cases usernames, so this is case-insensitive uniqueness.
    username            TEXT    NOT NULL UNIQUE,
    email               TEXT,
    role                TEXT    NOT NULL,
    can_act_for_tenants INTEGER NOT NULL CHECK (can_act_for_tenants IN (0, 1)),
    password_hash       TEXT,
    disabled            INTEGER NOT NULL CHECK (disabled IN (0, 1)),
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    UNIQUE (tenant_id, id)
);

CREATE INDEX users_oldest ON users (tenant_id, created_at, id);

CREATE TABLE api_keys (
    id           TEXT NOT NULL PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX api_keys_by_user ON api_keys (tenant_id, user_id, created_at DESC, id DESC);

CREATE TABLE oauth_clients (
    id              TEXT NOT NULL PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    name            TEXT NOT NULL,
    secret_hash     TEXT,
    -- A JSON array of strings.
    redirect_uris   TEXT NOT NULL,
    service_user_id TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    UNIQUE (tenant_id, id),
    FOREIGN KEY (tenant_id, service_user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX oauth_clients_oldest ON oauth_clients (tenant_id, created_at, id);
CREATE INDEX oauth_clients_by_service_user ON oauth_clients (tenant_id, service_user_id);

CREATE TABLE refresh_tokens (
    token_hash TEXT NOT NULL PRIMARY KEY,
    family_id  TEXT NOT NULL,
    tenant_id  TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    client_id  TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    rotated_at TEXT,
    revoked_at TEXT,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    -- Not enforced while client_id is NULL.
    FOREIGN KEY (tenant_id, client_id) REFERENCES oauth_clients (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (tenant_id, user_id);
CREATE INDEX refresh_tokens_by_client ON refresh_tokens (tenant_id, client_id);

CREATE TABLE auth_codes (
    code_hash      TEXT NOT NULL PRIMARY KEY,
    client_id      TEXT NOT NULL,
    tenant_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    FOREIGN KEY (tenant_id, client_id) REFERENCES oauth_clients (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX auth_codes_by_expiry ON auth_codes (expires_at);
CREATE INDEX auth_codes_by_client ON auth_codes (tenant_id, client_id);
CREATE INDEX auth_codes_by_user ON auth_codes (tenant_id, user_id);
