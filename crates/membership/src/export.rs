//! Exports of members (with their cards, balances and points) and of the stored-value ledger,
//! as CSV or XLSX with Chinese headers.
//!
//! Rows are read in pages by id (keyset), so a caller can stream a CSV page by page or feed an
//! XLSX writer that keeps only the current row in memory (rust_xlsxwriter's constant-memory
//! mode spills finished rows to a temporary file): 100k rows never sit in memory as values.
//!
//! The member export writes the columns [`crate::import`] reads, so an export from one system
//! imports into another. Card numbers and phones are masked unless the caller is entitled to
//! the full ones (the server decides; see its handlers).

use crate::cards::mask_card_no;
use crate::error::{MembershipError, Result};
use crate::import::Column;
use crate::ledger::{BONUS, PRINCIPAL};
use crate::schema::{mem_cards, mem_members, mem_sv_entries, mem_sv_txns};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use dms_core::{Money, StoreScope};
use dms_db::DbConnection;
use std::collections::HashMap;

/// Rows fetched per page.
pub const PAGE: i64 = 1000;

/// The cells and rows of the exports are the shared table writer's (`dms_tabular`), which also
/// writes the files.
pub use dms_tabular::{Cell, Row};

/// How far the stores' time (China time) is ahead of UTC.
pub(crate) fn china_ahead_of_utc() -> chrono::Duration {
    chrono::Duration::seconds(dms_core::china_time().local_minus_utc().into())
}

/// Beijing time (the stores' time), for people reading the file.
fn local(t: NaiveDateTime) -> NaiveDateTime {
    t + china_ahead_of_utc()
}

fn local_day_start_utc(d: NaiveDate) -> NaiveDateTime {
    d.and_hms_opt(0, 0, 0).unwrap_or_default() - china_ahead_of_utc()
}

/// Masks all but the first three and last four digits of a phone.
pub fn mask_phone(p: &str) -> String {
    let chars: Vec<char> = p.chars().collect();
    if chars.len() < 8 {
        return "*".repeat(chars.len());
    }
    let n = chars.len();
    chars[..3]
        .iter()
        .copied()
        .chain(std::iter::repeat_n('*', n - 7))
        .chain(chars[n - 4..].iter().copied())
        .collect()
}

/// Which members to export.
#[derive(Debug, Clone, Default)]
pub struct MemberExportFilter {
    pub store_id: Option<String>,
    pub tier: Option<String>,
    /// Full card numbers, chip UIDs and phones instead of masked ones.
    pub full_numbers: bool,
}

/// The member export's headers: the import's columns first, then context.
pub fn member_headers() -> Vec<&'static str> {
    let mut h: Vec<&'static str> = [
        Column::Name,
        Column::Phone,
        Column::CardNo,
        Column::ChipUid,
        Column::Tier,
        Column::Principal,
        Column::Bonus,
        Column::RedeemablePoints,
        Column::TierPoints,
        Column::ExpiresOn,
    ]
    .iter()
    .map(|c| c.header())
    .collect();
    h.extend([
        "等级名称",
        "会员状态",
        "卡状态",
        "入会日期",
        "会籍到期",
        "门店",
        "会员编号",
    ]);
    h
}

fn scope_with_store(scope: &StoreScope, store_id: Option<&str>) -> Result<StoreScope> {
    if let Some(s) = store_id {
        if !scope.allows(s) {
            return Err(MembershipError::NotFound("store"));
        }
    }
    Ok(scope.narrowed_to(store_id))
}

fn store_labels(conn: &mut DbConnection) -> Result<HashMap<String, String>> {
    use dms_db::schema::stores;
    let rows: Vec<(String, String, String)> = stores::table
        .select((stores::id, stores::code, stores::name))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, code, name)| (id, format!("{code} {name}")))
        .collect())
}

