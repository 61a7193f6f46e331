//! `/customers`: the CRM's customer record (list, search, one, create with duplicate check).
//! The rest of the customer's endpoints (profile parts, 360, merge) are in `crate::crm`.

use crate::auth::{Caller, Principal, Staff};
use crate::crm::{body_id, crm_customer_dto, opt_body_id};
use crate::error::ApiError;
use crate::extract::{page_request, path_id, Body, QueryParams};
use crate::AppState;
use actix_web::{get, post, web, HttpResponse};
use chrono::Utc;
use dms_api_types::crm::{CrmCustomerDto, CrmCustomerPage, CustomerListParams, NewCustomerRequest};
use dms_api_types::{PageParams, Problem};
use dms_core::StoreScope;
use dms_identity::Permission;

/// Customers of the caller's stores.
#[utoipa::path(
    tag = "customers",
    description = "Customers whose home store is one of the caller's, in creation order, filtered by tag, kind or owner. \
With `q` the answer is a search instead (name prefix, phone prefix of 3+ digits, plate or VIN; one page, no cursor), as `GET /customers/search`. \
Merged-away records are left out.\n\n**Permission:** `customers.read`.",
    params(CustomerListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = CrmCustomerPage),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid cursor, limit or filter", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/customers")]
pub async fn list_customers(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<CustomerListParams>,
) -> Result<web::Json<CrmCustomerPage>, ApiError> {
    let scope = staff.require(Permission::CustomersRead)?;
    let p = q.0;
    if let Some(query) = p.q.clone() {
        let limit = p.limit.unwrap_or(50);
        return search(&state, scope, query, limit).await.map(web::Json);
    }
    let page = page_request(&PageParams {
        cursor: p.cursor.clone(),
        limit: p.limit,
    })?;
    let kind = match p.kind.as_deref() {
        None => None,
        Some(k) => Some(
            dms_crm::CustomerKind::from_code(k)
                .ok_or_else(|| ApiError::invalid("kind", "invalid", "individual or company"))?,
        ),
    };
    let filter = dms_crm::CustomerFilter {
        tag: p.tag,
        owner_staff_id: p.owner_staff_id,
        kind,
        include_merged: false,
    };
    let (rows, next) = state
        .db(move |c| Ok(dms_crm::list_customers(c, &scope, &filter, &page)?))
        .await?;
    Ok(web::Json(CrmCustomerPage {
        items: rows.into_iter().map(crm_customer_dto).collect(),
        next_cursor: next,
    }))
}

pub async fn search(
    state: &AppState,
    scope: StoreScope,
    q: String,
    limit: u32,
) -> Result<CrmCustomerPage, ApiError> {
    let rows = state
        .db(move |c| {
            Ok(dms_crm::search_customers(
                c,
                &scope,
                &q,
                Some(&dms_membership::merge::CardNumbers),
                limit,
            )?)
        })
        .await?;
    Ok(CrmCustomerPage {
        items: rows.into_iter().map(crm_customer_dto).collect(),
        next_cursor: None,
    })
}

/// One customer.
#[utoipa::path(
    tag = "customers",
    description = "The customer record (ID number masked). A merged-away record answers with `status = merged` and `merged_into_id`.\n\n\
**Permission:** `customers.read` in the customer's home store, or the customer's own token (owners' app). \
Anything else reads as 404.",
    params(("id" = String, Path, description = "Customer id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = CrmCustomerDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/customers/{id}")]
pub async fn get_customer(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
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
        // Own data only: any other id is simply not there for this caller.
        Principal::Customer(c) if c.id == id => StoreScope::AllStores,
        Principal::Customer(_) => return Err(ApiError::NotFound("customer")),
    };
    let c = state
        .db(move |c| Ok(dms_crm::get_customer(c, &scope, &id)?))
        .await?;
    Ok(HttpResponse::Ok().json(crm_customer_dto(c)))
}

