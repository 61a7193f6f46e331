//! Vehicles: VIN and plate, dates, mileage readings, owners.

use super::dto::*;
use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::{path_id, Body};
use crate::AppState;
use actix_web::{get, patch, post, web, HttpResponse};
use chrono::Utc;
use dms_api_types::crm::*;
use dms_api_types::Problem;
use dms_identity::Permission;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(create_vehicle)
        .service(get_vehicle)
        .service(update_vehicle)
        .service(customer_vehicles)
        .service(record_mileage)
        .service(mileage_history)
        .service(transfer_vehicle)
        .service(owner_history);
}

/// Registers a vehicle.
#[utoipa::path(
    tag = "vehicles",
    description = "VIN: 17 characters, no I/O/Q, check digit (9th character) validated unless `allow_bad_check_digit` (grey imports; recorded). \
Plate: a province character, a letter and 5-6 characters (`京A·12345`). Dates in order (purchase ≤ delivery ≤ warranty end). \
A VIN already known is 409. Audited.\n\n**Permission:** `customers.write` in the vehicle's store.",
    request_body = CreateVehicleRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = VehicleDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The VIN is already registered", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid VIN, plate, date order or owner", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/vehicles")]
pub async fn create_vehicle(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<CreateVehicleRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::CustomersWrite)?;
    let b = body.0;
    let new = dms_crm::NewVehicle {
        store_id: body_id(&b.store_id, "store_id")?,
        vin: b.vin,
        vin_policy: if b.allow_bad_check_digit {
            dms_crm::VinPolicy::AllowBadCheckDigit
        } else {
            dms_crm::VinPolicy::Strict
        },
        plate: b.plate,
        brand: b.brand,
        model: b.model,
        trim_level: b.trim_level,
        colour: b.colour,
        model_year: b.model_year,
        purchase_date: b.purchase_date,
        delivery_date: b.delivery_date,
        warranty_end: b.warranty_end,
        insurance_expiry: b.insurance_expiry,
        insurer: b.insurer,
        inspection_due: b.inspection_due,
        customer_id: opt_body_id(&b.customer_id, "customer_id")?,
    };
    let actor = staff.actor();
    let v = state
        .db(move |c| {
            Ok(dms_crm::create_vehicle(
                c,
                &actor,
                &scope,
                &new,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(HttpResponse::Created().json(vehicle_dto(v)))
}

/// One vehicle.
#[utoipa::path(
    tag = "vehicles",
    description = "**Permission:** `customers.read` in the vehicle's store.",
    params(("id" = String, Path, description = "Vehicle id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = VehicleDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such vehicle among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/vehicles/{id}")]
pub async fn get_vehicle(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<VehicleDto>, ApiError> {
    let scope = staff.require(Permission::CustomersRead)?;
    let id = path_id(&id, "vehicle")?;
    let v = state
        .db(move |c| Ok(dms_crm::get_vehicle(c, &scope, &id)?))
        .await?;
    Ok(web::Json(vehicle_dto(v)))
}

/// Changes a vehicle.
#[utoipa::path(
    tag = "vehicles",
    description = "Changes the fields given; `null` clears an optional one. Audited.\n\n**Permission:** `customers.write` in the vehicle's store.",
    params(("id" = String, Path, description = "Vehicle id")),
    request_body = UpdateVehicleRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = VehicleDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such vehicle among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid plate or dates out of order", body = Problem, content_type = "application/problem+json")
    )
)]
#[patch("/vehicles/{id}")]
pub async fn update_vehicle(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<UpdateVehicleRequest>,
) -> Result<web::Json<VehicleDto>, ApiError> {
    let scope = staff.require(Permission::CustomersWrite)?;
    let id = path_id(&id, "vehicle")?;
    let b = body.0;
    let upd = dms_crm::VehicleUpdate {
        plate: b.plate,
        brand: b.brand,
        model: b.model,
        trim_level: b.trim_level,
        colour: b.colour,
        purchase_date: None,
        delivery_date: None,
        warranty_end: b.warranty_end,
        insurance_expiry: b.insurance_expiry,
        insurer: b.insurer,
        inspection_due: b.inspection_due,
    };
    let actor = staff.actor();
    let v = state
        .db(move |c| {
            Ok(dms_crm::update_vehicle(
                c,
                &actor,
                &scope,
                &id,
                &upd,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(web::Json(vehicle_dto(v)))
}

/// The customer's vehicles.
#[utoipa::path(
    tag = "vehicles",
    description = "**Permission:** `customers.read` in the customer's home store.",
    params(("id" = String, Path, description = "Customer id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<VehicleDto>),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such customer among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/customers/{id}/vehicles")]
pub async fn customer_vehicles(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<Vec<VehicleDto>>, ApiError> {
    let scope = staff.require(Permission::CustomersRead)?;
    let id = path_id(&id, "customer")?;
    let v = state
        .db(move |c| Ok(dms_crm::list_customer_vehicles(c, &scope, &id)?))
        .await?;
    Ok(web::Json(v.into_iter().map(vehicle_dto).collect()))
}

/// Records an odometer reading.
#[utoipa::path(
    tag = "vehicles",
    description = "The reading feeds the mileage projection of maintenance reminders. Not in the future; never below an earlier reading. Audited.\n\n\
**Permission:** `customers.write` in the vehicle's store.",
    params(("id" = String, Path, description = "Vehicle id")),
    request_body = MileageRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<MileageDto>),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such vehicle among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A day in the future or a reading below an earlier one", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/vehicles/{id}/mileage")]
pub async fn record_mileage(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<MileageRequest>,
) -> Result<web::Json<Vec<MileageDto>>, ApiError> {
    let scope = staff.require(Permission::CustomersWrite)?;
    let id = path_id(&id, "vehicle")?;
    let b = body.0;
    let source = if b.source.trim().is_empty() {
        "manual".to_string()
    } else {
        b.source
    };
    let actor = staff.actor();
    let rows = state
        .db(move |c| {
            dms_crm::record_mileage(c, &actor, &scope, &id, b.read_on, b.km, &source, Utc::now())?;
            Ok(dms_crm::mileage_history(c, &scope, &id)?)
        })
        .await?;
    Ok(web::Json(rows.into_iter().map(mileage_dto).collect()))
}

fn mileage_dto(m: dms_crm::MileageReading) -> MileageDto {
    MileageDto {
        read_on: m.read_on,
        km: m.km,
        source: m.source,
    }
}

/// The odometer readings.
#[utoipa::path(
    tag = "vehicles",
    description = "Oldest first.\n\n**Permission:** `customers.read` in the vehicle's store.",
    params(("id" = String, Path, description = "Vehicle id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<MileageDto>),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such vehicle among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/vehicles/{id}/mileage")]
pub async fn mileage_history(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<Vec<MileageDto>>, ApiError> {
    let scope = staff.require(Permission::CustomersRead)?;
    let id = path_id(&id, "vehicle")?;
    let rows = state
        .db(move |c| Ok(dms_crm::mileage_history(c, &scope, &id)?))
        .await?;
    Ok(web::Json(rows.into_iter().map(mileage_dto).collect()))
}

/// Hands the car to a new owner.
#[utoipa::path(
    tag = "vehicles",
    description = "Closes the current ownership on `on` and opens the new owner's (the owner history keeps both). Audited.\n\n\
**Permission:** `customers.write` in the vehicle's store.",
    params(("id" = String, Path, description = "Vehicle id")),
    request_body = TransferVehicleRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = VehicleDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such vehicle among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already the owner", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown new owner or a day before the current ownership", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/vehicles/{id}/transfer")]
pub async fn transfer_vehicle(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    body: Body<TransferVehicleRequest>,
) -> Result<web::Json<VehicleDto>, ApiError> {
    let scope = staff.require(Permission::CustomersWrite)?;
    let id = path_id(&id, "vehicle")?;
    let b = body.0;
    let to = body_id(&b.customer_id, "customer_id")?;
    let actor = staff.actor();
    let v = state
        .db(move |c| {
            Ok(dms_crm::transfer_vehicle(
                c,
                &actor,
                &scope,
                &id,
                &to,
                b.on,
                &b.reason,
                Utc::now(),
            )?)
        })
        .await?;
    Ok(web::Json(vehicle_dto(v)))
}

/// Who owned the car, when.
#[utoipa::path(
    tag = "vehicles",
    description = "Oldest first; the current owner's row has no `to_date`.\n\n**Permission:** `customers.read` in the vehicle's store.",
    params(("id" = String, Path, description = "Vehicle id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<OwnershipDto>),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such vehicle among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/vehicles/{id}/owners")]
pub async fn owner_history(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
) -> Result<web::Json<Vec<OwnershipDto>>, ApiError> {
    let scope = staff.require(Permission::CustomersRead)?;
    let id = path_id(&id, "vehicle")?;
    let rows = state
        .db(move |c| Ok(dms_crm::owner_history(c, &scope, &id)?))
        .await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|o| OwnershipDto {
                customer_id: o.customer_id,
                from_date: o.from_date,
                to_date: o.to_date,
                reason: o.reason,
            })
            .collect(),
    ))
}
