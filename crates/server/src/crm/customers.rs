//! The customer record beyond `/customers` itself: search, duplicates, changes, further phones,
//! addresses, tags, consents, the 360 view and the merge.

use super::dto::*;
use crate::auth::{Caller, Principal, Staff};
use crate::error::ApiError;
use crate::extract::{path_id, Body, QueryParams};
use crate::AppState;
use actix_web::{get, patch, post, put, web};
use chrono::Utc;
use dms_api_types::crm::*;
use dms_api_types::Problem;
use dms_core::StoreScope;
use dms_identity::Permission;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(search_customers)
        .service(check_duplicates)
        .service(update_customer)
        .service(add_phone)
        .service(add_address)
        .service(set_tags)
        .service(set_consent)
        .service(customer_360)
        .service(merge_customers)
        .service(import_customers);
}

pub fn channel_of(code: &str, field: &str) -> Result<dms_crm::Channel, ApiError> {
    match code {
        "sms" => Ok(dms_crm::Channel::Sms),
        "email" => Ok(dms_crm::Channel::Email),
        "phone" => Ok(dms_crm::Channel::Phone),
        "wechat" => Ok(dms_crm::Channel::Wechat),
        _ => Err(ApiError::invalid(
            field,
            "invalid",
            "sms, email, phone or wechat",
        )),
    }
}

pub fn address_of(a: AddressInput) -> dms_crm::NewAddress {
    dms_crm::NewAddress {
        label: a.label,
        province: a.province,
        city: a.city,
        district: a.district,
        line: a.line,
        postal_code: a.postal_code,
    }
}

const P401: &str = "Not logged in";

/// Finds customers the way the front desk types.
#[utoipa::path(
    tag = "customers",
    description = "Search by name prefix (Chinese included), phone prefix (3+ digits, primary or further numbers), plate (`京A12345`, `京A·123`, prefix) \
or 17-character VIN. At most `limit` (default 50) matches, no cursor. Customers of the caller's stores only.\n\n**Permission:** `customers.read`.",
    params(CustomerSearchParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = CrmCustomerPage),
        (status = 401, description = P401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No or too short a query", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/customers/search")]
pub async fn search_customers(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<CustomerSearchParams>,
) -> Result<web::Json<CrmCustomerPage>, ApiError> {
    let scope = staff.require(Permission::CustomersRead)?;
    let p = q.0;
    crate::routes::customers::search(&state, scope, p.q, p.limit.unwrap_or(50))
        .await
        .map(web::Json)
}

/// Who this new record might duplicate.
#[utoipa::path(
    tag = "customers",
    description = "Existing customers (any store of the group) sharing a phone, the ID number or a car's VIN with the probe: \
`matched_on` is `phone`, `id_number` or `vin`. Nothing is written.\n\n**Permission:** `customers.read`.",
    request_body = DuplicateCheckRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = DuplicateCheckDto),
        (status = 401, description = P401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An invalid phone, ID number or VIN", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/customers/duplicates")]
pub async fn check_duplicates(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<DuplicateCheckRequest>,
) -> Result<web::Json<DuplicateCheckDto>, ApiError> {
    staff.require(Permission::CustomersRead)?;
    let b = body.0;
    let mut phones = vec![];
    for (i, p) in b.phones.iter().enumerate() {
        phones.push(dms_crm::check_phone(p, true).map_err(|_| {
            ApiError::invalid(&format!("phones[{i}]"), "invalid", "not a phone number")
        })?);
    }
    let id_number = b
        .id_number
        .as_deref()
        .map(dms_crm::IdNumber::parse)
        .transpose()
        .map_err(|_| ApiError::invalid("id_number", "invalid", "not a valid ID number"))?;
    let mut vins = vec![];
    for (i, v) in b.vins.iter().enumerate() {
        let vin = dms_crm::Vin::parse(v, dms_crm::VinPolicy::AllowBadCheckDigit)
            .map_err(|_| ApiError::invalid(&format!("vins[{i}]"), "invalid", "not a VIN"))?;
        vins.push(vin.as_str().to_string());
    }
    let probe = dms_crm::DuplicateProbe {
        phones,
        id_number,
        vins,
    };
    let matches = state
        .db(move |c| Ok(dms_crm::find_duplicates(c, &probe)?))
        .await?;
    Ok(web::Json(DuplicateCheckDto {
        matches: matches.into_iter().map(match_dto).collect(),
    }))
}

