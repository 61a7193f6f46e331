//! The CRM's statistics as a file for managers: an Excel workbook (one sheet per table) or a
//! CSV (the same tables one after the other), with Chinese headers and labels, and the names
//! of stores and staff instead of their ids.

use crate::care::{care_stats, CareStats};
use crate::complaints::{complaint_stats, ComplaintStats};
use crate::leads::{lead_conversion, ConversionRow};
use crate::outbox::{message_stats, MessageStats};
use crate::surveys::{satisfaction, SatisfactionBy, SatisfactionRow};
use crate::{CrmError, Result};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::prelude::*;
use dms_core::StoreScope;
use dms_db::schema::{staff_users, stores};
use dms_db::DbConnection;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Everything `GET /crm/statistics` shows, plus satisfaction and messages, for one period.
#[derive(Debug, Clone)]
pub struct CrmReport {
    pub from: NaiveDate,
    /// Exclusive.
    pub to: NaiveDate,
    /// The one store the report is narrowed to: (id, name).
    pub store: Option<(String, String)>,
    pub generated_at: DateTime<Utc>,
    pub care: BTreeMap<String, CareStats>,
    pub messages: BTreeMap<String, MessageStats>,
    pub leads_by_grade: Vec<ConversionRow>,
    pub leads_by_consultant: Vec<ConversionRow>,
    pub complaints: ComplaintStats,
    pub satisfaction_by_store: Vec<SatisfactionRow>,
    pub satisfaction_by_advisor: Vec<SatisfactionRow>,
    pub satisfaction_by_consultant: Vec<SatisfactionRow>,
    /// Display names of the stores and staff the tables mention, by id.
    pub names: HashMap<String, String>,
}

/// Gathers the report for `[from, to)` within `scope`, narrowed to `store_id` when given (a
/// store outside the scope, or unknown, is `NotFound`).
pub fn crm_report(
    conn: &mut DbConnection,
    scope: &StoreScope,
    store_id: Option<&str>,
    from: NaiveDate,
    to: NaiveDate,
    now: DateTime<Utc>,
) -> Result<CrmReport> {
    if to <= from {
        return Err(CrmError::invalid("to", "must be after from"));
    }
    let store = match store_id {
        None => None,
        Some(id) => {
            if !scope.allows(id) {
                return Err(CrmError::NotFound("store"));
            }
            let name: Option<String> = stores::table
                .find(id)
                .select(stores::name)
                .first(conn)
                .optional()?;
            Some((id.to_string(), name.ok_or(CrmError::NotFound("store"))?))
        }
    };
    let scope = scope.narrowed_to(store_id);
    let care = care_stats(conn, &scope, from, to)?;
    let messages = message_stats(conn, &scope, from, to)?;
    let (leads_by_grade, leads_by_consultant) = lead_conversion(conn, &scope, from, to)?;
    let complaints = complaint_stats(conn, &scope, from, to)?;
    let satisfaction_by_store = satisfaction(conn, &scope, from, to, SatisfactionBy::Store)?;
    let satisfaction_by_advisor = satisfaction(conn, &scope, from, to, SatisfactionBy::Advisor)?;
    let satisfaction_by_consultant =
        satisfaction(conn, &scope, from, to, SatisfactionBy::Consultant)?;

    let store_ids: BTreeSet<&str> = satisfaction_by_store
        .iter()
        .map(|r| r.key.as_str())
        .collect();
    let staff_ids: BTreeSet<&str> = leads_by_consultant
        .iter()
        .map(|r| r.key.as_str())
        .chain(satisfaction_by_advisor.iter().map(|r| r.key.as_str()))
        .chain(satisfaction_by_consultant.iter().map(|r| r.key.as_str()))
        .filter(|k| !k.is_empty())
        .collect();
    let mut names: HashMap<String, String> = HashMap::new();
    for chunk in store_ids.into_iter().collect::<Vec<_>>().chunks(500) {
        let rows: Vec<(String, String)> = stores::table
            .filter(stores::id.eq_any(chunk))
            .select((stores::id, stores::name))
            .load(conn)?;
        names.extend(rows);
    }
    for chunk in staff_ids.into_iter().collect::<Vec<_>>().chunks(500) {
        let rows: Vec<(String, String)> = staff_users::table
            .filter(staff_users::id.eq_any(chunk))
            .select((staff_users::id, staff_users::display_name))
            .load(conn)?;
        names.extend(rows);
    }
    if let Some((id, name)) = &store {
        names.insert(id.clone(), name.clone());
    }
    Ok(CrmReport {
        from,
        to,
        store,
        generated_at: now,
        care,
        messages,
        leads_by_grade,
        leads_by_consultant,
        complaints,
        satisfaction_by_store,
        satisfaction_by_advisor,
        satisfaction_by_consultant,
        names,
    })
}

