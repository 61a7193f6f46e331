//! Programme configuration (会员方案): tiers with their discount rates per consumption
//! category, points-earning ratios, top-up bonus rules, term, renewal and upgrade thresholds.
//!
//! One document for the group plus optional per-store overrides (a store's document replaces the
//! group's as a whole, so a store manager sees exactly what applies in the store). Without any
//! row the built-in defaults apply: the figures of the seed documents (term one year; renew with
//! 500 points or an insurance renewal of 3000 yuan; upgrade by trading 2000 points, one repair of
//! 5000 yuan, or two consecutive years of insurance of 7000 yuan; ordinary repair earns 1 point
//! per yuan, insurer-paid work none; top-up 1000 gets 100 bonus).
//!
//! The document is stored as JSON (decimals as strings) because its shape evolves faster than a
//! table design should, and it is read whole on every checkout.

use crate::error::{MembershipError, Result};
use crate::schema::mem_programme_configs;
use crate::util::{audit, now_db};
use diesel::prelude::*;
use dms_core::{Clock, Money, StoreScope};
use dms_db::DbConnection;
use dms_identity::Actor;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;

/// What a basket line is for; discount rates and earning ratios are set per category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 工时费
    Labour,
    /// 配件费
    Parts,
    /// 精品
    Accessories,
    /// 美容
    Detailing,
    /// 改装
    Modification,
    /// 整车
    Vehicle,
    Other,
}

impl Category {
    pub const ALL: &'static [Category] = &[
        Category::Labour,
        Category::Parts,
        Category::Accessories,
        Category::Detailing,
        Category::Modification,
        Category::Vehicle,
        Category::Other,
    ];

    pub fn code(&self) -> &'static str {
        match self {
            Category::Labour => "labour",
            Category::Parts => "parts",
            Category::Accessories => "accessories",
            Category::Detailing => "detailing",
            Category::Modification => "modification",
            Category::Vehicle => "vehicle",
            Category::Other => "other",
        }
    }

    pub fn from_code(s: &str) -> Option<Category> {
        Category::ALL.iter().copied().find(|c| c.code() == s)
    }
}

/// A service-package item (服务包), e.g. six free washes a year.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entitlement {
    pub code: String,
    pub name: String,
    pub per_year: u32,
}

/// One tier (会员等级) of the programme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tier {
    pub code: String,
    pub name: String,
    /// Percent off per category (`10` = 10 % off); a category not listed gets no discount.
    pub discount_percent: BTreeMap<Category, Decimal>,
    /// Cumulative tier points from which a member qualifies for this tier; `None` for a tier
    /// reached only by fee or staff decision.
    pub upgrade_at_tier_points: Option<i64>,
    /// Joining fee that buys this tier directly (交会费入会).
    pub join_fee: Option<Money>,
    pub entitlements: Vec<Entitlement>,
}

/// Pay at least `min_amount` in one top-up, get `bonus` (the best matching rule applies once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopUpBonusRule {
    pub min_amount: Money,
    pub bonus: Money,
}

/// Which balance a stored-value payment draws first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BonusSpendOrder {
    /// Bonus first (soonest-expiring lot first), then principal: the customer keeps as much
    /// refundable money as possible.
    BonusFirst,
    PrincipalFirst,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewalRules {
    pub fee: Money,
    /// Redeemable points that buy one more term (seed: 500).
    pub points: i64,
    /// An insurance renewal of at least this renews the membership (seed: 3000).
    pub insurance_amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeRules {
    /// Redeemable points traded for one tier up (seed: 2000).
    pub points_for_upgrade: i64,
    /// One repair of at least this lifts one tier (seed: 5000).
    pub single_repair_amount: Money,
    /// Insurance of at least this in each of two consecutive years lifts one tier (seed: 7000).
    pub insurance_two_years_amount: Money,
}

/// The whole programme (会员方案) as it applies in one store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgrammeConfig {
    pub name: String,
    /// Membership term in months (seed: one year).
    pub term_months: u32,
    /// Card validity in months from issue.
    pub card_valid_months: u32,
    /// Lowest first; the first is where new members start by default.
    pub tiers: Vec<Tier>,
    /// Points per yuan of net spend, per category (floor per line). Insurer-paid lines earn none.
    pub points_per_yuan: BTreeMap<Category, Decimal>,
    /// Value of one redeemable point as a tender, in fen.
    pub point_value_fen: i64,
    pub topup_bonus_rules: Vec<TopUpBonusRule>,
    pub bonus_valid_days: u32,
    pub bonus_spend_order: BonusSpendOrder,
    /// `None`: redeemable points never expire.
    pub redeemable_points_valid_days: Option<u32>,
    pub renewal: RenewalRules,
    pub upgrade: UpgradeRules,
}