/// One page of the member export: a row per live card (closed and replaced cards are left
/// out: their balance was refunded or moved to the new card), one row without card columns
/// for a member who has none. Returns the rows and the cursor of the next page.
pub fn member_export_page(
    conn: &mut DbConnection,
    scope: &StoreScope,
    filter: &MemberExportFilter,
    after: Option<&str>,
) -> Result<(Vec<Row>, Option<String>)> {
    use dms_db::schema::customers;
    let scope = scope_with_store(scope, filter.store_id.as_deref())?;
    let mut q = mem_members::table
        .select((
            mem_members::id,
            mem_members::store_id,
            mem_members::customer_id,
            mem_members::tier_code,
            mem_members::status,
            mem_members::joined_at,
            mem_members::term_expires_at,
            mem_members::tier_points,
            mem_members::redeemable_points,
        ))
        .into_boxed();
    if let StoreScope::Stores(ids) = &scope {
        q = q.filter(mem_members::store_id.eq_any(ids.clone()));
    }
    if let Some(t) = &filter.tier {
        q = q.filter(mem_members::tier_code.eq(t.clone()));
    }
    if let Some(a) = after {
        q = q.filter(mem_members::id.gt(a.to_string()));
    }
    type M = (
        String,
        String,
        String,
        String,
        String,
        NaiveDateTime,
        NaiveDateTime,
        i64,
        i64,
    );
    let members: Vec<M> = q.order(mem_members::id.asc()).limit(PAGE).load(conn)?;
    let next = (members.len() as i64 == PAGE)
        .then(|| members.last().map(|m| m.0.clone()))
        .flatten();
    if members.is_empty() {
        return Ok((vec![], None));
    }
    let ids: Vec<String> = members.iter().map(|m| m.0.clone()).collect();
    let cust_ids: Vec<String> = members.iter().map(|m| m.2.clone()).collect();
    type C = (
        String,
        String,
        Option<String>,
        String,
        NaiveDateTime,
        i64,
        i64,
    );
    let cards: Vec<C> = mem_cards::table
        .filter(mem_cards::member_id.eq_any(&ids))
        .filter(mem_cards::status.ne_all(["replaced", "closed"]))
        .select((
            mem_cards::member_id,
            mem_cards::card_no,
            mem_cards::chip_uid,
            mem_cards::status,
            mem_cards::expires_at,
            mem_cards::principal_fen,
            mem_cards::bonus_fen,
        ))
        .order(mem_cards::id.asc())
        .load(conn)?;
    let mut cards_of: HashMap<String, Vec<C>> = HashMap::new();
    for c in cards {
        cards_of.entry(c.0.clone()).or_default().push(c);
    }
    let people: HashMap<String, (String, String)> = customers::table
        .filter(customers::id.eq_any(&cust_ids))
        .select((customers::id, customers::name, customers::phone))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(id, n, p)| (id, (n, p)))
        .collect();
    let stores = store_labels(conn)?;
    let mut tier_names: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut rows = Vec::new();
    for m in members {
        let (member_id, store_id, customer_id, tier, status, joined, term, tp, rp) = m;
        if !tier_names.contains_key(&store_id) {
            let cfg = crate::config::effective_config(conn, &store_id)?;
            tier_names.insert(
                store_id.clone(),
                cfg.tiers.into_iter().map(|t| (t.code, t.name)).collect(),
            );
        }
        let tier_name = tier_names
            .get(&store_id)
            .and_then(|n| n.get(&tier))
            .cloned()
            .unwrap_or_default();
        let (name, phone) = people.get(&customer_id).cloned().unwrap_or_default();
        let phone = if filter.full_numbers {
            phone
        } else {
            mask_phone(&phone)
        };
        let member_cards = cards_of.remove(&member_id).unwrap_or_default();
        let card_cells: Vec<Option<&C>> = if member_cards.is_empty() {
            vec![None]
        } else {
            member_cards.iter().map(Some).collect()
        };
        for card in card_cells {
            let mut row = vec![Cell::text(name.clone()), Cell::text(phone.clone())];
            match card {
                Some((_, no, chip, cstatus, exp, p, b)) => {
                    row.push(Cell::text(if filter.full_numbers {
                        no.clone()
                    } else {
                        mask_card_no(no)
                    }));
                    row.push(if filter.full_numbers {
                        Cell::opt(chip.clone())
                    } else {
                        Cell::Empty
                    });
                    row.push(Cell::text(tier.clone()));
                    row.push(Cell::Money(Money::from_fen(*p)));
                    row.push(Cell::Money(Money::from_fen(*b)));
                    row.push(Cell::Int(rp));
                    row.push(Cell::Int(tp));
                    row.push(Cell::Date(local(*exp).date()));
                    row.extend([
                        Cell::text(tier_name.clone()),
                        Cell::text(status.clone()),
                        Cell::text(cstatus.clone()),
                    ]);
                }
                None => {
                    row.extend([Cell::Empty, Cell::Empty, Cell::text(tier.clone())]);
                    row.extend([Cell::Empty, Cell::Empty]);
                    row.extend([Cell::Int(rp), Cell::Int(tp), Cell::Empty]);
                    row.extend([
                        Cell::text(tier_name.clone()),
                        Cell::text(status.clone()),
                        Cell::Empty,
                    ]);
                }
            }
            row.extend([
                Cell::Date(local(joined).date()),
                Cell::Date(local(term).date()),
                Cell::text(stores.get(&store_id).cloned().unwrap_or_default()),
                Cell::text(member_id.clone()),
            ]);
            rows.push(row);
        }
    }
    Ok((rows, next))
}