/// The Chinese name of a care rule (the task's `rule`).
pub fn care_rule_label(rule: &str) -> String {
    match rule {
        "delivery_thanks" => "交车24小时感谢回访",
        "delivery_call" => "交车后回访",
        "periodic_call" => "定期关怀回访",
        "after_service_call" => "维修保养后回访",
        "first_service" => "首保提醒",
        "maintenance" => "定期保养提醒",
        "insurance_renewal" => "续保提醒",
        "annual_inspection" => "年审提醒",
        "birthday" => "生日祝福",
        "membership_expiry" => "会员到期提醒",
        "segment" => "客户分群任务",
        "manual" => "人工任务",
        other => other,
    }
    .to_string()
}

/// The Chinese wording of a reason for not coming back (`refusal_reason`).
pub fn refusal_label(code: &str) -> String {
    match code {
        "serviced_elsewhere" => "已在别处保养".to_string(),
        "too_expensive" => "价格太高".to_string(),
        "too_far" => "距离太远".to_string(),
        "car_sold" => "车辆已售".to_string(),
        "moved" => "客户已迁出".to_string(),
        other => match other.strip_prefix("other:") {
            Some(t) => format!("其他: {t}"),
            None => other.to_string(),
        },
    }
}

fn template_label(code: &str) -> String {
    match code {
        "insurance_renewal" => "续保提醒",
        "maintenance_due" => "保养提醒",
        "annual_inspection" => "年审提醒",
        "birthday" => "生日祝福",
        "promotion" => "促销活动",
        "survey_invite" => "满意度调查邀请(邮件)",
        "survey_invite_sms" => "满意度调查邀请(短信)",
        other => other,
    }
    .to_string()
}

fn category_label(code: &str) -> String {
    match code {
        "service_quality" => "服务质量",
        "repair_quality" => "维修质量",
        "price" => "价格",
        "waiting_time" => "等待时间",
        "parts" => "配件",
        "sales" => "销售",
        "attitude" => "服务态度",
        "other" => "其他",
        other => other,
    }
    .to_string()
}

fn severity_label(code: &str) -> String {
    match code {
        "low" => "低",
        "normal" => "一般",
        "high" => "高",
        "critical" => "严重",
        other => other,
    }
    .to_string()
}

/// The cells and tables of the export are the shared writer's.
pub use dms_tabular::{Cell, Table};

