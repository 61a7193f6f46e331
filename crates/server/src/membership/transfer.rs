//! Import of members and cards (CSV/XLSX upload, run as a job) and exports of members and of
//! the stored-value ledger. The rules are `dms_membership::import` / `export`; here are the
//! raw-file body (this route alone takes a non-JSON body, up to [`MAX_UPLOAD_BYTES`]), the
//! background thread, live progress and the file responses.

use super::dto::{body_id, opt_body_id, replayable};
use crate::auth::Staff;
use crate::error::{field_error, ApiError};
use crate::extract::{path_id, IdempotencyKey, QueryParams};
use crate::AppState;
use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use dms_api_types::member_import::{
    ExportFormat, ImportJobDto, ImportRowErrorDto, ImportSummaryDto, LedgerExportParams,
    MemberExportParams, MemberImportParams,
};
use dms_api_types::Problem;
use dms_core::{StoreScope, SystemClock};
use dms_db::from_db_time;
use dms_identity::Permission;
use dms_membership::export as ex;
use dms_membership::import as im;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Largest upload: a legacy export of 100,000 members is well below it.
pub const MAX_UPLOAD_BYTES: usize = 20 * 1024 * 1024;
/// Files with at most this many rows are imported before the answer (still as a job).
const SYNC_ROWS: usize = 2000;

pub const XLSX_TYPE: &str = dms_tabular::XLSX_TYPE;

/// Live progress of the jobs this process runs (the write transaction holds the database, so
/// the counts cannot go through it): job id → (phase, rows).
fn live() -> &'static Mutex<HashMap<String, (im::Phase, u64)>> {
    static LIVE: OnceLock<Mutex<HashMap<String, (im::Phase, u64)>>> = OnceLock::new();
    LIVE.get_or_init(Default::default)
}

fn set_live(id: &str, v: Option<(im::Phase, u64)>) {
    if let Ok(mut m) = live().lock() {
        match v {
            Some(v) => {
                m.insert(id.to_string(), v);
            }
            None => {
                m.remove(id);
            }
        }
    }
}

fn job_dto(j: im::ImportJob) -> ImportJobDto {
    let mut status = j.status;
    let mut processed = j.rows_processed;
    if matches!(status.as_str(), "validating" | "importing") {
        if let Some((phase, n)) = live().lock().ok().and_then(|m| m.get(&j.id).copied()) {
            status = match phase {
                im::Phase::Validating => "validating",
                im::Phase::Importing => "importing",
            }
            .to_string();
            processed = n as i64;
        }
    }
    ImportJobDto {
        id: j.id,
        store_id: j.store_id,
        file_format: j.file_format,
        status,
        rows_total: j.rows_total,
        rows_processed: processed,
        error_count: j.error_count,
        errors: j.errors.into_iter().map(row_error_dto).collect(),
        summary: j.summary.map(|s| ImportSummaryDto {
            members_created: s.members_created,
            customers_created: s.customers_created,
            customers_linked: s.customers_linked,
            cards_issued: s.cards_issued,
            principal_total: s.principal_total.to_string(),
            bonus_total: s.bonus_total.to_string(),
            tier_points_total: s.tier_points_total,
            redeemable_points_total: s.redeemable_points_total,
            ignored_columns: s.ignored_columns,
        }),
        created_at: from_db_time(j.created_at),
        updated_at: from_db_time(j.updated_at),
        finished_at: j.finished_at.map(from_db_time),
    }
}

fn row_error_dto(e: im::RowError) -> ImportRowErrorDto {
    ImportRowErrorDto {
        row: e.row,
        field: e.field,
        column: e.column,
        code: e.code,
        message: e.message,
    }
}

fn file_format(req: &HttpRequest) -> Result<im::FileFormat, ApiError> {
    let mime = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match mime.as_str() {
        "text/csv" | "application/csv" => Ok(im::FileFormat::Csv),
        XLSX_TYPE => Ok(im::FileFormat::Xlsx),
        _ => Err(ApiError::Rule {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "unsupported_media_type",
            title: "upload the file itself as text/csv or XLSX".into(),
            field: Some(field_error(
                "content-type",
                "unsupported_media_type",
                format!("send text/csv or {XLSX_TYPE}"),
            )),
        }),
    }
}