/// Which ledger transactions to export: Beijing days `from..=to`, optionally one store.
#[derive(Debug, Clone, Default)]
pub struct LedgerExportFilter {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub store_id: Option<String>,
}

pub fn ledger_headers() -> Vec<&'static str> {
    vec![
        "时间(北京时间)",
        "门店",
        "卡号",
        "类型",
        "金额",
        "本金变动",
        "赠送变动",
        "余额变动",
        "支付方式",
        "操作人",
        "终端",
        "消费单号",
        "冲正交易",
        "备注",
        "交易编号",
    ]
}

/// The Chinese name of a stored-value transaction kind (the code itself when unknown).
pub fn kind_label(kind: &str) -> String {
    match kind {
        "topup" => "充值",
        "debit" => "扣款",
        "checkout" => "会员消费",
        "checkout_void" => "消费冲正",
        "replace" => "换卡转移",
        "return" => "退卡退款",
        "bonus_expiry" => "赠送过期",
        "migration" => "旧系统迁移",
        other => return other.to_string(),
    }
    .to_string()
}

fn payment_label(p: &str) -> &str {
    match p {
        "cash" => "现金",
        "bank_card" => "银行卡",
        "transfer" => "转账",
        "online" => "线上支付",
        other => other,
    }
}

type TxnRow = (
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    String,
    NaiveDateTime,
);

