//! Club statistics for a period (会员统计): top-ups, bonus, stored-value consumption, refunds,
//! checkouts, card issuance, points earned and spent, gift redemptions, coupon use; in total,
//! per store, per day or month, per tier, and consumption per category.
//!
//! The report ([`statistics_report`], whole UTC days) reads `mem_stat_facts`, written by
//! triggers in the same transaction as each movement it counts (migration
//! `000120_membership_statistics`), carrying the day, the store and the member's tier at that
//! moment: on PostgreSQL one row per movement, on SQLite one running total per day, store, tier
//! and metric (`000180_statistics_running_totals`); the report sums either the same way. A month
//! is then one range scan in index order, whatever the size of the ledgers; the total and every
//! breakdown are folded from the same cells, so they sum to each other exactly.
//! [`club_statistics`] and [`statistics_by_store`] take any instants and sum the ledgers
//! themselves (tiers as they are now): for short windows. Money figures are sums of ledger
//! entries by counter account; tests check that the report equals sums taken independently
//! from the ledger rows.

use crate::error::{MembershipError, Result};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use dms_core::{Money, StoreScope};
use dms_db::DbConnection;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClubStatistics {
    /// Paid in by top-ups (all tenders).
    pub topped_up: Money,
    /// Bonus granted by top-up rules.
    pub bonus_granted: Money,
    /// Stored value spent (debits and checkouts, net of voids).
    pub consumed: Money,
    /// Principal paid back on returned cards.
    pub refunded: Money,
    /// Bonus forfeited on return or expired.
    pub bonus_forfeited: Money,
    pub checkouts: i64,
    pub checkouts_voided: i64,
    /// Billed in completed checkouts (all tenders, before the insurer's share is split off).
    pub checkout_total: Money,
    pub cards_issued: i64,
    pub points_earned: i64,
    pub points_redeemed: i64,
    pub gift_redemptions: i64,
    pub gift_points: i64,
    pub coupons_used: i64,
}

impl ClubStatistics {
    fn add(&mut self, o: &ClubStatistics) {
        self.topped_up = Money::from_fen(self.topped_up.fen() + o.topped_up.fen());
        self.bonus_granted = Money::from_fen(self.bonus_granted.fen() + o.bonus_granted.fen());
        self.consumed = Money::from_fen(self.consumed.fen() + o.consumed.fen());
        self.refunded = Money::from_fen(self.refunded.fen() + o.refunded.fen());
        self.bonus_forfeited =
            Money::from_fen(self.bonus_forfeited.fen() + o.bonus_forfeited.fen());
        self.checkouts += o.checkouts;
        self.checkouts_voided += o.checkouts_voided;
        self.checkout_total = Money::from_fen(self.checkout_total.fen() + o.checkout_total.fen());
        self.cards_issued += o.cards_issued;
        self.points_earned += o.points_earned;
        self.points_redeemed += o.points_redeemed;
        self.gift_redemptions += o.gift_redemptions;
        self.gift_points += o.gift_points;
        self.coupons_used += o.coupons_used;
    }
}

/// How the period is cut (`granularity=day|month`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    Day,
    #[default]
    Month,
}

/// What to report on. The period is `[from, to)` in UTC days, at most 366 days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatisticsQuery {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Only what members did while in this tier.
    pub tier: Option<String>,
    pub granularity: Granularity,
}

/// Net consumption of one category in completed checkouts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryConsumption {
    pub category: String,
    /// Basket lines of that category.
    pub lines: i64,
    /// Before discounts.
    pub gross: Money,
    /// After tier and coupon discounts; the categories sum to `checkout_total`.
    pub net: Money,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatisticsReport {
    pub total: ClubStatistics,
    /// Every store in scope, in id order (zeros included).
    pub by_store: Vec<(String, ClubStatistics)>,
    /// Every day (`YYYY-MM-DD`) or month (`YYYY-MM`) touching the period, in order (zeros
    /// included).
    pub by_period: Vec<(String, ClubStatistics)>,
    /// Tiers with activity: the programme's order first, then any other code.
    pub by_tier: Vec<(String, ClubStatistics)>,
    /// Categories with completed checkout lines, in the programme's category order.
    pub by_category: Vec<CategoryConsumption>,
}

