-- Language-model provider configurations stored through the API, postgres flavour. Keep in step
-- with the other backend's 0003_providers.sql. Keys are sealed by the server (XChaCha20-
-- Poly1305 under the data key) before they reach this table; key_hint is a masked prefix and
-- suffix, safe to show.

CREATE TABLE provider_configs (
    id          TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id   TEXT COLLATE "C" NOT NULL,
    name        TEXT COLLATE "C" NOT NULL,
    kind        TEXT COLLATE "C" NOT NULL,
    base_url    TEXT,
    model       TEXT,
    sealed_key  TEXT,
    key_hint    TEXT,
    created_at  TEXT COLLATE "C" NOT NULL,
    updated_at  TEXT COLLATE "C" NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE INDEX provider_configs_oldest ON provider_configs (tenant_id, created_at, id);