fn yuan(n: i64) -> Money {
    Money::from_fen(n * 100)
}

fn pct(pairs: &[(Category, i64)]) -> BTreeMap<Category, Decimal> {
    pairs.iter().map(|(c, p)| (*c, Decimal::from(*p))).collect()
}

impl Default for ProgrammeConfig {
    /// The demo defaults, with the seed documents' figures.
    fn default() -> Self {
        use Category::*;
        let wash = |n| Entitlement {
            code: "wash".into(),
            name: "免费洗车".into(),
            per_year: n,
        };
        ProgrammeConfig {
            name: "会员俱乐部".into(),
            term_months: 12,
            card_valid_months: 60,
            tiers: vec![
                Tier {
                    code: "standard".into(),
                    name: "普通会员".into(),
                    discount_percent: BTreeMap::new(),
                    upgrade_at_tier_points: Some(0),
                    join_fee: Some(Money::ZERO),
                    entitlements: vec![],
                },
                Tier {
                    code: "silver".into(),
                    name: "银卡".into(),
                    discount_percent: pct(&[
                        (Labour, 5),
                        (Parts, 2),
                        (Accessories, 5),
                        (Detailing, 10),
                    ]),
                    upgrade_at_tier_points: Some(5_000),
                    join_fee: Some(yuan(500)),
                    entitlements: vec![wash(2)],
                },
                Tier {
                    code: "gold".into(),
                    name: "金卡".into(),
                    discount_percent: pct(&[
                        (Labour, 10),
                        (Parts, 5),
                        (Accessories, 8),
                        (Detailing, 15),
                    ]),
                    upgrade_at_tier_points: Some(20_000),
                    join_fee: Some(yuan(1_000)),
                    entitlements: vec![wash(6)],
                },
                Tier {
                    code: "diamond".into(),
                    name: "钻石卡".into(),
                    discount_percent: pct(&[
                        (Labour, 15),
                        (Parts, 8),
                        (Accessories, 10),
                        (Detailing, 20),
                        (Modification, 5),
                    ]),
                    upgrade_at_tier_points: Some(50_000),
                    join_fee: None,
                    entitlements: vec![wash(12)],
                },
            ],
            points_per_yuan: pct(&[
                (Labour, 1),
                (Parts, 1),
                (Accessories, 1),
                (Detailing, 1),
                (Modification, 1),
                (Other, 1),
            ])
            .into_iter()
            .chain([(Vehicle, Decimal::new(1, 1))])
            .collect(),
            point_value_fen: 1,
            topup_bonus_rules: vec![
                TopUpBonusRule {
                    min_amount: yuan(1_000),
                    bonus: yuan(100),
                },
                TopUpBonusRule {
                    min_amount: yuan(3_000),
                    bonus: yuan(400),
                },
                TopUpBonusRule {
                    min_amount: yuan(5_000),
                    bonus: yuan(800),
                },
            ],
            bonus_valid_days: 365,
            bonus_spend_order: BonusSpendOrder::BonusFirst,
            redeemable_points_valid_days: None,
            renewal: RenewalRules {
                fee: yuan(100),
                points: 500,
                insurance_amount: yuan(3_000),
            },
            upgrade: UpgradeRules {
                points_for_upgrade: 2_000,
                single_repair_amount: yuan(5_000),
                insurance_two_years_amount: yuan(7_000),
            },
        }
    }
}

impl ProgrammeConfig {
    pub fn tier(&self, code: &str) -> Option<&Tier> {
        self.tiers.iter().find(|t| t.code == code)
    }

    /// Position of a tier, lowest 0; unknown tiers (removed from the config) rank lowest.
    pub fn rank(&self, code: &str) -> usize {
        self.tiers.iter().position(|t| t.code == code).unwrap_or(0)
    }

    pub fn next_tier(&self, code: &str) -> Option<&Tier> {
        self.tiers.get(self.rank(code) + 1)
    }

    /// The bonus one top-up earns: the rule with the highest threshold it reaches.
    pub fn topup_bonus(&self, amount: Money) -> Money {
        self.topup_bonus_rules
            .iter()
            .filter(|r| r.min_amount <= amount)
            .max_by_key(|r| r.min_amount)
            .map(|r| r.bonus)
            .unwrap_or(Money::ZERO)
    }

