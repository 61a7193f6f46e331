//! Money as the API writes it (decimal strings, two places) in fen for sums and checks, and the
//! programme's top-up bonus rule, computed here so the cashier sees the bonus before confirming.

/// `"680.5"` → 68050 fen; `None` for anything that is not a non-negative amount with at most
/// two decimals.
pub fn parse_fen(s: &str) -> Option<i64> {
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty()
        || int.len() > 12
        || frac.len() > 2
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || (s.contains('.') && frac.is_empty())
    {
        return None;
    }
    let int: i64 = int.parse().ok()?;
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    Some(int * 100 + frac)
}

/// 68050 → `"680.50"`.
pub fn fmt_fen(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// `¥680.50` for display; the raw string when it does not parse.
pub fn yuan(s: &str) -> String {
    match s.trim().strip_prefix('-') {
        Some(rest) => parse_fen(rest).map(|f| format!("-¥{}", fmt_fen(f))),
        None => parse_fen(s).map(|f| format!("¥{}", fmt_fen(f))),
    }
    .unwrap_or_else(|| s.to_string())
}

/// One top-up bonus rule: paying at least `min` fen adds `bonus` fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BonusRule {
    pub min: i64,
    pub bonus: i64,
}

/// The rules of a programme document (`topup_bonus_rules`), lowest threshold first.
pub fn bonus_rules(programme: &serde_json::Value) -> Vec<BonusRule> {
    let mut rules: Vec<BonusRule> = programme
        .get("topup_bonus_rules")
        .and_then(|r| r.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|r| {
                    Some(BonusRule {
                        min: parse_fen(r.get("min_amount")?.as_str()?)?,
                        bonus: parse_fen(r.get("bonus")?.as_str()?)?,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    rules.sort_by_key(|r| r.min);
    rules
}

/// The bonus one top-up earns: the rule with the highest threshold it reaches (as the server).
pub fn topup_bonus(rules: &[BonusRule], amount: i64) -> Option<BonusRule> {
    rules
        .iter()
        .filter(|r| r.min <= amount)
        .max_by_key(|r| r.min)
        .copied()
}

/// A tier's display name and discount rates from the programme document.
/// The programme's tiers in its order, as (code, name): the tier choices wherever a list is
/// offered, since stores configure their own tiers.
pub fn tier_list(programme: &serde_json::Value) -> Vec<(String, String)> {
    programme
        .get("tiers")
        .and_then(|t| t.as_array())
        .map(|tiers| {
            tiers
                .iter()
                .filter_map(|t| {
                    let code = t.get("code")?.as_str()?.to_string();
                    let name = t
                        .get("name")
                        .and_then(|n| n.as_str())
                        .unwrap_or(&code)
                        .to_string();
                    Some((code, name))
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn tier_info(
    programme: &serde_json::Value,
    code: &str,
) -> Option<(String, Vec<(String, String)>)> {
    let tier = programme
        .get("tiers")?
        .as_array()?
        .iter()
        .find(|t| t.get("code").and_then(|c| c.as_str()) == Some(code))?;
    let name = tier.get("name")?.as_str()?.to_string();
    let discounts = tier
        .get("discount_percent")
        .and_then(|d| d.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    Some((name, discounts))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tier_list_follows_the_programme() {
        let p = serde_json::json!({"tiers": [
            {"code": "standard", "name": "普卡"},
            {"code": "platinum", "name": "铂金卡"},
            {"code": "nameless"}
        ]});
        assert_eq!(
            tier_list(&p),
            vec![
                ("standard".to_string(), "普卡".to_string()),
                ("platinum".to_string(), "铂金卡".to_string()),
                ("nameless".to_string(), "nameless".to_string()),
            ]
        );
        assert!(tier_list(&serde_json::Value::Null).is_empty());
    }

    use super::*;

    #[test]
    fn amounts_parse_and_format() {
        assert_eq!(parse_fen("680"), Some(68000));
        assert_eq!(parse_fen("680.5"), Some(68050));
        assert_eq!(parse_fen("0.05"), Some(5));
        assert_eq!(parse_fen(" 12.34 "), Some(1234));
        for bad in ["", "-1", "1.234", "1.", ".5", "abc", "1e3", "1234567890123"] {
            assert_eq!(parse_fen(bad), None, "{bad}");
        }
        assert_eq!(fmt_fen(68050), "680.50");
        assert_eq!(fmt_fen(-5), "-0.05");
        assert_eq!(yuan("206.85"), "¥206.85");
        assert_eq!(yuan("-50.00"), "-¥50.00");
    }

    #[test]
    fn the_bonus_is_the_highest_rule_reached() {
        let programme = serde_json::json!({"topup_bonus_rules": [
            {"min_amount": "3000.00", "bonus": "400.00"},
            {"min_amount": "1000.00", "bonus": "100.00"},
            {"min_amount": "5000.00", "bonus": "800.00"},
        ]});
        let rules = bonus_rules(&programme);
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[0].min, 100_000);
        assert_eq!(topup_bonus(&rules, 99_999), None);
        assert_eq!(topup_bonus(&rules, 100_000).map(|r| r.bonus), Some(10_000));
        assert_eq!(topup_bonus(&rules, 450_000).map(|r| r.bonus), Some(40_000));
        assert_eq!(topup_bonus(&rules, 900_000).map(|r| r.bonus), Some(80_000));
        assert!(bonus_rules(&serde_json::json!({})).is_empty());
    }

    #[test]
    fn tiers_from_the_programme() {
        let programme = serde_json::json!({"tiers": [
            {"code": "gold", "name": "金卡", "discount_percent": {"labour": "10"}}
        ]});
        let (name, discounts) = tier_info(&programme, "gold").unwrap_or_default();
        assert_eq!(name, "金卡");
        assert_eq!(discounts, vec![("labour".to_string(), "10".to_string())]);
        assert!(tier_info(&programme, "none").is_none());
    }
}