/// Reads the raw body up to [`MAX_UPLOAD_BYTES`] (this route is not bound by the JSON limit).
async fn read_upload(req: &HttpRequest, mut payload: web::Payload) -> Result<Vec<u8>, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_UPLOAD_BYTES) {
        return Err(ApiError::BodyTooLarge(MAX_UPLOAD_BYTES));
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(64 * 1024).min(MAX_UPLOAD_BYTES));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|_| ApiError::MalformedBody("could not read the uploaded file".into()))?;
        if body.len() + chunk.len() > MAX_UPLOAD_BYTES {
            return Err(ApiError::BodyTooLarge(MAX_UPLOAD_BYTES));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn file_errors(errors: Vec<im::RowError>) -> ApiError {
    ApiError::Validation(
        errors
            .into_iter()
            .map(|e| field_error(&e.field, &e.code, format!("row {}: {}", e.row, e.message)))
            .collect(),
    )
}

/// Runs the job on its own thread with its own connection; the thread records the outcome in
/// the job row whatever happens.
fn spawn_job(
    state: &web::Data<AppState>,
    actor: dms_identity::Actor,
    job_id: String,
    sheet: im::Sheet,
) -> std::thread::JoinHandle<()> {
    let pool = state.pool.clone();
    set_live(&job_id, Some((im::Phase::Validating, 0)));
    std::thread::spawn(move || {
        let progress = |phase: im::Phase, n: u64| set_live(&job_id, Some((phase, n)));
        let outcome = pool.get().map_err(|e| e.to_string()).and_then(|mut conn| {
            im::run_import_job(&mut conn, &actor, &SystemClock, &job_id, &sheet, &progress)
                .map_err(|e| e.to_string())
        });
        if let Err(e) = outcome {
            log::error!("member import {job_id} failed: {e}");
            if let Ok(mut conn) = pool.get() {
                let _ = im::fail_job(
                    &mut conn,
                    &SystemClock,
                    &job_id,
                    &[im::RowError {
                        row: 0,
                        field: "body".into(),
                        column: None,
                        code: "internal".into(),
                        message: "the import could not run; nothing was imported".into(),
                    }],
                );
            }
        }
        set_live(&job_id, None);
    })
}

/// Uploads members and cards to import.
#[utoipa::path(
    tag = "membership",
    description = "导入会员: the body is the file itself (`Content-Type: text/csv` (UTF-8 or GBK) or `application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`, first worksheet), at most 20 MB and 100,000 rows. One row is one card; rows with the same mobile number are one member holding several cards (姓名, 等级, 积分 and 等级积分 are the member's: they must agree across its rows or be empty, else a `member_mismatch` row error naming the field; the membership runs to the latest 到期日 of its cards). A customer who is already an active member of the target store receives the cards: their balances, the rows' points added to the member's, the tier (a different 等级 is a `tier_mismatch` error) and term unchanged; a member of another store is a `member_of_other_store` error. Columns (header row, Chinese or English): 姓名/name, 手机号/phone (required; an existing CRM customer with this mobile number is linked, else one is created and 姓名 is required), 卡号/card_no (required, unique), 芯片号/chip_uid, 等级/tier (code or name; empty: the lowest tier), 储值余额/principal, 赠送余额/bonus, 积分/redeemable_points, 等级积分 (消费积分)/tier_points, 到期日/expires_on (`YYYY-MM-DD`; card and membership expiry; empty: the programme's terms). Other columns are ignored and listed in the summary.\n\nThe answer is 202 with an import job; poll `GET /members/import/{id}`. Every row is validated first; any error fails the job with a per-row report (`errors`: row, field, code, message) and writes nothing. Otherwise every row to write is built first and then written in one short transaction (multi-row inserts, after re-checking that card numbers, chips and customers are still free): customers, members, cards, and opening balances and points as ledger transactions of kind `migration`. Files of up to 2000 rows are finished before the answer. A header or format problem is a 422 at once. Needs the `Idempotency-Key` header: a retry with the same key and file answers the same job (`Idempotent-Replayed: true`); the same key with another file is a 422 `idempotency_key_reused`.\n\n**Permission:** `membership.config` in the target store.",
    params(MemberImportParams, ("Idempotency-Key" = String, Header, description = "Once per upload, e.g. a UUID")),
    request_body(description = "The CSV or XLSX file", content(
        (String = "text/csv"),
        (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    )),
    security(("bearer" = [])),
    responses(
        (status = 202, body = ImportJobDto, headers(("Location" = String, description = "The job"), ("Idempotent-Replayed" = String, description = "`true` on a replayed answer"))),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such store among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "File larger than 20 MB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not text/csv or XLSX", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unreadable file, missing or duplicate column, no rows, missing Idempotency-Key, or the key was used for another file", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/members/import")]
pub async fn import_members(
    req: HttpRequest,
    state: web::Data<AppState>,
    staff: Staff,
    key: IdempotencyKey,
    q: QueryParams<MemberImportParams>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipConfig)?;
    let store_id = body_id("store_id", &q.0.store_id)?;
    if !scope.allows(&store_id) {
        return Err(ApiError::NotFound("store"));
    }
    let format = file_format(&req)?;
    let bytes = read_upload(&req, payload).await?;
    let actor = staff.actor();
    let job_actor = actor.clone();
    let sid = store_id.clone();
    let (job, sheet) = state
        .db(move |c| {
            let sheet = im::read_sheet(format, &bytes).map_err(file_errors)?;
            let fp = im::file_fingerprint(&sid, format, &bytes);
            let job = dms_membership::import::create_import_job(
                c,
                &actor,
                &scope,
                &SystemClock,
                &key.0,
                &im::NewImport {
                    store_id: &sid,
                    format,
                    fingerprint: &fp,
                    rows_total: sheet.rows.len() as i64,
                },
            )?;
            Ok((job, sheet))
        })
        .await?;
    let replayed = job.replayed;
    let mut value = job.value;
    if !replayed {
        let small = sheet.rows.len() <= SYNC_ROWS;
        let handle = spawn_job(&state, job_actor, value.id.clone(), sheet);
        if small {
            web::block(move || handle.join().is_ok()).await?;
        }
        let id = value.id.clone();
        value = state
            .db(move |c| Ok(im::get_import_job(c, &StoreScope::AllStores, &id)?))
            .await?;
    }
    let location = format!("/api/v1/members/import/{}", value.id);
    let mut res = replayable(
        StatusCode::ACCEPTED,
        dms_membership::Replayable { value, replayed },
        job_dto,
    );
    if let Ok(v) = header::HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// An import job's progress and outcome.
#[utoipa::path(
    tag = "membership",
    description = "Status (`validating`, `importing`, `done`, `failed`), rows total and processed, the per-row errors of a failed job and the summary of a done one. Live counts come from the server process running the job; another process sees the phase and the counts at each phase's end. A job left running by a server that stopped is marked `failed` when the server starts again (nothing of it was written).\n\n**Permission:** `membership.config` in the job's store.",
    params(("id" = String, Path, description = "Import job id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ImportJobDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job among the caller's stores", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/members/import/{id}")]
pub async fn import_job(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<ImportJobDto>, ApiError> {
    let scope = staff.require(Permission::MembershipConfig)?;
    let id = path_id(&id, "import job")?;
    let job = state
        .db(move |c| Ok(im::get_import_job(c, &scope, &id)?))
        .await?;
    Ok(web::Json(job_dto(job)))
}

/// A file the table writer could not write: ours to fix, an opaque 500.
fn file_error(e: dms_tabular::Error) -> ApiError {
    ApiError::Internal(e.to_string())
}

fn attachment(format: ExportFormat, stem: &str) -> (String, String) {
    let day = chrono::Utc::now().format("%Y%m%d");
    let kind = match format {
        ExportFormat::Csv => dms_tabular::FileKind::Csv,
        ExportFormat::Xlsx => dms_tabular::FileKind::Xlsx,
    };
    let name = format!("{stem}-{day}.{}", kind.extension());
    (
        kind.content_type().to_string(),
        dms_tabular::attachment(&name, None),
    )
}

type PageFn = dyn Fn(
        &mut dms_db::DbConnection,
        Option<&str>,
    ) -> dms_membership::Result<(Vec<ex::Row>, Option<String>)>
    + Send
    + Sync;

/// Sends a table: CSV streamed page by page (the first page is read before the answer starts,
/// so a bad filter is still a problem response), XLSX built page by page in constant memory.
async fn send_table(
    state: web::Data<AppState>,
    format: ExportFormat,
    stem: &str,
    sheet_name: &'static str,
    headers: Vec<&'static str>,
    page: std::sync::Arc<PageFn>,
) -> Result<HttpResponse, ApiError> {
    let (content_type, disposition) = attachment(format, stem);
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CONTENT_DISPOSITION, disposition))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    match format {
        ExportFormat::Xlsx => {
            let bytes = state
                .db(move |c| {
                    let mut out =
                        dms_tabular::XlsxSheet::new(sheet_name, &headers).map_err(file_error)?;
                    let mut after: Option<String> = None;
                    loop {
                        let (rows, next) = page(c, after.as_deref())?;
                        out.push(&rows).map_err(file_error)?;
                        match next {
                            Some(n) => after = Some(n),
                            None => break,
                        }
                    }
                    out.finish().map_err(file_error)
                })
                .await?;
            Ok(res.body(bytes))
        }
        ExportFormat::Csv => {
            let p = page.clone();
            let (first, next) = state
                .db(move |c| {
                    let (rows, next) = p(c, None)?;
                    let mut bytes = dms_tabular::csv_header(&headers).map_err(file_error)?;
                    bytes.extend(dms_tabular::csv_rows(&rows).map_err(file_error)?);
                    Ok((bytes, next))
                })
                .await?;
            let pool = state.pool.clone();
            let rest = futures_util::stream::unfold(next, move |cursor| {
                let pool = pool.clone();
                let page = page.clone();
                async move {
                    let after = cursor?;
                    let r = web::block(move || -> Result<_, ApiError> {
                        let mut c = pool.get()?;
                        let (rows, next) = page(&mut c, Some(&after))?;
                        Ok((dms_tabular::csv_rows(&rows).map_err(file_error)?, next))
                    })
                    .await;
                    match r {
                        Ok(Ok((bytes, next))) => Some((Ok(web::Bytes::from(bytes)), next)),
                        Ok(Err(e)) => {
                            log::error!("export stopped: {e}");
                            Some((Err(e), None))
                        }
                        Err(e) => Some((Err(ApiError::from(e)), None)),
                    }
                }
            });
            let body =
                futures_util::stream::once(
                    async move { Ok::<_, ApiError>(web::Bytes::from(first)) },
                )
                .chain(rest);
            Ok(res.streaming(body))
        }
    }
}

/// Exports members with their cards, balances and points.
#[utoipa::path(
    tag = "membership",
    description = "导出会员: one row per live card (a member without a card gets one row without card columns; closed and replaced cards are left out, their balance having been refunded or moved). The first ten columns are the import's (姓名, 手机号, 卡号, 芯片号, 等级, 储值余额, 赠送余额, 积分, 等级积分, 到期日), so the file imports into another store or system; then 等级名称, 会员状态, 卡状态, 入会日期, 会籍到期, 门店, 会员编号. Dates are Beijing days. `format=xlsx` (default) or `csv` (UTF-8 with BOM, streamed). Card numbers and phones are masked (`8800********1234`, `138****5678`) and chip UIDs left out unless the caller holds `membership.config` for every exported store.\n\n**Permission:** `membership.read` (the caller's stores; `store_id` narrows to one).",
    params(MemberExportParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The file", content(
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (String = "text/csv")
        )),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such store among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameter", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/members/export")]