/// One (store, period, tier) cell: what every breakdown is summed from.
type CellKey = (String, String, String);

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    store_id: String,
    #[diesel(sql_type = Text)]
    period: String,
    #[diesel(sql_type = Text)]
    tier: String,
    /// The counter account, the checkout status or the category, per source.
    #[diesel(sql_type = Text)]
    k: String,
    #[diesel(sql_type = BigInt)]
    amount: i64,
    #[diesel(sql_type = BigInt)]
    amount2: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

enum Arg {
    Time(NaiveDateTime),
    Text(String),
}

/// Runs `sql` written with `?` placeholders on either engine.
fn load_rows(conn: &mut DbConnection, sql: &str, args: &[Arg]) -> Result<Vec<Row>> {
    match conn {
        DbConnection::Sqlite(c) => {
            let mut q = diesel::sql_query(sql).into_boxed::<diesel::sqlite::Sqlite>();
            for a in args {
                q = match a {
                    Arg::Time(t) => q.bind::<Timestamp, _>(*t),
                    Arg::Text(s) => q.bind::<Text, _>(s.clone()),
                };
            }
            Ok(q.load(c)?)
        }
        DbConnection::Pg(c) => {
            let mut pg = String::with_capacity(sql.len() + 16);
            let mut n = 0;
            for ch in sql.chars() {
                if ch == '?' {
                    n += 1;
                    pg.push_str(&format!("${n}"));
                } else {
                    pg.push(ch);
                }
            }
            let mut q = diesel::sql_query(pg).into_boxed::<diesel::pg::Pg>();
            for a in args {
                q = match a {
                    Arg::Time(t) => q.bind::<Timestamp, _>(*t),
                    Arg::Text(s) => q.bind::<Text, _>(s.clone()),
                };
            }
            Ok(q.load(c)?)
        }
    }
}

/// The SQL pieces that differ between the engines.
struct Dialect {
    pg: bool,
    granularity: Granularity,
}

impl Dialect {
    fn period(&self, col: &str) -> String {
        match (self.pg, self.granularity) {
            // SQLite keeps timestamps as `YYYY-MM-DD HH:MM:SS[.ffffff]` text.
            (false, Granularity::Day) => format!("substr({col}, 1, 10)"),
            (false, Granularity::Month) => format!("substr({col}, 1, 7)"),
            (true, Granularity::Day) => format!("to_char({col}, 'YYYY-MM-DD')"),
            (true, Granularity::Month) => format!("to_char({col}, 'YYYY-MM')"),
        }
    }
}

/// `WHERE` additions for the store scope and the tier, with their arguments appended.
fn filters(
    scope: &StoreScope,
    tier: Option<&str>,
    store_col: &str,
    tier_col: &str,
    args: &mut Vec<Arg>,
) -> String {
    let mut w = String::new();
    if let StoreScope::Stores(s) = scope {
        let marks = vec!["?"; s.len()].join(", ");
        w.push_str(&format!(" AND {store_col} IN ({marks})"));
        args.extend(s.iter().map(|x| Arg::Text(x.clone())));
    }
    if let Some(t) = tier {
        w.push_str(&format!(" AND {tier_col} = ?"));
        args.push(Arg::Text(t.to_string()));
    }
    w
}

fn period_keys(from: NaiveDate, to: NaiveDate, g: Granularity) -> Vec<String> {
    let mut out = Vec::new();
    let mut d = from;
    while d < to {
        match g {
            Granularity::Day => {
                out.push(d.format("%Y-%m-%d").to_string());
                d = d.succ_opt().unwrap_or(to);
            }
            Granularity::Month => {
                out.push(d.format("%Y-%m").to_string());
                let (y, m) = if d.month() == 12 {
                    (d.year() + 1, 1)
                } else {
                    (d.year(), d.month() + 1)
                };
                d = NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(to);
            }
        }
    }
    out
}

