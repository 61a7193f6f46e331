//! The member club's side of the CRM: a customer merge takes the membership along
//! ([`MemberLinks`], a `dms_crm::CustomerLinks` for `MergeRegistry::register`), and the CRM's
//! search finds customers by member card number ([`CardNumbers`], a `dms_crm::CardLookup`), and
//! segments select by tier ([`Tiers`], a `dms_crm::TierLookup`), and the daily care run reminds
//! of expiring memberships ([`MembershipExpiry`], a `dms_crm::CareSource`).
//!
//! `mem_members.customer_id` is unique: when only the merged-away customer is a member, the
//! member (with its cards, ledgers and coupons, which hang off the member) moves to the
//! survivor; when both are members the merge is refused with a conflict, since two stored-value
//! and points histories cannot be joined by a merge: close or return one membership first.

use crate::schema::{mem_cards, mem_members};
use diesel::prelude::*;
use dms_crm::CrmError;
use dms_db::DbConnection;

pub struct MemberLinks;

impl dms_crm::CustomerLinks for MemberLinks {
    fn name(&self) -> &'static str {
        "membership.members"
    }

    fn move_customer(
        &self,
        conn: &mut DbConnection,
        from: &str,
        into: &str,
    ) -> dms_crm::Result<u64> {
        let count = |c: &mut DbConnection, id: &str| -> dms_crm::Result<i64> {
            Ok(mem_members::table
                .filter(mem_members::customer_id.eq(id))
                .count()
                .get_result(c)?)
        };
        let theirs = count(conn, from)?;
        if theirs == 0 {
            return Ok(0);
        }
        if count(conn, into)? > 0 {
            return Err(CrmError::conflict(
                "merged_id",
                "both customers are members of the club; close or return one membership before merging",
            ));
        }
        Ok(
            diesel::update(mem_members::table.filter(mem_members::customer_id.eq(from)))
                .set(mem_members::customer_id.eq(into))
                .execute(conn)? as u64,
        )
    }
}

/// Customers holding a card with this number (any status), for the CRM's search.
pub struct CardNumbers;

impl dms_crm::CardLookup for CardNumbers {
    fn customers_by_card(
        &self,
        conn: &mut DbConnection,
        card_number: &str,
    ) -> dms_crm::Result<Vec<String>> {
        let members: Vec<String> = mem_cards::table
            .filter(mem_cards::card_no.eq(card_number.trim()))
            .select(mem_cards::member_id)
            .load(conn)?;
        if members.is_empty() {
            return Ok(vec![]);
        }
        Ok(mem_members::table
            .filter(mem_members::id.eq_any(members))
            .select(mem_members::customer_id)
            .load(conn)?)
    }
}

/// Customers whose active membership is in one of the tiers, for the CRM's segments.
pub struct Tiers;

impl dms_crm::TierLookup for Tiers {
    fn customers_in_tiers(
        &self,
        conn: &mut DbConnection,
        tiers: &[String],
    ) -> dms_crm::Result<Vec<String>> {
        Ok(mem_members::table
            .filter(mem_members::tier_code.eq_any(tiers))
            .filter(mem_members::status.eq("active"))
            .select(mem_members::customer_id)
            .load(conn)?)
    }
}

/// The care engine's membership-expiry reminder: a call task for every active member whose
/// term ends within `days_before` days (once per member and expiry date).
pub struct MembershipExpiry {
    pub days_before: u32,
}

impl dms_crm::CareSource for MembershipExpiry {
    fn candidates(
        &self,
        conn: &mut DbConnection,
        today: chrono::NaiveDate,
    ) -> dms_crm::Result<Vec<dms_crm::CareCandidate>> {
        let from = today.and_time(chrono::NaiveTime::MIN);
        let until = from + chrono::Duration::days(i64::from(self.days_before) + 1);
        let rows: Vec<(String, String, String, chrono::NaiveDateTime)> = mem_members::table
            .filter(mem_members::status.eq("active"))
            .filter(mem_members::term_expires_at.ge(from))
            .filter(mem_members::term_expires_at.lt(until))
            .select((
                mem_members::id,
                mem_members::store_id,
                mem_members::customer_id,
                mem_members::term_expires_at,
            ))
            .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|(id, store, customer, expires)| {
                let on = expires.date();
                dms_crm::CareCandidate {
                    rule: "membership_expiry",
                    dedupe_key: format!("membership_expiry:{id}:{on}"),
                    store_id: store,
                    customer_id: Some(customer),
                    vehicle_id: None,
                    title: format!("会员资格将于{on}到期，请提醒续会"),
                    due_on: today,
                }
            })
            .collect())
    }
}