/// Registers a customer.
#[utoipa::path(
    tag = "customers",
    description = "Creates the customer record: name, mobile number and home store, and optionally the rest (kind, further phones, e-mail, \
ID number, birthday, tags, addresses, consents, the cars' VINs). Likely duplicates (same phone, ID number or VIN anywhere in the group) \
are refused with 409 `duplicate_suspected` naming each match (`errors[0].message`: `phone=<customer id> (name)`); \
after a person has looked, `allow_duplicate: true` creates it anyway, except that the login phone stays unique (409 `conflict`). Audited.\n\n\
**Permission:** `customers.write` in the home store.",
    request_body = NewCustomerRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = CrmCustomerDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Likely duplicate (`duplicate_suspected`) or the phone is another customer's login", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/customers")]
pub async fn create_customer(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<NewCustomerRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::CustomersWrite)?;
    let new = new_customer_of(body.0, "")?;
    let actor = staff.actor();
    let c = state
        .db(
            move |c| match dms_crm::create_customer(c, &actor, &scope, &new, Utc::now()) {
                Ok(x) => Ok(x),
                Err(dms_crm::CrmError::DuplicateSuspected { matches }) => Err(primary_phone_taken(
                    c, &new.phone, &matches,
                )?
                .unwrap_or_else(|| dms_crm::CrmError::DuplicateSuspected { matches }.into())),
                Err(e) => Err(e.into()),
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(crm_customer_dto(c)))
}

/// The mobile number is another customer's login (their primary phone): a plain 409 `conflict`
/// on `phone` naming that customer, which `allow_duplicate` cannot override. Other likely
/// duplicates stay `duplicate_suspected`.
fn primary_phone_taken(
    c: &mut dms_db::DbConnection,
    phone: &str,
    matches: &[dms_crm::DuplicateMatch],
) -> Result<Option<ApiError>, ApiError> {
    let p = dms_crm::normalize_phone(phone);
    for m in matches {
        if m.matched_on != dms_crm::MatchKind::Phone {
            continue;
        }
        let other = dms_crm::get_customer(c, &StoreScope::AllStores, &m.customer_id)?;
        if other.phone == p {
            return Ok(Some(ApiError::Conflict(crate::error::field_error(
                "phone",
                "conflict",
                format!(
                    "phone={} ({}): this number is another customer's login; add it as a further number or merge",
                    m.customer_id, m.name
                ),
            ))));
        }
    }
    Ok(None)
}

/// The domain's new customer from the request; field errors are prefixed with `at`
/// (`rows[3].` for an import row).
pub fn new_customer_of(b: NewCustomerRequest, at: &str) -> Result<dms_crm::NewCustomer, ApiError> {
    let store_id = body_id(&b.store_id, &format!("{at}store_id"))?;
    let kind = match b.kind.as_deref() {
        None => dms_crm::CustomerKind::Individual,
        Some(k) => dms_crm::CustomerKind::from_code(k).ok_or_else(|| {
            ApiError::invalid(&format!("{at}kind"), "invalid", "individual or company")
        })?,
    };
    let mut consents = vec![];
    for (i, c) in b.consents.iter().enumerate() {
        consents.push(dms_crm::ConsentInput {
            channel: crate::crm::channel_of(&c.channel, &format!("{at}consents[{i}].channel"))?,
            granted: c.granted,
            on: c.on,
            source: c.source.clone(),
        });
    }
    Ok(dms_crm::NewCustomer {
        store_id,
        kind,
        name: b.name,
        phone: b.phone,
        other_phones: b
            .other_phones
            .into_iter()
            .map(|p| dms_crm::NewPhone {
                phone: p.phone,
                label: p.label,
            })
            .collect(),
        email: b.email,
        gender: b.gender,
        id_number: b.id_number,
        birthday: b.birthday,
        contact_person: b.contact_person,
        tax_id: b.tax_id,
        preferences: b.preferences.unwrap_or_else(|| serde_json::json!({})),
        tags: b.tags,
        addresses: b
            .addresses
            .into_iter()
            .map(crate::crm::address_of)
            .collect(),
        consents,
        owner_staff_id: opt_body_id(&b.owner_staff_id, &format!("{at}owner_staff_id"))?,
        notes: b.notes,
        probe_vins: b.vins,
        allow_duplicate: b.allow_duplicate,
    })
}