/// Stored-value counter entries, by account, into the figures they feed. Counter accounts
/// carry the opposite sign of the card side.
fn add_sv(s: &mut ClubStatistics, account: &str, amount: i64) {
    if account.starts_with("tender:") {
        s.topped_up = Money::from_fen(s.topped_up.fen() - amount);
    } else if account == "bonus_promotion" {
        s.bonus_granted = Money::from_fen(s.bonus_granted.fen() - amount);
    } else if account == "sales" {
        s.consumed = Money::from_fen(s.consumed.fen() + amount);
    } else if account.starts_with("refund:") {
        s.refunded = Money::from_fen(s.refunded.fen() + amount);
    } else if account == "bonus_forfeit" || account == "bonus_expired" {
        s.bonus_forfeited = Money::from_fen(s.bonus_forfeited.fen() + amount);
    }
}

/// Redeemable-points counter entries, by account.
fn add_points(s: &mut ClubStatistics, account: &str, amount: i64) {
    match account {
        "earned" => s.points_earned -= amount,
        "redeemed" => s.points_redeemed += amount,
        _ => {}
    }
}

/// The report's cells for the UTC days `[from, to)`, from the facts table (migration 000120):
/// one range scan of its (day, store, tier, metric) index, grouped in index order; the
/// days are rolled up to months here.
fn fact_cells(
    conn: &mut DbConnection,
    scope: &StoreScope,
    from: NaiveDate,
    to: NaiveDate,
    tier: Option<&str>,
    granularity: Granularity,
) -> Result<(
    BTreeMap<CellKey, ClubStatistics>,
    BTreeMap<String, CategoryConsumption>,
)> {
    let mut args = vec![
        Arg::Text(from.format("%Y-%m-%d").to_string()),
        Arg::Text(to.format("%Y-%m-%d").to_string()),
    ];
    let w = filters(scope, tier, "store_id", "tier_code", &mut args);
    let sql = format!(
        "SELECT store_id, day AS period, tier_code AS tier, metric AS k, \
         CAST(SUM(amount) AS BIGINT) AS amount, CAST(SUM(extra) AS BIGINT) AS amount2, \
         CAST(SUM(n) AS BIGINT) AS n \
         FROM mem_stat_facts WHERE day >= ? AND day < ?{w} \
         GROUP BY day, store_id, tier_code, metric"
    );
    let rows = dms_db::read_tx(conn, |c| load_rows(c, &sql, &args))?;
    let mut out: BTreeMap<CellKey, ClubStatistics> = BTreeMap::new();
    let mut cats: BTreeMap<String, CategoryConsumption> = BTreeMap::new();
    for r in rows {
        if let Some(cat) = r.k.strip_prefix("cat:") {
            let e = cats
                .entry(cat.to_string())
                .or_insert_with(|| CategoryConsumption {
                    category: cat.to_string(),
                    ..Default::default()
                });
            e.lines += r.n;
            e.net = Money::from_fen(e.net.fen() + r.amount);
            e.gross = Money::from_fen(e.gross.fen() + r.amount2);
            continue;
        }
        let period = match granularity {
            Granularity::Day => r.period,
            Granularity::Month => r.period.get(..7).unwrap_or_default().to_string(),
        };
        let s = out.entry((r.store_id, period, r.tier)).or_default();
        match r.k.as_str() {
            "checkout" => {
                s.checkouts += r.n;
                s.checkout_total = Money::from_fen(s.checkout_total.fen() + r.amount);
            }
            "checkout_voided" => s.checkouts_voided += r.n,
            "card_issued" => s.cards_issued += r.n,
            "gift" => {
                s.gift_redemptions += r.n;
                s.gift_points += r.amount;
            }
            "coupon_used" => s.coupons_used += r.n,
            k => {
                if let Some(a) = k.strip_prefix("sv:") {
                    add_sv(s, a, r.amount);
                } else if let Some(a) = k.strip_prefix("pt:") {
                    add_points(s, a, r.amount);
                }
            }
        }
    }
    // A category whose lines were all voided is no longer there.
    cats.retain(|_, c| c.lines != 0);
    Ok((out, cats))
}