pub async fn export_members(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<MemberExportParams>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipRead)?;
    let q = q.0;
    let store_id = opt_body_id("store_id", q.store_id.as_ref())?;
    let config = staff.principal.scope(Permission::MembershipConfig);
    let full_numbers = match &store_id {
        Some(s) => config.allows(s),
        // Every store the export covers.
        None => match (&config, &scope) {
            (StoreScope::AllStores, _) => true,
            (StoreScope::Stores(c), StoreScope::Stores(r)) => r.iter().all(|s| c.contains(s)),
            (StoreScope::Stores(_), StoreScope::AllStores) => false,
        },
    };
    let filter = ex::MemberExportFilter {
        store_id,
        tier: q.tier,
        full_numbers,
    };
    let page: std::sync::Arc<PageFn> =
        std::sync::Arc::new(move |c, after| ex::member_export_page(c, &scope, &filter, after));
    send_table(
        state,
        q.format.unwrap_or_default(),
        "members",
        "会员",
        ex::member_headers(),
        page,
    )
    .await
}

/// Stores where the caller holds both permissions.
fn both(staff: &Staff, a: Permission, b: Permission) -> Result<StoreScope, ApiError> {
    let x = staff.require(a)?;
    let y = staff.require(b)?;
    let scope = match (x, y) {
        (StoreScope::AllStores, s) | (s, StoreScope::AllStores) => s,
        (StoreScope::Stores(a), StoreScope::Stores(b)) => {
            StoreScope::Stores(a.into_iter().filter(|s| b.contains(s)).collect())
        }
    };
    if scope.is_empty() {
        return Err(ApiError::Forbidden(format!(
            "requires permissions {a} and {b} in the same store"
        )));
    }
    Ok(scope)
}