/// Changes the customer record.
#[utoipa::path(
    tag = "customers",
    description = "Changes the fields given; `null` clears an optional one. A new phone must not be another customer's login phone (409). Audited \
(field names only, never the values of an ID number).\n\n**Permission:** `customers.write` in the customer's home store.",
    params(("id" = String, Path, description = "Customer id")),
    request_body = UpdateCustomerRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = CrmCustomerDto),
        (status = 401, description = P401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Phone taken, or the record was merged away", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[patch("/customers/{id}")]
pub async fn update_customer(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<UpdateCustomerRequest>,
) -> Result<web::Json<CrmCustomerDto>, ApiError> {
    let scope = staff.require(Permission::CustomersWrite)?;
    let id = path_id(&id, "customer")?;
    let b = body.0;
    let owner = match &b.owner_staff_id {
        Some(Some(s)) => Some(Some(body_id(s, "owner_staff_id")?)),
        Some(None) => Some(None),
        None => None,
    };
    let upd = dms_crm::CustomerUpdate {
        name: b.name,
        phone: b.phone,
        email: b.email,
        gender: b.gender,
        id_number: b.id_number,
        birthday: b.birthday,
        contact_person: b.contact_person,
        tax_id: b.tax_id,
        preferences: b.preferences,
        notes: b.notes,
        owner_staff_id: owner,
    };
    let actor = staff.actor();
    let c = state
        .db(move |c| {
            Ok(dms_crm::update_customer(
                c,
                &actor,
                &scope,
                &id,
                &upd,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(web::Json(crm_customer_dto(c)))
}

/// Adds a further phone number.
#[utoipa::path(
    tag = "customers",
    description = "A further number (home, office...). One that another customer already has is refused as a likely duplicate (409 `duplicate_suspected`) \
unless `allow_duplicate`. Audited.\n\n**Permission:** `customers.write` in the customer's home store.",
    params(("id" = String, Path, description = "Customer id")),
    request_body = AddPhoneRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = CustomerProfileDto),
        (status = 401, description = P401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already this customer's, or another's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a phone number", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/customers/{id}/phones")]
pub async fn add_phone(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<AddPhoneRequest>,
) -> Result<web::Json<CustomerProfileDto>, ApiError> {
    let scope = staff.require(Permission::CustomersWrite)?;
    let id = path_id(&id, "customer")?;
    let b = body.0;
    let actor = staff.actor();
    let p = state
        .db(move |c| {
            dms_crm::add_customer_phone(
                c,
                &actor,
                &scope,
                &id,
                &dms_crm::NewPhone {
                    phone: b.phone,
                    label: b.label,
                },
                b.allow_duplicate,
                Utc::now(),
            )?;
            Ok(dms_crm::get_customer_profile(c, &scope, &id)?)
        })
        .await?;
    Ok(web::Json(profile_dto(p)))
}

/// Adds an address.
#[utoipa::path(
    tag = "customers",
    description = "Audited.\n\n**Permission:** `customers.write` in the customer's home store.",
    params(("id" = String, Path, description = "Customer id")),
    request_body = AddressInput,
    security(("bearer" = [])),
    responses(
        (status = 200, body = CustomerProfileDto),
        (status = 401, description = P401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "City and street are required", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/customers/{id}/addresses")]
pub async fn add_address(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<AddressInput>,
) -> Result<web::Json<CustomerProfileDto>, ApiError> {
    let scope = staff.require(Permission::CustomersWrite)?;
    let id = path_id(&id, "customer")?;
    let a = address_of(body.0);
    let actor = staff.actor();
    let p = state
        .db(move |c| {
            dms_crm::add_customer_address(c, &actor, &scope, &id, &a, Utc::now())?;
            Ok(dms_crm::get_customer_profile(c, &scope, &id)?)
        })
        .await?;
    Ok(web::Json(profile_dto(p)))
}

/// Replaces the customer's tags.
#[utoipa::path(
    tag = "customers",
    description = "The whole tag set (1-32 characters each). Audited.\n\n**Permission:** `customers.write` in the customer's home store.",
    params(("id" = String, Path, description = "Customer id")),
    request_body = TagsRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = CustomerProfileDto),
        (status = 401, description = P401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A tag is empty or too long", body = Problem, content_type = "application/problem+json")
    )
)]
#[put("/customers/{id}/tags")]
pub async fn set_tags(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<TagsRequest>,
) -> Result<web::Json<CustomerProfileDto>, ApiError> {
    let scope = staff.require(Permission::CustomersWrite)?;
    let id = path_id(&id, "customer")?;
    let tags = body.0.tags;
    let actor = staff.actor();
    let p = state
        .db(move |c| {
            dms_crm::set_customer_tags(c, &actor, &scope, &id, &tags, Utc::now())?;
            Ok(dms_crm::get_customer_profile(c, &scope, &id)?)
        })
        .await?;
    Ok(web::Json(profile_dto(p)))
}

/// Records consent (or its withdrawal) to marketing messages on one channel.
#[utoipa::path(
    tag = "customers",
    description = "With the day and the source. The outbox sends marketing messages only with consent, and nothing on a withdrawn channel. Audited.\n\n\
**Permission:** `customers.write` in the customer's home store.",
    params(("id" = String, Path, description = "Customer id")),
    request_body = ConsentRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = CustomerProfileDto),
        (status = 401, description = P401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown channel or a day in the future", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/customers/{id}/consents")]