/// The cells of `[from, to)` (any instants) over the stores in scope, summed from the ledgers
/// and the tables themselves, with the members' tiers as they are now. For short windows; the
/// report over days reads the facts instead.
fn ledger_cells(
    conn: &mut DbConnection,
    scope: &StoreScope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tier: Option<&str>,
    granularity: Granularity,
) -> Result<BTreeMap<CellKey, ClubStatistics>> {
    let d = Dialect {
        pg: matches!(conn, DbConnection::Pg(_)),
        granularity,
    };
    let (f, t) = (dms_db::to_db_time(from), dms_db::to_db_time(to));
    let mut out: BTreeMap<CellKey, ClubStatistics> = BTreeMap::new();
    dms_db::read_tx(conn, |c| {
        out.clear();
        let run = |c: &mut DbConnection,
                   sql: String,
                   mut args: Vec<Arg>,
                   store_col: &str,
                   tier_col: &str,
                   tail: &str|
         -> Result<Vec<Row>> {
            let w = filters(scope, tier, store_col, tier_col, &mut args);
            let sql = format!("{sql}{w} {tail}");
            load_rows(c, &sql, &args)
        };
        let base = || vec![Arg::Time(f), Arg::Time(t)];

        // Stored value: the counter side of each transaction (card_id IS NULL); counter
        // accounts carry the opposite sign of the card side.
        let rows = run(
            c,
            format!(
                "SELECT e.store_id AS store_id, {p} AS period, m.tier_code AS tier, \
                 e.account AS k, CAST(SUM(e.amount_fen) AS BIGINT) AS amount, \
                 CAST(0 AS BIGINT) AS amount2, CAST(COUNT(*) AS BIGINT) AS n \
                 FROM mem_sv_entries e \
                 JOIN mem_sv_txns x ON x.id = e.txn_id \
                 JOIN mem_cards cd ON cd.id = x.card_id \
                 JOIN mem_members m ON m.id = cd.member_id \
                 WHERE e.card_id IS NULL AND e.created_at >= ? AND e.created_at < ?",
                p = d.period("e.created_at"),
            ),
            base(),
            "e.store_id",
            "m.tier_code",
            "GROUP BY e.store_id, period, m.tier_code, e.account",
        )?;
        for r in rows {
            let s = out.entry((r.store_id, r.period, r.tier)).or_default();
            add_sv(s, &r.k, r.amount);
        }

        let rows = run(
            c,
            format!(
                "SELECT k.store_id AS store_id, {p} AS period, m.tier_code AS tier, \
                 k.status AS k, CAST(SUM(k.total_fen) AS BIGINT) AS amount, \
                 CAST(0 AS BIGINT) AS amount2, CAST(COUNT(*) AS BIGINT) AS n \
                 FROM mem_checkouts k JOIN mem_members m ON m.id = k.member_id \
                 WHERE k.created_at >= ? AND k.created_at < ?",
                p = d.period("k.created_at"),
            ),
            base(),
            "k.store_id",
            "m.tier_code",
            "GROUP BY k.store_id, period, m.tier_code, k.status",
        )?;
        for r in rows {
            let s = out.entry((r.store_id, r.period, r.tier)).or_default();
            if r.k == "completed" {
                s.checkouts += r.n;
                s.checkout_total = Money::from_fen(s.checkout_total.fen() + r.amount);
            } else {
                s.checkouts_voided += r.n;
            }
        }

        let rows = run(
            c,
            format!(
                "SELECT cd.store_id AS store_id, {p} AS period, m.tier_code AS tier, \
                 '' AS k, CAST(0 AS BIGINT) AS amount, CAST(0 AS BIGINT) AS amount2, \
                 CAST(COUNT(*) AS BIGINT) AS n \
                 FROM mem_cards cd JOIN mem_members m ON m.id = cd.member_id \
                 WHERE cd.created_at >= ? AND cd.created_at < ?",
                p = d.period("cd.created_at"),
            ),
            base(),
            "cd.store_id",
            "m.tier_code",
            "GROUP BY cd.store_id, period, m.tier_code",
        )?;
        for r in rows {
            out.entry((r.store_id, r.period, r.tier))
                .or_default()
                .cards_issued += r.n;
        }

        let mut args = base();
        args.push(Arg::Text(crate::ledger::REDEEMABLE.to_string()));
        let rows = run(
            c,
            format!(
                "SELECT e.store_id AS store_id, {p} AS period, m.tier_code AS tier, \
                 e.account AS k, CAST(SUM(e.amount) AS BIGINT) AS amount, \
                 CAST(0 AS BIGINT) AS amount2, CAST(COUNT(*) AS BIGINT) AS n \
                 FROM mem_points_entries e \
                 JOIN mem_points_txns x ON x.id = e.txn_id \
                 JOIN mem_members m ON m.id = x.member_id \
                 WHERE e.member_id IS NULL AND e.created_at >= ? AND e.created_at < ? \
                 AND e.track = ?",
                p = d.period("e.created_at"),
            ),
            args,
            "e.store_id",
            "m.tier_code",
            "GROUP BY e.store_id, period, m.tier_code, e.account",
        )?;
        for r in rows {
            let s = out.entry((r.store_id, r.period, r.tier)).or_default();
            add_points(s, &r.k, r.amount);
        }

        let rows = run(
            c,
            format!(
                "SELECT g.store_id AS store_id, {p} AS period, m.tier_code AS tier, \
                 '' AS k, CAST(SUM(g.points) AS BIGINT) AS amount, \
                 CAST(0 AS BIGINT) AS amount2, CAST(COUNT(*) AS BIGINT) AS n \
                 FROM mem_gift_redemptions g JOIN mem_members m ON m.id = g.member_id \
                 WHERE g.created_at >= ? AND g.created_at < ?",
                p = d.period("g.created_at"),
            ),
            base(),
            "g.store_id",
            "m.tier_code",
            "GROUP BY g.store_id, period, m.tier_code",
        )?;
        for r in rows {
            let s = out.entry((r.store_id, r.period, r.tier)).or_default();
            s.gift_redemptions += r.n;
            s.gift_points += r.amount;
        }

        let rows = run(
            c,
            format!(
                "SELECT u.store_id AS store_id, {p} AS period, m.tier_code AS tier, \
                 '' AS k, CAST(0 AS BIGINT) AS amount, CAST(0 AS BIGINT) AS amount2, \
                 CAST(COUNT(*) AS BIGINT) AS n \
                 FROM mem_coupons u JOIN mem_members m ON m.id = u.member_id \
                 WHERE u.status = 'used' AND u.used_at >= ? AND u.used_at < ?",
                p = d.period("u.used_at"),
            ),
            base(),
            "u.store_id",
            "m.tier_code",
            "GROUP BY u.store_id, period, m.tier_code",
        )?;
        for r in rows {
            out.entry((r.store_id, r.period, r.tier))
                .or_default()
                .coupons_used += r.n;
        }

        Ok::<_, MembershipError>(())
    })?;
    Ok(out)
}

