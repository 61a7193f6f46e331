//! The member club's statistics (会员统计) as JSON and as a file (Excel or CSV).

use super::dto::opt_body_id;
use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::AppState;
use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use chrono::NaiveDate;
use dms_api_types::membership::{
    CategoryStatisticsDto, DayStatisticsDto, PeriodStatisticsDto, StatisticsDto,
    StatisticsExportFormat, StatisticsExportParams, StatisticsGranularity, StatisticsParams,
    StatisticsReportDto, StoreStatisticsDto, TierStatisticsDto,
};
use dms_api_types::Problem;
use dms_core::StoreScope;
use dms_identity::Permission;
use dms_membership::statistics::{
    statistics_report, ClubStatistics, Granularity, StatisticsQuery, StatisticsReport,
};
use dms_tabular::{attachment, Cell, FileKind, Report, Table};
use std::collections::HashMap;

fn union(a: StoreScope, b: StoreScope) -> StoreScope {
    match (a, b) {
        (StoreScope::AllStores, _) | (_, StoreScope::AllStores) => StoreScope::AllStores,
        (StoreScope::Stores(mut x), StoreScope::Stores(y)) => {
            for s in y {
                if !x.contains(&s) {
                    x.push(s);
                }
            }
            StoreScope::Stores(x)
        }
    }
}

/// The stores the caller may report on (`membership.read` or `reports.read`), narrowed to
/// `store_id` when given.
fn report_scope(staff: &Staff, store_id: Option<&String>) -> Result<StoreScope, ApiError> {
    let scope = union(
        staff.principal.scope(Permission::MembershipRead),
        staff.principal.scope(Permission::ReportsRead),
    );
    if scope.is_empty() {
        return Err(ApiError::Forbidden(format!(
            "requires permission {} or {}",
            Permission::MembershipRead,
            Permission::ReportsRead
        )));
    }
    let store = opt_body_id("store_id", store_id)?;
    let scope = scope.narrowed_to(store.as_deref());
    if scope.is_empty() {
        return Err(ApiError::NotFound("store"));
    }
    Ok(scope)
}

fn query(
    from: NaiveDate,
    to: NaiveDate,
    tier: Option<String>,
    granularity: StatisticsGranularity,
) -> Result<StatisticsQuery, ApiError> {
    if to <= from || (to - from).num_days() > 366 {
        return Err(ApiError::invalid(
            "to",
            "invalid_range",
            "after from, at most 366 days",
        ));
    }
    if let Some(t) = &tier {
        if !t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ApiError::invalid(
                "tier",
                "invalid",
                "a tier code (letters, digits, - and _)",
            ));
        }
    }
    Ok(StatisticsQuery {
        from,
        to,
        tier,
        granularity: match granularity {
            StatisticsGranularity::Day => Granularity::Day,
            StatisticsGranularity::Month => Granularity::Month,
        },
    })
}

fn stats_dto(s: &ClubStatistics) -> StatisticsDto {
    super::dto::stats_dto(s.clone())
}

/// Member club statistics for a period.
#[utoipa::path(
    tag = "membership",
    description = "Top-ups, bonus, stored-value consumption, refunds, checkouts (transactions and member consumption), cards issued, points, gift redemptions and coupon use for `[from, to)` (UTC days, at most 366): in total, per store (`by_store`), per day or month (`by_period`, `granularity=day|month`, default month; every period listed, zeros included; `by_day=true` or `granularity=day` also fills `by_day`), per member tier at the time of each movement (`by_tier`; a checkout counts at the tier it was priced at), and consumption per category of the completed checkouts' lines (`by_category`). `store_id` narrows to one of the caller's stores, `tier` to the movements of members then in that tier. Every breakdown sums to `total`, and the money figures are sums of the ledgers' entries, so they reconcile with them exactly. The same figures as a file: `GET /membership/statistics/export`.\n\n**Permission:** `membership.read` or `reports.read` (the stores where the caller holds either).",
    params(StatisticsParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = StatisticsReportDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such store among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid dates (`to` not after `from`, more than 366 days), store id, tier or granularity", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/membership/statistics")]
