//! Domain rows as API bodies, and the access helpers every CRM handler shares.

use crate::auth::Staff;
use crate::error::ApiError;
use dms_api_types::crm::*;
use dms_api_types::CustomerDto;
use dms_core::StoreScope;
use dms_identity::{Permission, Role};

pub fn crm_customer_dto(c: dms_crm::Customer) -> CrmCustomerDto {
    CrmCustomerDto {
        base: CustomerDto {
            id: c.id,
            store_id: c.store_id,
            name: c.name,
            phone: c.phone,
            created_at: c.created_at,
            updated_at: c.updated_at,
        },
        kind: c.kind.code().to_string(),
        gender: c.gender,
        email: c.email,
        id_number_masked: c.id_number.as_ref().map(|n| n.masked()),
        birthday: c.birthday,
        contact_person: c.contact_person,
        tax_id: c.tax_id,
        preferences: c.preferences,
        notes: c.notes,
        owner_staff_id: c.owner_staff_id,
        status: c.status,
        merged_into_id: c.merged_into_id,
    }
}

pub fn profile_dto(p: dms_crm::CustomerProfile) -> CustomerProfileDto {
    CustomerProfileDto {
        customer: crm_customer_dto(p.customer),
        phones: p
            .phones
            .into_iter()
            .map(|x| CustomerPhoneDto {
                id: x.id,
                phone: x.phone,
                label: x.label,
            })
            .collect(),
        addresses: p
            .addresses
            .into_iter()
            .map(|a| CustomerAddressDto {
                id: a.id,
                label: a.label,
                province: a.province,
                city: a.city,
                district: a.district,
                line: a.line,
                postal_code: a.postal_code,
            })
            .collect(),
        tags: p.tags,
        consents: p
            .consents
            .into_iter()
            .map(|c| ConsentDto {
                channel: c.channel,
                granted: c.granted,
                on: c.consent_on,
                source: c.source,
            })
            .collect(),
    }
}

pub fn match_dto(m: dms_crm::DuplicateMatch) -> DuplicateMatchDto {
    DuplicateMatchDto {
        customer_id: m.customer_id,
        store_id: m.store_id,
        name: m.name,
        matched_on: serde_json::to_value(m.matched_on)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        field: m.field,
    }
}

pub fn vehicle_dto(v: dms_crm::Vehicle) -> VehicleDto {
    VehicleDto {
        id: v.id,
        store_id: v.store_id,
        vin: v.vin,
        vin_check_ok: v.vin_check_ok,
        plate: v.plate,
        brand: v.brand,
        model: v.model,
        trim_level: v.trim_level,
        colour: v.colour,
        model_year: v.model_year,
        purchase_date: v.purchase_date,
        delivery_date: v.delivery_date,
        warranty_end: v.warranty_end,
        insurance_expiry: v.insurance_expiry,
        insurer: v.insurer,
        inspection_due: v.inspection_due,
        first_service_done: v.first_service_done,
        last_service_on: v.last_service_on,
        customer_id: v.customer_id,
        status: v.status,
    }
}

pub fn lead_dto(l: dms_crm::Lead) -> LeadDto {
    LeadDto {
        id: l.id,
        store_id: l.store_id,
        customer_id: l.customer_id,
        name: l.name,
        phone: l.phone,
        source_channel: l.source_channel,
        interest_brand: l.interest_brand,
        interest_model: l.interest_model,
        grade: l.grade,
        assigned_to: l.assigned_to,
        status: l.status,
        lost_reason: l.lost_reason,
        next_follow_up_on: l.next_follow_up_on,
        last_contact_at: l.last_contact_at.map(dms_db::from_db_time),
    }
}

pub fn task_dto(t: dms_crm::FollowUpTask) -> TaskDto {
    TaskDto {
        id: t.id,
        store_id: t.store_id,
        customer_id: t.customer_id,
        vehicle_id: t.vehicle_id,
        rule: t.rule,
        title: t.title,
        due_on: t.due_on,
        assigned_to: t.assigned_to,
        status: t.status,
        outcome: t.outcome,
        refusal_reason: t.refusal_reason,
        note: t.note,
    }
}

pub fn complaint_dto(x: dms_crm::Complaint) -> ComplaintDto {
    ComplaintDto {
        id: x.id,
        store_id: x.store_id,
        customer_id: x.customer_id,
        vehicle_id: x.vehicle_id,
        order_ref: x.order_ref,
        work_order_ref: x.work_order_ref,
        channel: x.channel,
        category: x.category,
        severity: x.severity,
        description: x.description,
        assigned_to: x.assigned_to,
        status: x.status,
        due_at: dms_db::from_db_time(x.due_at),
        escalation_level: x.escalation_level,
        resolution: x.resolution,
        customer_satisfied: x.customer_satisfied,
    }
}