/// The report for `q` over the stores in `scope` (already narrowed to one store if asked).
pub fn statistics_report(
    conn: &mut DbConnection,
    scope: &StoreScope,
    q: &StatisticsQuery,
) -> Result<StatisticsReport> {
    if q.to <= q.from || (q.to - q.from).num_days() > 366 {
        return Err(MembershipError::invalid(
            "to",
            "after from, at most 366 days",
        ));
    }
    let (cells, cats) = fact_cells(conn, scope, q.from, q.to, q.tier.as_deref(), q.granularity)?;
    let mut report = StatisticsReport::default();
    let mut stores: BTreeMap<String, ClubStatistics> = store_ids(conn, scope)?
        .into_iter()
        .map(|s| (s, ClubStatistics::default()))
        .collect();
    let mut periods: BTreeMap<String, ClubStatistics> = period_keys(q.from, q.to, q.granularity)
        .into_iter()
        .map(|p| (p, ClubStatistics::default()))
        .collect();
    let mut tiers: BTreeMap<String, ClubStatistics> = BTreeMap::new();
    for ((store, period, tier), s) in &cells {
        report.total.add(s);
        stores.entry(store.clone()).or_default().add(s);
        periods.entry(period.clone()).or_default().add(s);
        tiers.entry(tier.clone()).or_default().add(s);
    }
    report.by_store = stores.into_iter().collect();
    report.by_period = periods.into_iter().collect();
    let cfg = crate::config::group_config(conn)?;
    for t in &cfg.tiers {
        if let Some(s) = tiers.remove(&t.code) {
            report.by_tier.push((t.code.clone(), s));
        }
    }
    report.by_tier.extend(tiers);
    let mut cats = cats;
    for c in crate::config::Category::ALL {
        let code = serde_json::to_value(c)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        if let Some(x) = cats.remove(&code) {
            report.by_category.push(x);
        }
    }
    report.by_category.extend(cats.into_values());
    Ok(report)
}

