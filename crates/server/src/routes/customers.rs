use crate::auth::{Caller, Principal, Staff};
use crate::error::ApiError;
use crate::extract::{page_request, path_id, Body, QueryParams};
use crate::routes::customer_dto;
use crate::AppState;
use actix_web::{get, post, web, HttpResponse};
use dms_api_types::{CreateCustomerRequest, CustomerDto, CustomerPage, PageParams, Problem};
use dms_core::StoreScope;
use dms_identity::Permission;

/// Customers of the caller's stores.
#[utoipa::path(
    tag = "customers",
    description = "Customers whose home store is one of the caller's.\n\n**Permission:** `customers.read`.",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = CustomerPage),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid cursor or limit", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/customers")]
pub async fn list_customers(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<PageParams>,
) -> Result<web::Json<CustomerPage>, ApiError> {
    let scope = staff.require(Permission::CustomersRead)?;
    let page = page_request(&q.0)?;
    let (rows, next) = state
        .db(move |c| Ok(dms_identity::list_customers(c, &scope, &page)?))
        .await?;
    Ok(web::Json(CustomerPage {
        items: rows.into_iter().map(customer_dto).collect(),
        next_cursor: next,
    }))
}

/// One customer.
#[utoipa::path(
    tag = "customers",
    description = "**Permission:** `customers.read` in the customer's home store, or the customer's own token (owners' app). \
Anything else reads as 404.",
    params(("id" = String, Path, description = "Customer id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = CustomerDto),
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
) -> Result<web::Json<CustomerDto>, ApiError> {
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
        .db(move |c| Ok(dms_identity::get_customer(c, &scope, &id)?))
        .await?;
    Ok(web::Json(customer_dto(c)))
}

/// Registers a customer.
#[utoipa::path(
    tag = "customers",
    description = "Creates the customer record (name, mobile number, home store). The CRM adds the rest. Audited.\n\n**Permission:** `customers.write` in the home store.",
    request_body = CreateCustomerRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = CustomerDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A customer with this phone exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/customers")]
pub async fn create_customer(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<CreateCustomerRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::CustomersWrite)?;
    let b = body.0;
    let store_id = dms_core::parse_id(&b.store_id)
        .map_err(|_| ApiError::invalid("store_id", "invalid_id", "not a store id"))?;
    let new = dms_identity::NewCustomer {
        store_id,
        name: b.name,
        phone: b.phone,
    };
    let actor = staff.actor();
    let c = state
        .db(move |c| Ok(dms_identity::create_customer(c, &actor, &scope, &new)?))
        .await?;
    Ok(HttpResponse::Created().json(customer_dto(c)))
}