pub fn survey_dto(s: dms_crm::Survey) -> SurveyDto {
    SurveyDto {
        id: s.id,
        store_id: s.store_id,
        customer_id: s.customer_id,
        occasion: s.occasion,
        subject_ref: s.subject_ref,
        advisor_id: s.advisor_id,
        consultant_id: s.consultant_id,
        status: s.status,
        sent_at: dms_db::from_db_time(s.sent_at),
        answered_at: s.answered_at.map(dms_db::from_db_time),
        csat: s.csat,
        nps: s.nps,
    }
}

pub fn visit_dto(v: dms_crm::ServiceVisit) -> ServiceVisitDto {
    ServiceVisitDto {
        id: v.id,
        store_id: v.store_id,
        vehicle_id: v.vehicle_id,
        visited_on: v.visited_on,
        kind: v.kind,
        km: v.km,
    }
}

pub fn question_dto(q: dms_crm::Question) -> QuestionDto {
    let (kind, min, max) = match q.kind {
        dms_crm::QuestionKind::Csat => ("csat", None, None),
        dms_crm::QuestionKind::Nps => ("nps", None, None),
        dms_crm::QuestionKind::Scale { min, max } => ("scale", Some(min), Some(max)),
        dms_crm::QuestionKind::Text => ("text", None, None),
    };
    QuestionDto {
        code: q.code,
        text: q.text,
        kind: kind.into(),
        min,
        max,
        required: q.required,
    }
}

pub fn question_from(i: usize, q: &QuestionDto) -> Result<dms_crm::Question, ApiError> {
    let kind = match (q.kind.as_str(), q.min, q.max) {
        ("csat", _, _) => dms_crm::QuestionKind::Csat,
        ("nps", _, _) => dms_crm::QuestionKind::Nps,
        ("text", _, _) => dms_crm::QuestionKind::Text,
        ("scale", Some(min), Some(max)) if min < max => dms_crm::QuestionKind::Scale { min, max },
        ("scale", _, _) => {
            return Err(ApiError::invalid(
                &format!("questions[{i}].min"),
                "invalid",
                "a scale needs min < max",
            ))
        }
        _ => {
            return Err(ApiError::invalid(
                &format!("questions[{i}].kind"),
                "invalid",
                "csat, nps, scale or text",
            ))
        }
    };
    Ok(dms_crm::Question {
        code: q.code.clone(),
        text: q.text.clone(),
        kind,
        required: q.required,
    })
}

/// A store id from a body: malformed is a 422 on the field (an unknown one is the domain's).
pub fn body_id(raw: &str, field: &str) -> Result<String, ApiError> {
    dms_core::parse_id(raw).map_err(|_| ApiError::invalid(field, "invalid_id", "not an id"))
}

pub fn opt_body_id(raw: &Option<String>, field: &str) -> Result<Option<String>, ApiError> {
    raw.as_deref().map(|r| body_id(r, field)).transpose()
}

/// Roles that see every lead of their stores (the others see their own).
const LEAD_MANAGERS: &[Role] = &[
    Role::GroupAdmin,
    Role::GeneralManager,
    Role::StoreManager,
    Role::SalesManager,
];

/// Roles that may merge customers (with `customers.write`).
const MERGE_ROLES: &[Role] = &[
    Role::GroupAdmin,
    Role::GeneralManager,
    Role::StoreManager,
    Role::SalesManager,
    Role::ServiceManager,
];

/// Who sees which leads: managers their stores', consultants their own.
pub fn lead_access(staff: &Staff) -> Result<dms_crm::LeadAccess, ApiError> {
    let scope = staff.require(Permission::LeadsWork)?;
    let manager = staff
        .principal
        .grants
        .iter()
        .any(|g| LEAD_MANAGERS.contains(&g.role));
    Ok(if manager {
        dms_crm::LeadAccess::manager(scope)
    } else {
        dms_crm::LeadAccess::consultant(scope, &staff.principal.user.id)
    })
}

/// The stores where the caller may merge customers: `customers.write` and a manager's role.
pub fn merge_scope(staff: &Staff) -> Result<StoreScope, ApiError> {
    staff.require(Permission::CustomersWrite)?;
    let mut stores = vec![];
    for g in &staff.principal.grants {
        if MERGE_ROLES.contains(&g.role) && g.role.grants(Permission::CustomersWrite) {
            match &g.store_id {
                None => return Ok(StoreScope::AllStores),
                Some(s) => stores.push(s.clone()),
            }
        }
    }
    if stores.is_empty() {
        Err(ApiError::Forbidden(
            "merging customers requires customers.write and a manager's role".into(),
        ))
    } else {
        Ok(StoreScope::Stores(stores))
    }
}