fn store_ids(conn: &mut DbConnection, scope: &StoreScope) -> Result<Vec<String>> {
    use dms_db::schema::stores;
    let ids: Vec<String> = stores::table
        .select(stores::id)
        .order(stores::id)
        .load(conn)?;
    Ok(ids.into_iter().filter(|id| scope.allows(id)).collect())
}

/// Statistics for `[from, to)` (any instants) over the stores in scope.
pub fn club_statistics(
    conn: &mut DbConnection,
    scope: &StoreScope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<ClubStatistics> {
    let cells = ledger_cells(conn, scope, from, to, None, Granularity::Month)?;
    let mut total = ClubStatistics::default();
    for s in cells.values() {
        total.add(s);
    }
    Ok(total)
}

/// One [`ClubStatistics`] per UTC day of `[from, to)` (at most 366 days).
pub fn statistics_by_day(
    conn: &mut DbConnection,
    scope: &StoreScope,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(NaiveDate, ClubStatistics)>> {
    let r = statistics_report(
        conn,
        scope,
        &StatisticsQuery {
            from,
            to,
            tier: None,
            granularity: Granularity::Day,
        },
    )?;
    r.by_period
        .into_iter()
        .map(|(p, s)| {
            NaiveDate::parse_from_str(&p, "%Y-%m-%d")
                .map(|d| (d, s))
                .map_err(|e| MembershipError::Internal(format!("period key {p}: {e}")))
        })
        .collect()
}

/// One [`ClubStatistics`] per store the caller may see, for `[from, to)`.
pub fn statistics_by_store(
    conn: &mut DbConnection,
    scope: &StoreScope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(String, ClubStatistics)>> {
    let cells = ledger_cells(conn, scope, from, to, None, Granularity::Month)?;
    let mut stores: BTreeMap<String, ClubStatistics> = store_ids(conn, scope)?
        .into_iter()
        .map(|s| (s, ClubStatistics::default()))
        .collect();
    for ((store, _, _), s) in &cells {
        stores.entry(store.clone()).or_default().add(s);
    }
    Ok(stores.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_cover_the_range() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(
            period_keys(d(2026, 11, 15), d(2027, 2, 1), Granularity::Month),
            vec!["2026-11", "2026-12", "2027-01"]
        );
        assert_eq!(
            period_keys(d(2026, 11, 30), d(2026, 12, 2), Granularity::Day),
            vec!["2026-11-30", "2026-12-01"]
        );
    }
}
