//! The OpenAPI document, generated from the handlers' annotations.

use utoipa::OpenApi;

use crate::routes::*;
use crate::routes::{auth, charts, chat, files, kernel, oauth, providers, python_agent};
use crate::views;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "quarry",
        description = "Self-hosted AI data analyst. Speaks the HTTP APIs of oneprompt, DSAgent, \
                       OpenAnalyst, an NL→SQL server and SystemPrompt over one session model. \
                       Every error body is {\"error\":{\"code\",\"message\",\"details\"},\"detail\"}."
    ),
    paths(
        health, ready,
        create_session, list_sessions, get_session, delete_session,
        ds_create_session, ds_list_sessions, ds_get_session, update_session, ds_delete_session,
        archive_session,
        download,
        data_agent,
        list_connections, create_connection, get_connection, update_connection,
        delete_connection, test_connection, set_execution_mode, get_schema, refresh_schema,
        run_query, get_semantic, put_semantic, delete_semantic, chat, execute_pending, history,
        cache_stats, clear_cache, list_examples, create_example, delete_example, get_settings,
        put_settings,
        auth::setup, auth::login, auth::refresh, auth::logout, auth::me,
        auth::create_key, auth::list_keys, auth::revoke_key,
        auth::list_users, auth::create_user, auth::get_user, auth::update_user, auth::delete_user,
        oauth::token, oauth::authorize, oauth::create_client, oauth::list_clients,
        oauth::delete_client,
        kernel_state, execute, reset,
        list_files, upload_files, download_file, delete_file,
        list_artifacts, download_artifact, delete_artifact,
        python_agent,
        charts::create_chart, charts::g2plot_bundle,
        chat::chat, chat::query,
        providers::me, providers::auth_status, providers::list_mine, providers::put_mine,
        providers::list, providers::create, providers::get_one, providers::update,
        providers::delete, providers::test,
    ),
    components(schemas(
        views::Health, views::SessionView, views::SessionList, views::SessionDetail,
        views::HistoryEntry, views::CreateSession, views::DsSession, views::DsSessionList,
        views::DsCreateSession, views::DsUpdateSession, views::Ack,
        auth::UserView, auth::TokenView, auth::LoginView, auth::NewUserBody, auth::LoginBody,
        auth::RefreshBody, auth::KeyView, auth::NewKeyBody, auth::UpdateUserBody,
        oauth::TokenRequest, oauth::NewClientBody, oauth::ClientView,
        kernel::ExecuteBody, kernel::ExecutionView, kernel::ImageView, kernel::ErrorDetail,
        kernel::KernelView, kernel::VariableView,
        files::Category, files::ArtifactType, files::FileView, files::FileList,
        files::ArtifactList, files::UploadView,
        python_agent::PythonAgentBody, charts::ChartRequest, crate::agents::AgentResponse,
        crate::agents::AgentArtifact,
        chat::ChatBody, chat::ChatAnswer,
        providers::ProviderView, providers::PutProviderBody, providers::NewProviderBody,
        providers::UpdateProviderBody, providers::ProviderTest,
    )),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "sessions", description = "oneprompt and OpenAnalyst sessions"),
        (name = "dsagent", description = "DSAgent sessions"),
        (name = "artifacts", description = "Files produced by runs"),
        (name = "agents", description = "oneprompt agents"),
        (name = "nl2sql", description = "NL→SQL server: connections, schema, chat, cache, examples, settings"),
        (name = "auth", description = "Setup, login, tokens and API keys"),
        (name = "users", description = "User management"),
        (name = "oauth", description = "OAuth2 for machine clients"),
        (name = "agents", description = "oneprompt agents: data, python, chart"),
        (name = "chat", description = "OpenAnalyst quick chat through the provider gateway"),
        (name = "providers", description = "Language-model providers and the current principal"),
    )
)]
struct ApiDoc;

/// The OpenAPI document of every route quarry serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}