    pub fn validate(&self) -> Result<()> {
        if self.tiers.is_empty() {
            return Err(MembershipError::invalid("tiers", "at least one tier"));
        }
        let mut codes = std::collections::BTreeSet::new();
        let mut last_threshold = -1i64;
        for t in &self.tiers {
            if t.code.trim().is_empty() || !codes.insert(t.code.clone()) {
                return Err(MembershipError::invalid(
                    "tiers",
                    "tier codes must be unique and not empty",
                ));
            }
            for p in t.discount_percent.values() {
                if p.is_sign_negative() || *p > Decimal::ONE_HUNDRED {
                    return Err(MembershipError::invalid(
                        "discount_percent",
                        "between 0 and 100",
                    ));
                }
            }
            if let Some(th) = t.upgrade_at_tier_points {
                if th <= last_threshold && last_threshold >= 0 && th != 0 {
                    return Err(MembershipError::invalid(
                        "upgrade_at_tier_points",
                        "thresholds must rise with the tiers",
                    ));
                }
                last_threshold = th;
            }
        }
        if self.points_per_yuan.values().any(|r| r.is_sign_negative()) {
            return Err(MembershipError::invalid("points_per_yuan", "not negative"));
        }
        if self.term_months == 0 || self.card_valid_months == 0 {
            return Err(MembershipError::invalid(
                "term_months",
                "at least one month",
            ));
        }
        if self.point_value_fen <= 0 {
            return Err(MembershipError::invalid("point_value_fen", "positive"));
        }
        if self
            .topup_bonus_rules
            .iter()
            .any(|r| r.min_amount <= Money::ZERO || r.bonus.is_negative())
        {
            return Err(MembershipError::invalid(
                "topup_bonus_rules",
                "positive threshold, bonus not negative",
            ));
        }
        if self.renewal.points < 0 || self.upgrade.points_for_upgrade < 0 {
            return Err(MembershipError::invalid("points", "not negative"));
        }
        Ok(())
    }
}

fn load_row(conn: &mut DbConnection, store_id: Option<&str>) -> Result<Option<ProgrammeConfig>> {
    let q = mem_programme_configs::table.select(mem_programme_configs::config);
    let raw: Option<String> = match store_id {
        Some(s) => q
            .filter(mem_programme_configs::store_id.eq(s))
            .first(conn)
            .optional()?,
        None => q
            .filter(mem_programme_configs::store_id.is_null())
            .first(conn)
            .optional()?,
    };
    raw.map(|r| {
        serde_json::from_str(&r)
            .map_err(|e| MembershipError::Internal(format!("stored programme config: {e}")))
    })
    .transpose()
}

/// The programme that applies in a store: its override, else the group's, else the defaults.
pub fn effective_config(conn: &mut DbConnection, store_id: &str) -> Result<ProgrammeConfig> {
    // Both documents in one query (every payment asks): the store's wins.
    let rows: Vec<(Option<String>, String)> = mem_programme_configs::table
        .filter(
            mem_programme_configs::store_id
                .eq(store_id)
                .or(mem_programme_configs::store_id.is_null()),
        )
        .select((
            mem_programme_configs::store_id,
            mem_programme_configs::config,
        ))
        .load(conn)?;
    pick_config(rows)
}

/// As [`effective_config`], and 404 `store` when no such store exists: a checkout asks both
/// in one query.
pub fn store_config(conn: &mut DbConnection, store_id: &str) -> Result<ProgrammeConfig> {
    use crate::schema::stores;
    let rows: Vec<(Option<String>, Option<String>)> = stores::table
        .left_join(
            mem_programme_configs::table.on(mem_programme_configs::store_id
                .eq(stores::id.nullable())
                .or(mem_programme_configs::store_id.is_null())),
        )
        .filter(stores::id.eq(store_id))
        .select((
            mem_programme_configs::store_id.nullable(),
            mem_programme_configs::config.nullable(),
        ))
        .load(conn)?;
    if rows.is_empty() {
        return Err(MembershipError::NotFound("store"));
    }
    pick_config(
        rows.into_iter()
            .filter_map(|(s, c)| c.map(|c| (s, c)))
            .collect(),
    )
}

/// The store's own document if it has one, else the group's, else the defaults.
fn pick_config(rows: Vec<(Option<String>, String)>) -> Result<ProgrammeConfig> {
    let raw = rows
        .iter()
        .find(|(s, _)| s.is_some())
        .or_else(|| rows.first())
        .map(|(_, r)| r);
    match raw {
        Some(r) => serde_json::from_str(r)
            .map_err(|e| MembershipError::Internal(format!("stored programme config: {e}"))),
        None => Ok(ProgrammeConfig::default()),
    }
}