pub async fn statistics(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<StatisticsParams>,
) -> Result<web::Json<StatisticsReportDto>, ApiError> {
    let q = q.0;
    let granularity = if q.by_day {
        StatisticsGranularity::Day
    } else {
        q.granularity.unwrap_or_default()
    };
    let query = query(q.from, q.to, q.tier.clone(), granularity)?;
    let scope = report_scope(&staff, q.store_id.as_ref())?;
    let r = state
        .db(move |c| Ok(statistics_report(c, &scope, &query)?))
        .await?;
    let by_day = if granularity == StatisticsGranularity::Day {
        r.by_period
            .iter()
            .filter_map(|(p, s)| {
                NaiveDate::parse_from_str(p, "%Y-%m-%d")
                    .ok()
                    .map(|day| DayStatisticsDto {
                        day,
                        statistics: stats_dto(s),
                    })
            })
            .collect()
    } else {
        vec![]
    };
    Ok(web::Json(StatisticsReportDto {
        from: q.from,
        to: q.to,
        granularity,
        total: stats_dto(&r.total),
        by_store: r
            .by_store
            .iter()
            .map(|(store_id, s)| StoreStatisticsDto {
                store_id: store_id.clone(),
                statistics: stats_dto(s),
            })
            .collect(),
        by_day,
        by_period: r
            .by_period
            .iter()
            .map(|(period, s)| PeriodStatisticsDto {
                period: period.clone(),
                statistics: stats_dto(s),
            })
            .collect(),
        by_tier: r
            .by_tier
            .iter()
            .map(|(tier_code, s)| TierStatisticsDto {
                tier_code: tier_code.clone(),
                statistics: stats_dto(s),
            })
            .collect(),
        by_category: r
            .by_category
            .iter()
            .map(|c| CategoryStatisticsDto {
                category: c.category.clone(),
                lines: c.lines,
                gross: c.gross.to_string(),
                net: c.net.to_string(),
            })
            .collect(),
    }))
}

/// The columns of every table but the categories': header and value of one row.
const HEADERS: [&str; 14] = [
    "充值金额",
    "充值赠送",
    "储值消费",
    "退卡退款",
    "赠送作废",
    "消费笔数",
    "作废笔数",
    "消费金额",
    "发卡数",
    "获得积分",
    "使用积分",
    "礼品兑换次数",
    "礼品兑换积分",
    "用券数",
];

fn values(s: &ClubStatistics) -> Vec<Cell> {
    vec![
        Cell::Money(s.topped_up),
        Cell::Money(s.bonus_granted),
        Cell::Money(s.consumed),
        Cell::Money(s.refunded),
        Cell::Money(s.bonus_forfeited),
        Cell::Int(s.checkouts),
        Cell::Int(s.checkouts_voided),
        Cell::Money(s.checkout_total),
        Cell::Int(s.cards_issued),
        Cell::Int(s.points_earned),
        Cell::Int(s.points_redeemed),
        Cell::Int(s.gift_redemptions),
        Cell::Int(s.gift_points),
        Cell::Int(s.coupons_used),
    ]
}

fn category_name(code: &str) -> &str {
    match code {
        "labour" => "工时费",
        "parts" => "配件费",
        "accessories" => "精品",
        "detailing" => "美容",
        "modification" => "改装",
        "vehicle" => "整车",
        "other" => "其他",
        other => other,
    }
}

/// The report as tables with Chinese headers: summary, per store, per period, per tier,
/// per category.
fn tables(
    r: &StatisticsReport,
    stores: &HashMap<String, String>,
    tiers: &HashMap<String, String>,
    granularity: StatisticsGranularity,
) -> Vec<Table> {
    let with = |first: Vec<&'static str>| {
        let mut h = first;
        h.extend(HEADERS);
        h
    };
    let row = |mut first: Vec<Cell>, s: &ClubStatistics| {
        first.extend(values(s));
        first
    };
    let name = |m: &HashMap<String, String>, k: &str| m.get(k).cloned().unwrap_or_default();
    vec![
        Table {
            title: "汇总".to_string(),
            headers: strings(with(vec!["范围"])),
            rows: vec![row(vec![Cell::Text("合计".into())], &r.total)],
        },
        Table {
            title: "按门店".to_string(),
            headers: strings(with(vec!["门店编号", "门店名称"])),
            rows: r
                .by_store
                .iter()
                .map(|(id, s)| {
                    row(
                        vec![Cell::Text(id.clone()), Cell::Text(name(stores, id))],
                        s,
                    )
                })
                .collect(),
        },
        Table {
            title: (if granularity == StatisticsGranularity::Day {
                "按日"
            } else {
                "按月"
            })
            .to_string(),
            headers: strings(with(vec![if granularity == StatisticsGranularity::Day {
                "日期"
            } else {
                "月份"
            }])),
            rows: r
                .by_period
                .iter()
                .map(|(p, s)| row(vec![Cell::Text(p.clone())], s))
                .collect(),
        },
        Table {
            title: "按等级".to_string(),
            headers: strings(with(vec!["等级代码", "等级名称"])),
            rows: r
                .by_tier
                .iter()
                .map(|(code, s)| {
                    row(
                        vec![Cell::Text(code.clone()), Cell::Text(name(tiers, code))],
                        s,
                    )
                })
                .collect(),
        },
        Table {
            title: "按消费类别".to_string(),
            headers: strings(vec!["类别代码", "类别", "明细行数", "原价金额", "消费金额"]),
            rows: r
                .by_category
                .iter()
                .map(|c| {
                    vec![
                        Cell::Text(c.category.clone()),
                        Cell::Text(category_name(&c.category).to_string()),
                        Cell::Int(c.lines),
                        Cell::Money(c.gross),
                        Cell::Money(c.net),
                    ]
                })
                .collect(),
        },
    ]
}

