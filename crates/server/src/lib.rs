//! The HTTP face of the system and the `dms` command: actix-web routes under `/api/v1`,
//! authentication (JWT access tokens, refresh sessions, login throttling), permission checks,
//! error mapping to problem+json, the generated OpenAPI document and its offline reference
//! page, the web app's static files, and the command-line tools (serve, migrate, seed, users,
//! backup). Handlers are thin: HTTP in, a domain call inside `web::block`, HTTP out (payments on
//! SQLite go through its group-commit writer, checkouts through [`batch::Batcher`]).

pub mod auth;
pub mod batch;
pub mod config;
pub mod crm;
pub mod docs;
pub mod error;
pub mod extract;
pub mod jobs;
pub mod membership;
pub mod routes;
pub mod seed;

use crate::auth::{LoginThrottle, RequestId, TokenKeys};
use crate::config::Config;
use crate::docs::RouteTable;
use crate::error::ApiError;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Logger, Next};
use actix_web::{guard, web, App, HttpMessage, HttpRequest, HttpResponse};
use dms_db::{DbConnection, DbPool};
use dms_identity::{FileCodeSender, LoginCodeSender, OtpPolicy};
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

/// Everything a request handler may reach; built once and shared by the workers.
pub struct AppState {
    pub pool: DbPool,
    pub config: Config,
    pub keys: TokenKeys,
    pub throttle: LoginThrottle,
    pub code_sender: Option<Arc<dyn LoginCodeSender>>,
    pub otp: Option<OtpPolicy>,
    pub routes: RouteTable,
    pub spec_json: String,
    pub membership: membership::DomainState,
    pub crm: crm::DomainState,
    /// SQLite only: the group-commit writer the payment hot path goes through
    /// ([`AppState::db_write`]).
    pub sqlite_writer: Option<dms_db::SqliteWriter>,
    /// Checkouts without a PIN, settled in batches (`membership::money::settle_checkouts`).
    pub checkouts: batch::Batcher<membership::money::CheckoutWork>,
}

impl AppState {
    pub fn new(config: Config, pool: DbPool) -> Result<AppState, String> {
        let keys = TokenKeys::new(&config.auth)?;
        let (code_sender, otp): (Option<Arc<dyn LoginCodeSender>>, _) =
            match config.customer_login.sender.as_str() {
                "file" => {
                    let pepper = config
                        .customer_login
                        .code_pepper
                        .clone()
                        .ok_or("customer_login.code_pepper is required for customer login")?;
                    let mut policy = OtpPolicy::new(pepper.into_bytes());
                    policy.brand = config.customer_login.brand.clone();
                    // The CRM's SMS gateway, when one is configured, sends the codes for real;
                    // otherwise they go to the outbox file.
                    let sender = crm::login_code_sender(&config.crm).unwrap_or_else(|| {
                        Arc::new(FileCodeSender {
                            path: config.customer_login.outbox_file.clone(),
                        })
                    });
                    (Some(sender), Some(policy))
                }
                _ => (None, None),
            };
        let spec = openapi();
        let sqlite_writer = match dms_db::Engine::from_url(&config.database_url) {
            Ok(dms_db::Engine::Sqlite) => Some(
                dms_db::SqliteWriter::start(&config.database_url, SQLITE_WRITE_BATCH)
                    .map_err(|e| e.to_string())?,
            ),
            _ => None,
        };
        let checkouts = {
            let pool = pool.clone();
            let writer = sqlite_writer
                .clone()
                .map(|w| membership::money::WriterCheckouts::new(w, CHECKOUT_BATCH));
            batch::Batcher::start(
                "dms-checkouts",
                CHECKOUT_THREADS,
                CHECKOUT_BATCH,
                move |works| membership::money::settle_checkouts(&pool, writer.as_ref(), works),
            )
            .map_err(|e| format!("cannot start the checkout threads: {e}"))?
        };
        Ok(AppState {
            sqlite_writer,
            checkouts,
            membership: membership::DomainState::new(&config.membership)?,
            crm: crm::DomainState::new(&config.crm)?,
            pool,
            throttle: LoginThrottle::new(std::time::Duration::from_secs(
                config.auth.login_window_secs,
            )),
            keys,
            code_sender,
            otp,
            routes: RouteTable::from_spec(&spec),
            spec_json: spec.to_pretty_json().map_err(|e| e.to_string())?,
            config,
        })
    }