/// The group's document (defaults when none was saved).
pub fn group_config(conn: &mut DbConnection) -> Result<ProgrammeConfig> {
    Ok(load_row(conn, None)?.unwrap_or_default())
}

/// Saves the group document (`store_id = None`, needs a group-wide scope) or a store's override.
pub fn set_config(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    clock: &dyn Clock,
    store_id: Option<&str>,
    config: &ProgrammeConfig,
) -> Result<()> {
    config.validate()?;
    match store_id {
        None if scope != &StoreScope::AllStores => {
            return Err(MembershipError::Forbidden(
                "the group programme needs a group-wide role".into(),
            ))
        }
        Some(s) if !scope.allows(s) => return Err(MembershipError::NotFound("store")),
        _ => {}
    }
    let doc =
        serde_json::to_string(config).map_err(|e| MembershipError::Internal(e.to_string()))?;
    crate::util::write(conn, |c| {
        if let Some(s) = store_id {
            crate::util::store_exists(c, s)?;
        }
        let now = now_db(clock);
        let existing: Option<String> = match store_id {
            Some(s) => mem_programme_configs::table
                .filter(mem_programme_configs::store_id.eq(s))
                .select(mem_programme_configs::id)
                .first(c)
                .optional()?,
            None => mem_programme_configs::table
                .filter(mem_programme_configs::store_id.is_null())
                .select(mem_programme_configs::id)
                .first(c)
                .optional()?,
        };
        let id = match existing {
            Some(id) => {
                diesel::update(mem_programme_configs::table.find(&id))
                    .set((
                        mem_programme_configs::config.eq(&doc),
                        mem_programme_configs::updated_at.eq(now),
                    ))
                    .execute(c)?;
                id
            }
            None => {
                let id = dms_core::new_id();
                diesel::insert_into(mem_programme_configs::table)
                    .values((
                        mem_programme_configs::id.eq(&id),
                        mem_programme_configs::store_id.eq(store_id),
                        mem_programme_configs::config.eq(&doc),
                        mem_programme_configs::updated_at.eq(now),
                    ))
                    .execute(c)?;
                id
            }
        };
        audit(
            c,
            actor,
            store_id,
            "membership.config.set",
            "programme_config",
            &id,
            json!({"tiers": config.tiers.iter().map(|t| &t.code).collect::<Vec<_>>()}),
        )
    })
}

/// Removes a store's override so the group document applies again.
pub fn clear_store_config(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    store_id: &str,
) -> Result<()> {
    if !scope.allows(store_id) {
        return Err(MembershipError::NotFound("store"));
    }
    crate::util::write(conn, |c| {
        let n = diesel::delete(
            mem_programme_configs::table.filter(mem_programme_configs::store_id.eq(store_id)),
        )
        .execute(c)?;
        if n > 0 {
            audit(
                c,
                actor,
                Some(store_id),
                "membership.config.clear",
                "programme_config",
                store_id,
                json!({}),
            )?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_carry_the_seed_figures() {
        let c = ProgrammeConfig::default();
        c.validate().unwrap();
        assert_eq!(c.term_months, 12);
        assert_eq!(c.renewal.points, 500);
        assert_eq!(c.renewal.insurance_amount, yuan(3000));
        assert_eq!(c.upgrade.points_for_upgrade, 2000);
        assert_eq!(c.upgrade.single_repair_amount, yuan(5000));
        assert_eq!(c.upgrade.insurance_two_years_amount, yuan(7000));
        assert_eq!(c.points_per_yuan[&Category::Labour], Decimal::ONE);
        assert_eq!(c.topup_bonus(yuan(1000)), yuan(100));
        assert_eq!(c.topup_bonus(yuan(999)), Money::ZERO);
        assert_eq!(c.topup_bonus(yuan(3500)), yuan(400));
        let json = serde_json::to_string(&c).unwrap();
        let back: ProgrammeConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn bad_configs_are_refused() {
        let mut c = ProgrammeConfig::default();
        c.tiers[1]
            .discount_percent
            .insert(Category::Parts, Decimal::from(101));
        assert!(c.validate().is_err());
        let mut c = ProgrammeConfig::default();
        c.tiers[2].code = "silver".into();
        assert!(c.validate().is_err());
        let mut c = ProgrammeConfig::default();
        c.tiers.clear();
        assert!(c.validate().is_err());
    }
}
