//! The CRM statistics as a file (Excel or CSV) for managers and the web app's download button.

use super::dto::*;
use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::AppState;
use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use chrono::Utc;
use dms_api_types::crm::*;
use dms_api_types::Problem;
use dms_identity::Permission;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(export_statistics);
}

/// The CRM statistics as an Excel workbook or CSV file.
#[utoipa::path(
    tag = "care",
    description = "The figures of `GET /crm/statistics` for `[from, to)`, plus the reasons for not returning, the messages sent per template and \
satisfaction (CSAT/NPS) by store, service advisor and sales consultant, with Chinese headers and the names of stores and staff. \
`format=xlsx` (default; one sheet per table: 概要, 回访统计, 未回厂原因, 消息发送, 线索转化(按级别), 线索转化(按顾问), 投诉统计, 满意度) or \
`format=csv` (UTF-8 with a byte-order mark; the same tables one after the other, each under a `【title】` row). `store_id` narrows the \
report to one of the caller's stores. The file is named after the first and last day covered: \
`Content-Disposition: attachment; filename=\"crm-statistics_<from>_<last day>.xlsx\"`.\n\n**Permission:** `reports.read` (as `/crm/statistics`), \
in the store when `store_id` is given.",
    params(CrmExportParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The file", content(
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (String = "text/csv")
        )),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such store among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid period, store id or format", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/crm/statistics/export")]
pub async fn export_statistics(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<CrmExportParams>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::ReportsRead)?;
    let p = q.0;
    if p.to <= p.from {
        return Err(ApiError::invalid("to", "invalid", "must be after from"));
    }
    if (p.to - p.from).num_days() > 3700 {
        return Err(ApiError::invalid("to", "invalid", "at most ten years"));
    }
    let csv = match p.format.as_deref() {
        None | Some("xlsx") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::invalid("format", "invalid", "xlsx or csv")),
    };
    let store = opt_body_id(&p.store_id, "store_id")?;
    let (from, to) = (p.from, p.to);
    let (bytes, last_day) = state
        .db(move |c| {
            let r = dms_crm::crm_report(c, &scope, store.as_deref(), from, to, Utc::now())?;
            let bytes = if csv {
                dms_crm::report_csv(&r)?
            } else {
                dms_crm::report_xlsx(&r)?
            };
            Ok((bytes, r.last_day()))
        })
        .await?;
    let kind = if csv {
        dms_tabular::FileKind::Csv
    } else {
        dms_tabular::FileKind::Xlsx
    };
    // ASCII file name (every browser), and the Chinese one for those that read RFC 6266's
    // `filename*`.
    let ext = kind.extension();
    let name = format!("crm-statistics_{from}_{last_day}.{ext}");
    let cn = format!("CRM统计_{from}_{last_day}.{ext}");
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, kind.content_type()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            dms_tabular::attachment(&name, Some(&cn)),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(bytes))
}
