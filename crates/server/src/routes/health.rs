use crate::error::ApiError;
use crate::AppState;
use actix_web::{get, web};
use dms_api_types::{Health, Problem, Readiness};

/// The process is up.
#[utoipa::path(
    tag = "health",
    description = "Liveness: the process answers. No authentication.",
    responses((status = 200, body = Health))
)]
#[get("/healthz")]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health {
        status: "ok".into(),
    })
}

/// The database answers.
#[utoipa::path(
    tag = "health",
    description = "Readiness: the database answers a query. No authentication.",
    responses(
        (status = 200, body = Readiness),
        (status = 503, description = "Database unreachable", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<web::Json<Readiness>, ApiError> {
    let engine = state
        .db(|c| {
            use diesel::RunQueryDsl;
            diesel::sql_query("SELECT 1")
                .execute(c)
                .map_err(|e| ApiError::Unavailable(e.to_string()))?;
            Ok(c.engine().name())
        })
        .await
        .map_err(|_| ApiError::Unavailable("database unreachable".into()))?;
    Ok(web::Json(Readiness {
        status: "ready".into(),
        database: engine.into(),
    }))
}