    /// As [`AppState::db`], for a write on the payment hot path. On SQLite it goes through the
    /// group-commit writer: it shares one transaction, and one fsync, with the payments that
    /// arrived with it, and is answered once that transaction is committed. `f` must write
    /// through the domain crates' transactions (which become savepoints there), so that its
    /// failure undoes only its own work. On PostgreSQL, which commits concurrent transactions
    /// in parallel, it is [`AppState::db`].
    pub async fn db_write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        let Some(writer) = &self.sqlite_writer else {
            return self.db(f).await;
        };
        let (answer, answered) = futures_channel::oneshot::channel();
        let queued = writer.submit(Box::new(move |conn: &mut DbConnection| {
            let result = f(conn);
            Box::new(move |commit: Result<(), dms_db::DbError>| {
                let _ = answer.send(match commit {
                    Ok(()) => result,
                    // Nothing of the batch was saved: an error stays that error.
                    Err(e) => result.and(Err(ApiError::Unavailable(format!("{e}; try again")))),
                });
            }) as dms_db::Completion
        }));
        if !queued {
            return Err(ApiError::Unavailable("database writer stopped".into()));
        }
        answered
            .await
            .map_err(|_| ApiError::Unavailable("the write was not saved; try again".into()))?
    }

    /// Runs blocking database work on the blocking pool, with a pooled connection.
    pub async fn db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await?
    }
}

/// How many payments at most share one SQLite commit.
const SQLITE_WRITE_BATCH: usize = 32;

/// Threads settling checkout batches, each on its own pooled connection: while one waits for
/// the database, another gathers the next batch.
const CHECKOUT_THREADS: usize = 4;

/// How many checkouts at most share one transaction.
const CHECKOUT_BATCH: usize = 64;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "4S dealership management system API",
        version = "1",
        description = "One REST API for the staff web app, the service-desk card terminal, integrations and the owners' app.\n\n\
Authentication: `Authorization: Bearer <access token>` from `/api/v1/auth/login` (staff) or `/api/v1/auth/customer/login` (customers). \
Every endpoint's description names the permission it needs. Errors are `application/problem+json` with a stable `code` and the invalid `errors[].field`. \
Lists are cursor-paginated: pass `next_cursor` back as `cursor`. Money is a string with two decimals, e.g. `\"680.00\"`."
    ),
    modifiers(&SecurityAddon),
    components(schemas(dms_api_types::Problem, dms_api_types::FieldError))
)]
struct ApiDoc;

struct SecurityAddon;

impl utoipa::Modify for SecurityAddon {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        // The SMS gateway's delivery-receipt callback: the configured gateway key as a bearer
        // token, or an HMAC signature in X-Dms-Signature (described on the operation).
        components.add_security_scheme(
            "sms_gateway",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`[crm] sms_gateway_key`"))
                    .build(),
            ),
        );
    }
}

/// Every operation that reads a JSON body can also answer 400 (not JSON), 413 (too large), 415
/// (not `application/json`) and 422 (a field missing, unknown or invalid): the body extractor
/// does this for all of them, so it is documented here once rather than in each handler.
struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = |why: &str| {
            ResponseBuilder::new()
                .description(why)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            for op in [&mut item.post, &mut item.put, &mut item.patch]
                .into_iter()
                .flatten()
            {
                if op.request_body.is_none() {
                    continue;
                }
                for (code, why) in [
                    ("400", "Body is not valid JSON"),
                    ("413", "Body too large"),
                    ("415", "Body is not application/json"),
                    ("422", "A field is missing, unknown or invalid"),
                ] {
                    op.responses
                        .responses
                        .entry(code.to_string())
                        .or_insert_with(|| problem(why).into());
                }
            }
        }
    }
}

/// The role and status codes the API accepts, listed in the schema from the code that defines
/// them, so clients (and the fuzzer) know the valid values.
struct RoleCodes;

impl utoipa::Modify for RoleCodes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{Object, Schema};
        use utoipa::openapi::RefOr;
        let roles: Vec<&str> = dms_identity::Role::ALL.iter().map(|r| r.code()).collect();
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        let mut set_enum = |schema: &str, field: &str, values: &[&str]| {
            if let Some(RefOr::T(Schema::Object(obj))) = components.schemas.get_mut(schema) {
                if let Some(RefOr::T(Schema::Object(prop))) = obj.properties.get_mut(field) {
                    let mut with_enum: Object = prop.clone();
                    with_enum.enum_values = Some(values.iter().map(|v| (*v).into()).collect());
                    *prop = with_enum;
                }
            }
        };
        set_enum("RoleGrantDto", "role", &roles);
        set_enum("UpdateStaffRequest", "status", &["active", "disabled"]);
    }
}