/// One page of the ledger export, oldest first. Card numbers are always masked.
pub fn ledger_export_page(
    conn: &mut DbConnection,
    scope: &StoreScope,
    filter: &LedgerExportFilter,
    after: Option<&str>,
) -> Result<(Vec<Row>, Option<String>)> {
    use dms_db::schema::staff_users;
    if let (Some(f), Some(t)) = (filter.from, filter.to) {
        if f > t {
            return Err(MembershipError::invalid("from", "after `to`"));
        }
    }
    let scope = scope_with_store(scope, filter.store_id.as_deref())?;
    let mut q = mem_sv_txns::table
        .select((
            mem_sv_txns::id,
            mem_sv_txns::store_id,
            mem_sv_txns::card_id,
            mem_sv_txns::kind,
            mem_sv_txns::amount_fen,
            mem_sv_txns::payment_method,
            mem_sv_txns::ref_id,
            mem_sv_txns::reverses_txn_id,
            mem_sv_txns::actor_kind,
            mem_sv_txns::actor_id,
            mem_sv_txns::terminal_id,
            mem_sv_txns::memo,
            mem_sv_txns::created_at,
        ))
        .into_boxed();
    if let StoreScope::Stores(ids) = &scope {
        q = q.filter(mem_sv_txns::store_id.eq_any(ids.clone()));
    }
    if let Some(f) = filter.from {
        q = q.filter(mem_sv_txns::created_at.ge(local_day_start_utc(f)));
    }
    if let Some(t) = filter.to {
        let end = t.succ_opt().unwrap_or(t);
        q = q.filter(mem_sv_txns::created_at.lt(local_day_start_utc(end)));
    }
    if let Some(a) = after {
        q = q.filter(mem_sv_txns::id.gt(a.to_string()));
    }
    let txns: Vec<TxnRow> = q.order(mem_sv_txns::id.asc()).limit(PAGE).load(conn)?;
    let next = (txns.len() as i64 == PAGE)
        .then(|| txns.last().map(|t| t.0.clone()))
        .flatten();
    if txns.is_empty() {
        return Ok((vec![], None));
    }
    let ids: Vec<String> = txns.iter().map(|t| t.0.clone()).collect();
    let entries: Vec<(String, Option<String>, String, i64)> = mem_sv_entries::table
        .filter(mem_sv_entries::txn_id.eq_any(&ids))
        .filter(mem_sv_entries::card_id.is_not_null())
        .select((
            mem_sv_entries::txn_id,
            mem_sv_entries::card_id,
            mem_sv_entries::account,
            mem_sv_entries::amount_fen,
        ))
        .load(conn)?;
    let mut effect: HashMap<(String, String), (i64, i64)> = HashMap::new();
    for (txn, card, account, amount) in entries {
        let Some(card) = card else { continue };
        let e = effect.entry((txn, card)).or_default();
        if account == PRINCIPAL {
            e.0 += amount;
        } else if account == BONUS {
            e.1 += amount;
        }
    }
    let card_ids: Vec<String> = txns.iter().map(|t| t.2.clone()).collect();
    let card_nos: HashMap<String, String> = mem_cards::table
        .filter(mem_cards::id.eq_any(&card_ids))
        .select((mem_cards::id, mem_cards::card_no))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let staff_ids: Vec<String> = txns
        .iter()
        .filter(|t| t.8 == "staff")
        .filter_map(|t| t.9.clone())
        .collect();
    let staff: HashMap<String, String> = staff_users::table
        .filter(staff_users::id.eq_any(&staff_ids))
        .select((staff_users::id, staff_users::display_name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    // A void's checkout is the one of the transaction it reverses.
    let reversed: Vec<String> = txns.iter().filter_map(|t| t.7.clone()).collect();
    let reversed_refs: HashMap<String, Option<String>> = mem_sv_txns::table
        .filter(mem_sv_txns::id.eq_any(&reversed))
        .select((mem_sv_txns::id, mem_sv_txns::ref_id))
        .load::<(String, Option<String>)>(conn)?
        .into_iter()
        .collect();
    let stores = store_labels(conn)?;
    let rows = txns
        .into_iter()
        .map(|t| {
            let (id, store_id, card_id, kind, amount, pay, ref_id, reverses) =
                (t.0, t.1, t.2, t.3, t.4, t.5, t.6, t.7);
            let (actor_kind, actor_id, terminal, memo, at) = (t.8, t.9, t.10, t.11, t.12);
            let (p, b) = effect
                .get(&(id.clone(), card_id.clone()))
                .copied()
                .unwrap_or_default();
            let checkout = match (&ref_id, &reverses) {
                (Some(r), _) if kind == "checkout" => Some(r.clone()),
                (_, Some(rev)) => reversed_refs.get(rev).cloned().flatten(),
                _ => None,
            };
            let who = match (actor_kind.as_str(), &actor_id) {
                ("staff", Some(a)) => staff.get(a).cloned().unwrap_or_else(|| a.clone()),
                (k, _) => k.to_string(),
            };
            vec![
                Cell::DateTime(local(at)),
                Cell::text(stores.get(&store_id).cloned().unwrap_or(store_id)),
                Cell::text(
                    card_nos
                        .get(&card_id)
                        .map(|n| mask_card_no(n))
                        .unwrap_or_default(),
                ),
                Cell::text(kind_label(&kind)),
                Cell::Money(Money::from_fen(amount)),
                Cell::Money(Money::from_fen(p)),
                Cell::Money(Money::from_fen(b)),
                Cell::Money(Money::from_fen(p + b)),
                Cell::opt(pay.map(|p| payment_label(&p).to_string())),
                Cell::text(who),
                Cell::opt(terminal),
                Cell::opt(checkout),
                Cell::opt(reverses),
                Cell::text(memo),
                Cell::text(id),
            ]
        })
        .collect();
    Ok((rows, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_labels() {
        assert_eq!(mask_phone("13801012345"), "138****2345");
        assert_eq!(kind_label("topup"), "充值");
        assert_eq!(kind_label("odd"), "odd");
    }

    #[test]
    fn csv_and_xlsx_read_back_by_the_import() {
        let headers = member_headers();
        let row = vec![
            Cell::text("张三"),
            Cell::text("13800000000"),
            Cell::text("8800000000000001"),
            Cell::Empty,
            Cell::text("gold"),
            Cell::Money(Money::from_fen(123_456)),
            Cell::Money(Money::from_fen(10)),
            Cell::Int(300),
            Cell::Int(1200),
            Cell::Date(NaiveDate::from_ymd_opt(2030, 1, 31).unwrap()),
        ];
        let mut csv = dms_tabular::csv_header(&headers).unwrap();
        csv.extend(dms_tabular::csv_rows(std::slice::from_ref(&row)).unwrap());
        let mut x = dms_tabular::XlsxSheet::new("会员", &headers).unwrap();
        x.push(std::slice::from_ref(&row)).unwrap();
        let xlsx = x.finish().unwrap();
        for (fmt, bytes) in [
            (crate::import::FileFormat::Csv, csv),
            (crate::import::FileFormat::Xlsx, xlsx),
        ] {
            let s = crate::import::read_sheet(fmt, &bytes).unwrap();
            assert_eq!(s.rows.len(), 1, "{fmt:?}");
            let cells = &s.rows[0].1;
            assert_eq!(cells[2], "8800000000000001", "{fmt:?}");
            let m = |s: &str| s.parse::<Money>().unwrap().fen();
            assert_eq!(m(&cells[5]), 123_456, "{fmt:?}");
            assert_eq!(m(&cells[6]), 10, "{fmt:?}");
            assert_eq!(cells[8], "1200", "{fmt:?}");
            assert_eq!(cells[9], "2030-01-31", "{fmt:?}");
        }
    }
}