pub async fn set_consent(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<ConsentRequest>,
) -> Result<web::Json<CustomerProfileDto>, ApiError> {
    let scope = staff.require(Permission::CustomersWrite)?;
    let id = path_id(&id, "customer")?;
    let b = body.0;
    let consent = dms_crm::ConsentInput {
        channel: channel_of(&b.channel, "channel")?,
        granted: b.granted,
        on: b.on,
        source: b.source,
    };
    let actor = staff.actor();
    let p = state
        .db(move |c| {
            dms_crm::set_consent(c, &actor, &scope, &id, &consent, Utc::now())?;
            Ok(dms_crm::get_customer_profile(c, &scope, &id)?)
        })
        .await?;
    Ok(web::Json(profile_dto(p)))
}

/// Customer 360.
#[utoipa::path(
    tag = "customers",
    description = "What a service advisor sees when the customer walks in: the profile, the cars, open leads, recent visits, open follow-up tasks and \
complaints, answered surveys, and blocks other domains contribute under `sections` (the member club's `membership`: member, tier, cards). \
Store-owned activity is shown from the caller's stores only.\n\n**Permission:** `customers.read` in the customer's home store, or the customer's own token.",
    params(("id" = String, Path, description = "Customer id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Customer360Dto),
        (status = 401, description = P401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/customers/{id}/360")]
pub async fn customer_360(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<web::Json<Customer360Dto>, ApiError> {
    let id = path_id(&id, "customer")?;
    let scope = match &caller.principal {
        Principal::Staff(p) => {
            let s = p.scope(Permission::CustomersRead);
            if s.is_empty() {
                return Err(ApiError::Forbidden(format!(
                    "requires permission {}",
                    Permission::CustomersRead
                )));
            }
            s
        }
        Principal::Customer(c) if c.id == id => StoreScope::AllStores,
        Principal::Customer(_) => return Err(ApiError::NotFound("customer")),
    };
    let st = state.clone();
    let v = state
        .db(move |c| {
            let extra: Vec<&dyn dms_crm::Customer360Section> = st
                .crm
                .sections
                .iter()
                .map(|s| s.as_ref() as &dyn dms_crm::Customer360Section)
                .collect();
            Ok(dms_crm::customer_360(c, &scope, &id, &extra)?)
        })
        .await?;
    Ok(web::Json(Customer360Dto {
        profile: profile_dto(v.profile),
        vehicles: v.vehicles.into_iter().map(vehicle_dto).collect(),
        open_leads: v.open_leads.into_iter().map(lead_dto).collect(),
        recent_visits: v.recent_visits.into_iter().map(visit_dto).collect(),
        open_tasks: v.open_tasks.into_iter().map(task_dto).collect(),
        open_complaints: v.open_complaints.into_iter().map(complaint_dto).collect(),
        satisfaction: v.satisfaction.into_iter().map(survey_dto).collect(),
        sections: v.sections,
    }))
}

/// Merges a duplicate into this customer.
#[utoipa::path(
    tag = "customers",
    description = "Moves every linked row of `merged_id` (phones, addresses, tags, consents, vehicles and their owner history, visits, leads, tasks, \
complaints, surveys, messages, and other domains' registered tables) to the customer in the path, fills the survivor's empty fields from the merged \
record, keeps the merged record as `status = merged` pointing at the survivor (its login phone becomes a further number of the survivor), and writes \
one audit entry with the rows moved per table. Both must be active and in the caller's stores. The member club refuses (409) when both are members.\n\n\
**Permission:** `customers.write` and a manager's role (group admin, general, store, sales or service manager) in both customers' stores.",
    params(("id" = String, Path, description = "The surviving customer")),
    request_body = MergeRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = MergeReportDto),
        (status = 401, description = P401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission or a manager's role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "One of them is already merged, or both are members", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Merging a customer into itself", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/customers/{id}/merge")]
pub async fn merge_customers(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<MergeRequest>,
) -> Result<web::Json<MergeReportDto>, ApiError> {
    let scope = merge_scope(&staff)?;
    let id = path_id(&id, "customer")?;
    let merged = body_id(&body.0.merged_id, "merged_id")?;
    let actor = staff.actor();
    let st = state.clone();
    let r = state
        .db(move |c| {
            Ok(dms_crm::merge_customers(
                c,
                &actor,
                &scope,
                &id,
                &merged,
                &st.crm.merge,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(web::Json(MergeReportDto {
        merge_id: r.merge_id,
        survivor_id: r.survivor_id,
        merged_id: r.merged_id,
        moved: r
            .moved
            .into_iter()
            .map(|(k, n)| (k.to_string(), n))
            .collect(),
        filled: r.filled.into_iter().map(str::to_string).collect(),
    }))
}

/// Imports a department's customer list.
#[utoipa::path(
    tag = "customers",
    description = "Row by row, each in its own transaction: a bad row or a likely duplicate is reported and does not stop the others; duplicates \
within the list are caught too. A row whose shape is wrong (unknown store id format, unknown kind) fails the whole request with a 422 on `rows[i].field`. \
Audited per customer.\n\n**Permission:** `customers.write` in the rows' stores.",
    request_body = ImportCustomersRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = ImportReportDto),
        (status = 401, description = P401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A row is malformed", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/customers/import")]
pub async fn import_customers(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<ImportCustomersRequest>,
) -> Result<web::Json<ImportReportDto>, ApiError> {
    let scope = staff.require(Permission::CustomersWrite)?;
    let mut rows = vec![];
    for (i, r) in body.0.rows.into_iter().enumerate() {
        rows.push(crate::routes::customers::new_customer_of(
            r,
            &format!("rows[{i}]."),
        )?);
    }
    let actor = staff.actor();
    let r = state
        .db(move |c| {
            Ok(dms_crm::import_customers(
                c,
                &actor,
                &scope,
                &rows,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(web::Json(ImportReportDto {
        created: r.created,
        duplicates: r
            .duplicates
            .into_iter()
            .map(|(row, m)| ImportDuplicateDto {
                row,
                matches: m.into_iter().map(match_dto).collect(),
            })
            .collect(),
        rejected: r
            .rejected
            .into_iter()
            .map(|(row, e)| {
                let (field, message) = match e {
                    dms_crm::CrmError::Invalid { field, message }
                    | dms_crm::CrmError::Conflict { field, message } => {
                        (field.to_string(), message)
                    }
                    other => ("row".to_string(), other.to_string()),
                };
                ImportRejectedDto {
                    row,
                    field,
                    message,
                }
            })
            .collect(),
    }))
}