fn api_v1(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    use routes::*;
    cfg.service(auth::login)
        .service(auth::refresh)
        .service(auth::logout)
        .service(auth::customer_code)
        .service(auth::customer_login)
        .service(auth::me)
        .service(org::list_roles)
        .service(org::list_stores)
        .service(org::create_store)
        .service(org::get_store)
        .service(org::update_store)
        .service(org::list_staff)
        .service(org::create_staff)
        .service(org::get_staff)
        .service(org::update_staff)
        .service(org::set_staff_roles)
        .service(org::reset_staff_password)
        .service(org::delete_staff)
        .service(org::list_audit)
        // Before `/customers/{id}`: actix takes the first match, and `/customers/search` is not
        // a customer id.
        .configure(crate::membership::configure)
        .configure(routes::devices::configure)
        .configure(crate::membership::bills::configure)
        .configure(crate::membership::top_up_requests::configure)
        .configure(crate::crm::configure)
        .service(customers::list_customers)
        .service(customers::create_customer)
        .service(customers::get_customer);
}

fn documented_app() -> utoipa_actix_web::UtoipaApp<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(routes::health::healthz)
        .service(routes::health::readyz)
        .service(utoipa_actix_web::scope("/api/v1").configure(api_v1))
}

/// The OpenAPI document, generated from the registered handlers: what is routed is what is
/// documented.
pub fn openapi() -> utoipa::openapi::OpenApi {
    use utoipa::Modify;
    let mut spec = documented_app().split_for_parts().1;
    // These look at the registered operations, which exist only once the app is assembled.
    CommonResponses.modify(&mut spec);
    RoleCodes.modify(&mut spec);
    spec
}

async fn request_id_mw(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // Keep a caller's id when it is short and plain, so a trace crosses systems.
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = next.call(req).await?;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    Ok(res)
}

async fn unmatched(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let path = req.path();
    if path.starts_with("/api/") || path == "/api" || path == "/healthz" || path == "/readyz" {
        let allowed = state.routes.methods_for(path);
        if allowed.is_empty() {
            return Err(ApiError::RouteNotFound);
        }
        return Err(ApiError::MethodNotAllowed(allowed));
    }
    // Everything else belongs to the web app, which routes in the browser.
    let index = state.config.web_root.join("index.html");
    match actix_files::NamedFile::open_async(&index).await {
        Ok(f)
            if req.method() == actix_web::http::Method::GET
                || req.method() == actix_web::http::Method::HEAD =>
        {
            Ok(f.into_response(&req))
        }
        Ok(_) => Err(ApiError::MethodNotAllowed(vec![
            "GET".into(),
            "HEAD".into(),
        ])),
        Err(_) => Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(docs::NO_WEB_APP_PAGE)),
    }
}

async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(state.spec_json.clone())
}

async fn api_docs(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'",
        ))
        .body(docs::reference_page(&state.spec_json))
}

/// The whole application: API, docs, web app, middleware.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let web_root = state.config.web_root.clone();
    let limit = state.config.max_body_bytes;
    let mut app = documented_app()
        .into_app()
        .app_data(state)
        .app_data(web::PayloadConfig::new(limit))
        .route("/api/openapi.json", web::get().to(openapi_json))
        .route("/api/docs", web::get().to(api_docs));
    if web_root.join("index.html").is_file() {
        app = app.service(
            actix_files::Files::new("/", web_root)
                .index_file("index.html")
                .guard(guard::fn_guard(|ctx| {
                    let m = ctx.head().method.clone();
                    let p = ctx.head().uri.path();
                    (m == actix_web::http::Method::GET || m == actix_web::http::Method::HEAD)
                        && !p.starts_with("/api")
                        && p != "/healthz"
                        && p != "/readyz"
                }))
                .default_handler(web::to(unmatched)),
        );
    }
    app.default_service(web::to(unmatched))
        .wrap(actix_web::middleware::from_fn(request_id_mw))
        .wrap(DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
        .wrap(Logger::new("%a \"%r\" %s %b %Dms rid=%{x-request-id}o"))
}