/// Exports the stored-value ledger.
#[utoipa::path(
    tag = "membership",
    description = "导出储值流水: every stored-value transaction in the period, oldest first: 时间 (Beijing time), 门店, 卡号 (always masked), 类型 (充值, 会员消费, 消费冲正, 换卡转移, 退卡退款, 赠送过期, 旧系统迁移...), 金额, 本金变动, 赠送变动, 余额变动 (the card's own change), 支付方式, 操作人, 终端, 消费单号 (the checkout, also on its void), 冲正交易, 备注, 交易编号. `from`/`to` are Beijing days, both included. `format=xlsx` (default) or `csv` (streamed).\n\n**Permission:** `membership.read` and `reports.read`, in the same store (the ledger is a financial report).",
    params(LedgerExportParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The file", content(
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (String = "text/csv")
        )),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks a permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such store among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameter, or `from` after `to`", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/ledger/export")]
pub async fn export_ledger(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<LedgerExportParams>,
) -> Result<HttpResponse, ApiError> {
    let scope = both(&staff, Permission::MembershipRead, Permission::ReportsRead)?;
    let q = q.0;
    let filter = ex::LedgerExportFilter {
        from: q.from,
        to: q.to,
        store_id: opt_body_id("store_id", q.store_id.as_ref())?,
    };
    if let (Some(f), Some(t)) = (filter.from, filter.to) {
        if f > t {
            return Err(ApiError::invalid("from", "invalid_range", "after `to`"));
        }
    }
    let page: std::sync::Arc<PageFn> =
        std::sync::Arc::new(move |c, after| ex::ledger_export_page(c, &scope, &filter, after));
    send_table(
        state,
        q.format.unwrap_or_default(),
        "ledger",
        "储值流水",
        ex::ledger_headers(),
        page,
    )
    .await
}

/// Fails the jobs a stopped server left running (see [`im::fail_interrupted_jobs`]).
pub fn fail_interrupted(pool: &dms_db::DbPool) {
    match pool.get() {
        Ok(mut conn) => match im::fail_interrupted_jobs(&mut conn, &SystemClock) {
            Ok(0) => {}
            Ok(n) => log::warn!("{n} member import job(s) interrupted by a restart marked failed"),
            Err(e) => log::error!("member import jobs: {e}"),
        },
        Err(e) => log::error!("member import jobs: {e}"),
    }
}

/// Registered before `/members/{id}`: actix takes the first match, and `export` is no id.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(import_members)
        .service(import_job)
        .service(export_members)
        .service(export_ledger);
}