fn strings(headers: Vec<&str>) -> Vec<String> {
    headers.into_iter().map(str::to_string).collect()
}

/// The member club statistics as an Excel workbook or CSV file.
#[utoipa::path(
    tag = "membership",
    description = "The figures of `GET /membership/statistics` for the same parameters as a file, with Chinese headers and the stores' and tiers' names: `format=xlsx` (default; sheets 汇总, 按门店, 按日 or 按月, 按等级, 按消费类别; money as numbers with two decimals) or `format=csv` (UTF-8 with a byte-order mark; the same tables one after the other, each under a `【title】` row). The file is named after the first and last day covered: `Content-Disposition: attachment; filename=\"member-statistics_<from>_<last day>.xlsx\"` (and the Chinese name in `filename*`).\n\n**Permission:** `membership.read` or `reports.read` (the stores where the caller holds either).",
    params(StatisticsExportParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The file", content(
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (String = "text/csv")
        )),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such store among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid dates, store id, tier, granularity or format", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/membership/statistics/export")]
pub async fn export(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<StatisticsExportParams>,
) -> Result<HttpResponse, ApiError> {
    let q = q.0;
    let granularity = q.granularity.unwrap_or_default();
    let kind = match q.format.unwrap_or_default() {
        StatisticsExportFormat::Xlsx => FileKind::Xlsx,
        StatisticsExportFormat::Csv => FileKind::Csv,
    };
    let query = query(q.from, q.to, q.tier.clone(), granularity)?;
    let scope = report_scope(&staff, q.store_id.as_ref())?;
    let (from, to) = (q.from, q.to);
    let last_day = to.pred_opt().unwrap_or(to);
    let title = format!(
        "会员统计 {from} 至 {last_day}{}{}",
        q.store_id
            .as_ref()
            .map(|s| format!(" 门店 {s}"))
            .unwrap_or_default(),
        q.tier
            .as_ref()
            .map(|t| format!(" 等级 {t}"))
            .unwrap_or_default()
    );
    let bytes = state
        .db(move |c| {
            let r = statistics_report(c, &scope, &query)?;
            let stores = store_names(c)?;
            let tiers: HashMap<String, String> = dms_membership::group_config(c)?
                .tiers
                .into_iter()
                .map(|t| (t.code, t.name))
                .collect();
            let report = Report {
                title: Some(title),
                tables: tables(&r, &stores, &tiers, granularity),
            };
            report
                .write(kind)
                .map_err(|e| ApiError::Internal(e.to_string()))
        })
        .await?;
    let ext = kind.extension();
    let name = format!("member-statistics_{from}_{last_day}.{ext}");
    let cn = format!("会员统计_{from}_{last_day}.{ext}");
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, kind.content_type()))
        .insert_header((header::CONTENT_DISPOSITION, attachment(&name, Some(&cn))))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(bytes))
}

fn store_names(
    c: &mut dms_db::DbConnection,
) -> Result<HashMap<String, String>, dms_membership::MembershipError> {
    use diesel::prelude::*;
    use dms_db::schema::stores;
    let rows: Vec<(String, String)> = stores::table.select((stores::id, stores::name)).load(c)?;
    Ok(rows.into_iter().collect())
}