fn t(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn pct(part: i64, whole: i64) -> Cell {
    Cell::Decimal((whole > 0).then(|| part as f64 * 100.0 / whole as f64))
}

impl CrmReport {
    fn name(&self, id: &str) -> String {
        if id.is_empty() {
            return "(未分配)".into();
        }
        self.names
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    /// The last day the report covers (`to` is exclusive).
    pub fn last_day(&self) -> NaiveDate {
        self.to - Duration::days(1)
    }

    /// The report's tables, in the order they are exported.
    pub fn tables(&self) -> Vec<Table> {
        let mut out = Vec::new();
        out.push(Table::new(
            "概要",
            &["项目", "内容"],
            vec![
                vec![t("报表"), t("客户关系(CRM)统计")],
                vec![t("开始日期"), t(self.from.to_string())],
                vec![t("结束日期"), t(self.last_day().to_string())],
                vec![
                    t("门店"),
                    t(self
                        .store
                        .as_ref()
                        .map_or_else(|| "全部(权限内)".to_string(), |s| s.1.clone())),
                ],
                vec![
                    t("生成时间(UTC)"),
                    t(self.generated_at.format("%Y-%m-%d %H:%M:%S").to_string()),
                ],
            ],
        ));
        out.push(Table::new(
            "回访统计",
            &[
                "回访规则",
                "应回访数",
                "已联系",
                "联系率(%)",
                "预约数",
                "预约率(%)",
                "拒绝数",
            ],
            self.care
                .iter()
                .map(|(rule, s)| {
                    vec![
                        t(care_rule_label(rule)),
                        Cell::Int(s.due),
                        Cell::Int(s.contacted),
                        pct(s.contacted, s.due),
                        Cell::Int(s.appointments),
                        pct(s.appointments, s.due),
                        Cell::Int(s.refusals.values().sum()),
                    ]
                })
                .collect(),
        ));
        out.push(Table::new(
            "未回厂原因",
            &["回访规则", "原因", "次数"],
            self.care
                .iter()
                .flat_map(|(rule, s)| {
                    s.refusals.iter().map(move |(reason, n)| {
                        vec![
                            t(care_rule_label(rule)),
                            t(refusal_label(reason)),
                            Cell::Int(*n),
                        ]
                    })
                })
                .collect(),
        ));
        out.push(Table::new(
            "消息发送",
            &[
                "消息模板",
                "待发送",
                "已发送",
                "已送达",
                "发送失败",
                "未发送(无授权/退订/无号码)",
            ],
            self.messages
                .iter()
                .map(|(code, m)| {
                    vec![
                        t(template_label(code)),
                        Cell::Int(m.queued),
                        Cell::Int(m.sent),
                        Cell::Int(m.delivered),
                        Cell::Int(m.failed),
                        Cell::Int(m.suppressed),
                    ]
                })
                .collect(),
        ));
        let conv = |rows: &[ConversionRow], key: &dyn Fn(&str) -> String| {
            rows.iter()
                .map(|r| {
                    vec![
                        t(key(&r.key)),
                        Cell::Int(r.leads),
                        Cell::Int(r.converted),
                        Cell::Int(r.lost),
                        pct(r.converted, r.leads),
                    ]
                })
                .collect::<Vec<_>>()
        };
        out.push(Table::new(
            "线索转化(按级别)",
            &["意向级别", "线索数", "成交", "战败", "成交率(%)"],
            conv(&self.leads_by_grade, &|k| format!("{k}级")),
        ));
        out.push(Table::new(
            "线索转化(按顾问)",
            &["销售顾问", "线索数", "成交", "战败", "成交率(%)"],
            conv(&self.leads_by_consultant, &|k| self.name(k)),
        ));
        let c = &self.complaints;
        let mut rows: Vec<Vec<Cell>> = vec![
            vec![
                t("合计"),
                t("投诉数"),
                Cell::Int(c.by_category.values().sum()),
            ],
            vec![t("合计"), t("已解决"), Cell::Int(c.resolved)],
            vec![t("合计"), t("已升级"), Cell::Int(c.escalated)],
            vec![
                t("合计"),
                t("平均解决时长(小时)"),
                Cell::Decimal(c.mean_hours_to_resolve),
            ],
        ];
        for (k, n) in &c.by_category {
            rows.push(vec![t("按类别"), t(category_label(k)), Cell::Int(*n)]);
        }
        for (k, n) in &c.by_severity {
            rows.push(vec![t("按严重程度"), t(severity_label(k)), Cell::Int(*n)]);
        }
        out.push(Table::new("投诉统计", &["分组", "项目", "数值"], rows));
        let sat = |by: &str, rows: &[SatisfactionRow]| {
            rows.iter()
                .map(|r| {
                    vec![
                        t(by),
                        t(self.name(&r.key)),
                        Cell::Int(r.responses),
                        Cell::Decimal(r.csat_percent),
                        Cell::Decimal(r.csat_mean),
                        Cell::Decimal(r.nps),
                    ]
                })
                .collect::<Vec<_>>()
        };
        let mut rows = sat("门店", &self.satisfaction_by_store);
        rows.extend(sat("服务顾问", &self.satisfaction_by_advisor));
        rows.extend(sat("销售顾问", &self.satisfaction_by_consultant));
        out.push(Table::new(
            "满意度",
            &["维度", "名称", "答卷数", "CSAT满意率(%)", "CSAT均分", "NPS"],
            rows,
        ));
        out
    }
}

fn export_err(e: dms_tabular::Error) -> CrmError {
    CrmError::Export(e.to_string())
}

impl CrmReport {
    fn file(&self) -> dms_tabular::Report {
        dms_tabular::Report {
            title: None,
            tables: self.tables(),
        }
    }
}

/// The report as an Excel workbook, one sheet per table, headers bold and frozen.
pub fn report_xlsx(report: &CrmReport) -> Result<Vec<u8>> {
    report.file().xlsx().map_err(export_err)
}

/// The report as CSV in UTF-8 with a byte-order mark (so that Excel on a Chinese Windows
/// reads it as UTF-8 rather than GBK): each table is its title in a row of its own, its
/// header row, its rows, then an empty row.
pub fn report_csv(report: &CrmReport) -> Result<Vec<u8>> {
    report.file().csv().map_err(export_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CrmReport {
        let mut care = BTreeMap::new();
        let mut refusals = BTreeMap::new();
        refusals.insert("serviced_elsewhere".to_string(), 2);
        refusals.insert("other:工作忙".to_string(), 1);
        care.insert(
            "insurance_renewal".to_string(),
            CareStats {
                due: 10,
                contacted: 6,
                appointments: 3,
                refusals,
            },
        );
        CrmReport {
            from: NaiveDate::from_ymd_opt(2026, 5, 1).unwrap(),
            to: NaiveDate::from_ymd_opt(2026, 6, 1).unwrap(),
            store: None,
            generated_at: Utc::now(),
            care,
            messages: BTreeMap::new(),
            leads_by_grade: vec![ConversionRow {
                key: "H".into(),
                leads: 4,
                converted: 1,
                lost: 1,
            }],
            leads_by_consultant: vec![ConversionRow {
                key: "u1".into(),
                leads: 4,
                converted: 1,
                lost: 1,
            }],
            complaints: ComplaintStats {
                by_category: BTreeMap::new(),
                by_severity: BTreeMap::new(),
                resolved: 0,
                escalated: 0,
                mean_hours_to_resolve: None,
            },
            satisfaction_by_store: vec![],
            satisfaction_by_advisor: vec![],
            satisfaction_by_consultant: vec![],
            names: [("u1".to_string(), "李娜".to_string())]
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn csv_has_bom_chinese_headers_and_rates() {
        let csv = String::from_utf8(report_csv(&sample()).unwrap()).unwrap();
        assert!(csv.starts_with('\u{feff}'));
        assert!(csv.contains("【回访统计】"), "{csv}");
        assert!(csv.contains("回访规则,应回访数,已联系,联系率(%),预约数,预约率(%),拒绝数"));
        assert!(csv.contains("续保提醒,10,6,60.0,3,30.0,3"), "{csv}");
        assert!(csv.contains("续保提醒,其他: 工作忙,1"), "{csv}");
        assert!(csv.contains("李娜,4,1,1,25.0"), "{csv}");
        assert!(csv.contains("结束日期,2026-05-31"), "{csv}");
    }

    #[test]
    fn xlsx_is_a_zip_with_one_sheet_per_table() {
        let r = sample();
        let bytes = report_xlsx(&r).unwrap();
        assert_eq!(&bytes[..2], b"PK");
        assert_eq!(r.tables().len(), 8);
    }
}
