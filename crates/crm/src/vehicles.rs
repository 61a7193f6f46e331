//! Vehicles: VIN and plate, brand/model/trim, dates that drive reminders (purchase, delivery,
//! warranty end, insurance expiry, annual inspection), mileage readings over time, owner
//! history, and the service visits the care engine reacts to.

use crate::customers::get_customer;
use crate::schema::{mileage_readings, service_visits, vehicle_owners, vehicles};
use crate::validate::{check_plate, Vin, VinPolicy};
use crate::{audit, CrmError, Result};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use dms_core::StoreScope;
use dms_db::{is_unique_violation, to_db_time, write_tx, DbConnection};
use dms_identity::Actor;
use serde_json::json;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = vehicles)]
pub struct Vehicle {
    pub id: String,
    pub store_id: String,
    pub vin: String,
    /// False only when the VIN was accepted with [`VinPolicy::AllowBadCheckDigit`].
    pub vin_check_ok: bool,
    pub plate: Option<String>,
    pub plate_norm: Option<String>,
    pub brand: String,
    pub model: String,
    pub trim_level: String,
    pub colour: String,
    pub model_year: Option<i32>,
    pub purchase_date: Option<NaiveDate>,
    pub delivery_date: Option<NaiveDate>,
    pub warranty_end: Option<NaiveDate>,
    pub insurance_expiry: Option<NaiveDate>,
    pub insurer: Option<String>,
    pub inspection_due: Option<NaiveDate>,
    pub first_service_done: bool,
    pub last_service_on: Option<NaiveDate>,
    /// The current owner; `None` once sold on to someone the dealer does not know.
    pub customer_id: Option<String>,
    /// `active`, `sold` (left the customer base) or `scrapped`.
    pub status: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone)]
pub struct NewVehicle {
    pub store_id: String,
    pub vin: String,
    pub vin_policy: VinPolicy,
    pub plate: Option<String>,
    pub brand: String,
    pub model: String,
    pub trim_level: String,
    pub colour: String,
    pub model_year: Option<i32>,
    pub purchase_date: Option<NaiveDate>,
    pub delivery_date: Option<NaiveDate>,
    pub warranty_end: Option<NaiveDate>,
    pub insurance_expiry: Option<NaiveDate>,
    pub insurer: Option<String>,
    pub inspection_due: Option<NaiveDate>,
    pub customer_id: Option<String>,
}

impl NewVehicle {
    pub fn new(store_id: &str, vin: &str) -> NewVehicle {
        NewVehicle {
            store_id: store_id.to_string(),
            vin: vin.to_string(),
            vin_policy: VinPolicy::Strict,
            plate: None,
            brand: String::new(),
            model: String::new(),
            trim_level: String::new(),
            colour: String::new(),
            model_year: None,
            purchase_date: None,
            delivery_date: None,
            warranty_end: None,
            insurance_expiry: None,
            insurer: None,
            inspection_due: None,
            customer_id: None,
        }
    }
}

/// Changes: `None` leaves a field alone, `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct VehicleUpdate {
    pub plate: Option<Option<String>>,
    pub brand: Option<String>,
    pub model: Option<String>,
    pub trim_level: Option<String>,
    pub colour: Option<String>,
    pub purchase_date: Option<Option<NaiveDate>>,
    pub delivery_date: Option<Option<NaiveDate>>,
    pub warranty_end: Option<Option<NaiveDate>>,
    pub insurance_expiry: Option<Option<NaiveDate>>,
    pub insurer: Option<Option<String>>,
    pub inspection_due: Option<Option<NaiveDate>>,
}

fn check_dates(
    purchase: Option<NaiveDate>,
    delivery: Option<NaiveDate>,
    warranty_end: Option<NaiveDate>,
) -> Result<()> {
    if let (Some(p), Some(d)) = (purchase, delivery) {
        if d < p {
            return Err(CrmError::invalid(
                "delivery_date",
                "before the purchase date",
            ));
        }
    }
    if let (Some(p), Some(w)) = (purchase.or(delivery), warranty_end) {
        if w < p {
            return Err(CrmError::invalid(
                "warranty_end",
                "before the purchase date",
            ));
        }
    }
    Ok(())
}

pub(crate) fn load_vehicle(conn: &mut DbConnection, id: &str) -> Result<Option<Vehicle>> {
    Ok(vehicles::table
        .find(id)
        .select(Vehicle::as_select())
        .first(conn)
        .optional()?)
}

pub fn get_vehicle(conn: &mut DbConnection, scope: &StoreScope, id: &str) -> Result<Vehicle> {
    match load_vehicle(conn, id)? {
        Some(v) if scope.allows(&v.store_id) => Ok(v),
        _ => Err(CrmError::NotFound("vehicle")),
    }
}

pub fn find_vehicle_by_vin(
    conn: &mut DbConnection,
    scope: &StoreScope,
    vin: &str,
) -> Result<Vehicle> {
    let v: Option<Vehicle> = vehicles::table
        .filter(vehicles::vin.eq(vin.trim().to_ascii_uppercase()))
        .select(Vehicle::as_select())
        .first(conn)
        .optional()?;
    match v {
        Some(v) if scope.allows(&v.store_id) => Ok(v),
        _ => Err(CrmError::NotFound("vehicle")),
    }
}

pub fn create_vehicle(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    new: &NewVehicle,
    now: DateTime<Utc>,
) -> Result<Vehicle> {
    let vin = Vin::parse(&new.vin, new.vin_policy)?;
    let plate = new.plate.as_deref().map(check_plate).transpose()?;
    check_dates(new.purchase_date, new.delivery_date, new.warranty_end)?;
    if let Some(y) = new.model_year {
        if !(1950..=2100).contains(&y) {
            return Err(CrmError::invalid("model_year", "not a plausible year"));
        }
    }
    if !scope.allows(&new.store_id) {
        return Err(CrmError::invalid("store_id", "no such store among yours"));
    }
    let r = write_tx(conn, |c| {
        let owner = match &new.customer_id {
            Some(id) => Some(
                get_customer(c, &StoreScope::AllStores, id)
                    .map_err(|_| CrmError::invalid("customer_id", "no such customer"))?,
            ),
            None => None,
        };
        let id = dms_core::new_id();
        let ts = to_db_time(now);
        diesel::insert_into(vehicles::table)
            .values((
                vehicles::id.eq(&id),
                vehicles::store_id.eq(&new.store_id),
                vehicles::vin.eq(vin.as_str()),
                vehicles::vin_check_ok.eq(vin.check_digit_ok()),
                vehicles::plate.eq(new.plate.as_deref().map(str::trim)),
                vehicles::plate_norm.eq(plate.as_deref()),
                vehicles::brand.eq(new.brand.trim()),
                vehicles::model.eq(new.model.trim()),
                vehicles::trim_level.eq(new.trim_level.trim()),
                vehicles::colour.eq(new.colour.trim()),
                vehicles::model_year.eq(new.model_year),
                vehicles::purchase_date.eq(new.purchase_date),
                vehicles::delivery_date.eq(new.delivery_date),
                vehicles::warranty_end.eq(new.warranty_end),
                vehicles::insurance_expiry.eq(new.insurance_expiry),
                vehicles::insurer.eq(new.insurer.as_deref()),
                vehicles::inspection_due.eq(new.inspection_due),
                vehicles::first_service_done.eq(false),
                vehicles::customer_id.eq(owner.as_ref().map(|o| o.id.as_str())),
                vehicles::status.eq("active"),
                vehicles::created_at.eq(ts),
                vehicles::updated_at.eq(ts),
            ))
            .execute(c)?;
        if let Some(o) = &owner {
            let from = new
                .delivery_date
                .or(new.purchase_date)
                .unwrap_or(dms_core::business_date(now));
            open_ownership(c, &id, &o.id, from, "purchase", ts)?;
        }
        audit(
            c,
            actor,
            Some(&new.store_id),
            "vehicle.create",
            "vehicle",
            &id,
            json!({"vin_check_ok": vin.check_digit_ok(), "customer_id": new.customer_id}),
        )?;
        load_vehicle(c, &id)?.ok_or(CrmError::NotFound("vehicle"))
    });
    match r {
        Err(CrmError::Db(e)) if is_unique_violation(&e) => {
            Err(CrmError::conflict("vin", "a vehicle with this VIN exists"))
        }
        other => other,
    }
}

fn open_ownership(
    c: &mut DbConnection,
    vehicle_id: &str,
    customer_id: &str,
    from: NaiveDate,
    reason: &str,
    ts: NaiveDateTime,
) -> Result<()> {
    diesel::insert_into(vehicle_owners::table)
        .values((
            vehicle_owners::id.eq(dms_core::new_id()),
            vehicle_owners::vehicle_id.eq(vehicle_id),
            vehicle_owners::customer_id.eq(customer_id),
            vehicle_owners::from_date.eq(from),
            vehicle_owners::reason.eq(reason),
            vehicle_owners::created_at.eq(ts),
        ))
        .execute(c)?;
    Ok(())
}

fn close_ownership(c: &mut DbConnection, vehicle_id: &str, on: NaiveDate) -> Result<()> {
    diesel::update(
        vehicle_owners::table
            .filter(vehicle_owners::vehicle_id.eq(vehicle_id))
            .filter(vehicle_owners::to_date.is_null()),
    )
    .set(vehicle_owners::to_date.eq(Some(on)))
    .execute(c)?;
    Ok(())
}

pub fn update_vehicle(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    id: &str,
    upd: &VehicleUpdate,
    now: DateTime<Utc>,
) -> Result<Vehicle> {
    write_tx(conn, |c| {
        let cur = get_vehicle(c, scope, id)?;
        let pick = |u: &Option<Option<NaiveDate>>, cur: Option<NaiveDate>| match u {
            Some(v) => *v,
            None => cur,
        };
        let purchase = pick(&upd.purchase_date, cur.purchase_date);
        let delivery = pick(&upd.delivery_date, cur.delivery_date);
        let warranty = pick(&upd.warranty_end, cur.warranty_end);
        check_dates(purchase, delivery, warranty)?;
        let (plate, plate_norm) = match &upd.plate {
            Some(Some(p)) => (Some(p.trim().to_string()), Some(check_plate(p)?)),
            Some(None) => (None, None),
            None => (cur.plate.clone(), cur.plate_norm.clone()),
        };
        let text = |u: &Option<String>, cur: &str| u.as_deref().unwrap_or(cur).trim().to_string();
        diesel::update(vehicles::table.find(id))
            .set((
                vehicles::plate.eq(plate),
                vehicles::plate_norm.eq(plate_norm),
                vehicles::brand.eq(text(&upd.brand, &cur.brand)),
                vehicles::model.eq(text(&upd.model, &cur.model)),
                vehicles::trim_level.eq(text(&upd.trim_level, &cur.trim_level)),
                vehicles::colour.eq(text(&upd.colour, &cur.colour)),
                vehicles::purchase_date.eq(purchase),
                vehicles::delivery_date.eq(delivery),
                vehicles::warranty_end.eq(warranty),
                vehicles::insurance_expiry.eq(pick(&upd.insurance_expiry, cur.insurance_expiry)),
                vehicles::insurer.eq(match &upd.insurer {
                    Some(v) => v.clone(),
                    None => cur.insurer.clone(),
                }),
                vehicles::inspection_due.eq(pick(&upd.inspection_due, cur.inspection_due)),
                vehicles::updated_at.eq(to_db_time(now)),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&cur.store_id),
            "vehicle.update",
            "vehicle",
            id,
            json!({}),
        )?;
        load_vehicle(c, id)?.ok_or(CrmError::NotFound("vehicle"))
    })
}

/// The customer's vehicles, active and past (current owner only).
pub fn list_customer_vehicles(
    conn: &mut DbConnection,
    scope: &StoreScope,
    customer_id: &str,
) -> Result<Vec<Vehicle>> {
    get_customer(conn, scope, customer_id)?;
    Ok(vehicles::table
        .filter(vehicles::customer_id.eq(customer_id))
        .order(vehicles::id.asc())
        .select(Vehicle::as_select())
        .load(conn)?)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = mileage_readings)]
pub struct MileageReading {
    pub id: String,
    pub vehicle_id: String,
    pub read_on: NaiveDate,
    pub km: i64,
    pub source: String,
    pub created_at: NaiveDateTime,
}

pub(crate) fn insert_reading(
    c: &mut DbConnection,
    vehicle_id: &str,
    on: NaiveDate,
    km: i64,
    source: &str,
    ts: NaiveDateTime,
) -> Result<()> {
    if !(0..=3_000_000).contains(&km) {
        return Err(CrmError::invalid("km", "0 to 3,000,000"));
    }
    // Odometers do not run backwards: a reading must fit between its neighbours in time.
    let before: Option<i64> = mileage_readings::table
        .filter(mileage_readings::vehicle_id.eq(vehicle_id))
        .filter(mileage_readings::read_on.le(on))
        .select(diesel::dsl::max(mileage_readings::km))
        .first(c)?;
    let after: Option<i64> = mileage_readings::table
        .filter(mileage_readings::vehicle_id.eq(vehicle_id))
        .filter(mileage_readings::read_on.gt(on))
        .select(diesel::dsl::min(mileage_readings::km))
        .first(c)?;
    if before.is_some_and(|b| km < b) || after.is_some_and(|a| km > a) {
        return Err(CrmError::invalid(
            "km",
            "lower than an earlier reading or higher than a later one",
        ));
    }
    diesel::insert_into(mileage_readings::table)
        .values((
            mileage_readings::id.eq(dms_core::new_id()),
            mileage_readings::vehicle_id.eq(vehicle_id),
            mileage_readings::read_on.eq(on),
            mileage_readings::km.eq(km),
            mileage_readings::source.eq(source),
            mileage_readings::created_at.eq(ts),
        ))
        .execute(c)?;
    Ok(())
}

/// Records an odometer reading (from a service visit, a call, the owners' app).
#[allow(clippy::too_many_arguments)]
pub fn record_mileage(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    vehicle_id: &str,
    on: NaiveDate,
    km: i64,
    source: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    if on > dms_core::business_date(now) {
        return Err(CrmError::invalid("read_on", "lies in the future"));
    }
    write_tx(conn, |c| {
        let v = get_vehicle(c, scope, vehicle_id)?;
        insert_reading(c, vehicle_id, on, km, source, to_db_time(now))?;
        audit(
            c,
            actor,
            Some(&v.store_id),
            "vehicle.mileage",
            "vehicle",
            vehicle_id,
            json!({"km": km, "on": on}),
        )
    })
}

pub fn mileage_history(
    conn: &mut DbConnection,
    scope: &StoreScope,
    vehicle_id: &str,
) -> Result<Vec<MileageReading>> {
    get_vehicle(conn, scope, vehicle_id)?;
    load_readings(conn, vehicle_id)
}

pub(crate) fn load_readings(
    conn: &mut DbConnection,
    vehicle_id: &str,
) -> Result<Vec<MileageReading>> {
    Ok(mileage_readings::table
        .filter(mileage_readings::vehicle_id.eq(vehicle_id))
        .order((mileage_readings::read_on.asc(), mileage_readings::km.asc()))
        .select(MileageReading::as_select())
        .load(conn)?)
}

/// Average km per day from the readings (and 0 km at delivery, when known). `None` when
/// fewer than two points span at least a week: a rate over a few days is noise.
pub fn daily_km_rate(readings: &[(NaiveDate, i64)], delivery: Option<NaiveDate>) -> Option<f64> {
    let mut pts: Vec<(NaiveDate, i64)> = readings.to_vec();
    if let Some(d) = delivery {
        if pts.iter().all(|(on, _)| *on > d) {
            pts.push((d, 0));
        }
    }
    pts.sort();
    let (first, last) = (pts.first()?, pts.last()?);
    let days = (last.0 - first.0).num_days();
    if days < 7 {
        return None;
    }
    Some((last.1 - first.1) as f64 / days as f64)
}

/// The odometer on `on`, extrapolated from the latest reading at the average daily rate.
pub fn projected_km(
    readings: &[(NaiveDate, i64)],
    delivery: Option<NaiveDate>,
    on: NaiveDate,
) -> Option<i64> {
    let rate = daily_km_rate(readings, delivery)?;
    let last = readings.iter().max()?;
    let days = (on - last.0).num_days().max(0);
    Some(last.1 + (rate * days as f64).round() as i64)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = vehicle_owners)]
pub struct VehicleOwnership {
    pub id: String,
    pub vehicle_id: String,
    pub customer_id: String,
    pub from_date: NaiveDate,
    pub to_date: Option<NaiveDate>,
    pub reason: String,
    pub created_at: NaiveDateTime,
}

pub fn owner_history(
    conn: &mut DbConnection,
    scope: &StoreScope,
    vehicle_id: &str,
) -> Result<Vec<VehicleOwnership>> {
    get_vehicle(conn, scope, vehicle_id)?;
    Ok(vehicle_owners::table
        .filter(vehicle_owners::vehicle_id.eq(vehicle_id))
        .order((vehicle_owners::from_date.asc(), vehicle_owners::id.asc()))
        .select(VehicleOwnership::as_select())
        .load(conn)?)
}

/// A car changes hands: the current ownership ends on `on`, the new one starts.
#[allow(clippy::too_many_arguments)]
pub fn transfer_vehicle(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    vehicle_id: &str,
    new_customer_id: &str,
    on: NaiveDate,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Vehicle> {
    write_tx(conn, |c| {
        let v = get_vehicle(c, scope, vehicle_id)?;
        get_customer(c, &StoreScope::AllStores, new_customer_id)
            .map_err(|_| CrmError::invalid("customer_id", "no such customer"))?;
        if v.customer_id.as_deref() == Some(new_customer_id) {
            return Err(CrmError::conflict("customer_id", "already the owner"));
        }
        let last_from: Option<NaiveDate> = vehicle_owners::table
            .filter(vehicle_owners::vehicle_id.eq(vehicle_id))
            .select(diesel::dsl::max(vehicle_owners::from_date))
            .first(c)?;
        if last_from.is_some_and(|f| on < f) {
            return Err(CrmError::invalid(
                "on",
                "before the current ownership began",
            ));
        }
        let ts = to_db_time(now);
        close_ownership(c, vehicle_id, on)?;
        open_ownership(c, vehicle_id, new_customer_id, on, reason, ts)?;
        diesel::update(vehicles::table.find(vehicle_id))
            .set((
                vehicles::customer_id.eq(Some(new_customer_id)),
                vehicles::status.eq("active"),
                vehicles::updated_at.eq(ts),
            ))
            .execute(c)?;
        audit(
            c,
            actor,
            Some(&v.store_id),
            "vehicle.transfer",
            "vehicle",
            vehicle_id,
            json!({"from": v.customer_id, "to": new_customer_id, "on": on, "reason": reason}),
        )?;
        load_vehicle(c, vehicle_id)?.ok_or(CrmError::NotFound("vehicle"))
    })
}

/// The owner sold the car to someone the dealer does not know: it leaves the customer base
/// (no more reminders) but keeps its history. Runs inside the caller's transaction.
pub(crate) fn mark_sold_in_tx(
    c: &mut DbConnection,
    actor: &Actor,
    v: &Vehicle,
    on: NaiveDate,
    ts: NaiveDateTime,
) -> Result<()> {
    close_ownership(c, &v.id, on)?;
    diesel::update(vehicles::table.find(&v.id))
        .set((
            vehicles::status.eq("sold"),
            vehicles::customer_id.eq(None::<String>),
            vehicles::updated_at.eq(ts),
        ))
        .execute(c)?;
    audit(
        c,
        actor,
        Some(&v.store_id),
        "vehicle.sold",
        "vehicle",
        &v.id,
        json!({"on": on, "previous_owner": v.customer_id}),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitKind {
    /// 首保: the first (free) service.
    FirstService,
    /// 定期保养: scheduled maintenance.
    Maintenance,
    Repair,
    Warranty,
    Other,
}

impl VisitKind {
    pub fn code(&self) -> &'static str {
        match self {
            VisitKind::FirstService => "first_service",
            VisitKind::Maintenance => "maintenance",
            VisitKind::Repair => "repair",
            VisitKind::Warranty => "warranty",
            VisitKind::Other => "other",
        }
    }

    pub fn is_maintenance(&self) -> bool {
        matches!(self, VisitKind::FirstService | VisitKind::Maintenance)
    }
}

#[derive(Debug, Clone)]
pub struct NewServiceVisit {
    pub store_id: String,
    pub vehicle_id: String,
    pub visited_on: NaiveDate,
    pub kind: VisitKind,
    pub km: Option<i64>,
    pub advisor_id: Option<String>,
    pub work_order_ref: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = service_visits)]
pub struct ServiceVisit {
    pub id: String,
    pub store_id: String,
    pub vehicle_id: String,
    pub customer_id: Option<String>,
    pub visited_on: NaiveDate,
    pub kind: String,
    pub km: Option<i64>,
    pub advisor_id: Option<String>,
    pub work_order_ref: Option<String>,
    pub created_at: NaiveDateTime,
}

/// A workshop visit (the service crate calls this when a work order is settled): feeds the
/// mileage history, the first-service flag, the maintenance cycle and the 3-day call.
pub fn record_service_visit(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    visit: &NewServiceVisit,
    now: DateTime<Utc>,
) -> Result<ServiceVisit> {
    if visit.visited_on > dms_core::business_date(now) {
        return Err(CrmError::invalid("visited_on", "lies in the future"));
    }
    if !scope.allows(&visit.store_id) {
        return Err(CrmError::invalid("store_id", "no such store among yours"));
    }
    write_tx(conn, |c| {
        // The car may be serviced at a sister store: any vehicle of the group qualifies.
        let v = load_vehicle(c, &visit.vehicle_id)?.ok_or(CrmError::NotFound("vehicle"))?;
        let ts = to_db_time(now);
        if let Some(km) = visit.km {
            insert_reading(c, &v.id, visit.visited_on, km, "service_visit", ts)?;
        }
        let id = dms_core::new_id();
        diesel::insert_into(service_visits::table)
            .values((
                service_visits::id.eq(&id),
                service_visits::store_id.eq(&visit.store_id),
                service_visits::vehicle_id.eq(&v.id),
                service_visits::customer_id.eq(v.customer_id.as_deref()),
                service_visits::visited_on.eq(visit.visited_on),
                service_visits::kind.eq(visit.kind.code()),
                service_visits::km.eq(visit.km),
                service_visits::advisor_id.eq(visit.advisor_id.as_deref()),
                service_visits::work_order_ref.eq(visit.work_order_ref.as_deref()),
                service_visits::created_at.eq(ts),
            ))
            .execute(c)?;
        if visit.kind.is_maintenance() {
            let last = v
                .last_service_on
                .map_or(visit.visited_on, |l| l.max(visit.visited_on));
            diesel::update(vehicles::table.find(&v.id))
                .set((
                    vehicles::last_service_on.eq(Some(last)),
                    vehicles::first_service_done.eq(true),
                    vehicles::updated_at.eq(ts),
                ))
                .execute(c)?;
        }
        audit(
            c,
            actor,
            Some(&visit.store_id),
            "vehicle.visit",
            "vehicle",
            &v.id,
            json!({"kind": visit.kind.code(), "visit_id": id}),
        )?;
        Ok(service_visits::table
            .find(&id)
            .select(ServiceVisit::as_select())
            .first(c)?)
    })
}

/// Staff record that the owner sold the car outside the dealer (it leaves the customer base;
/// its history stays). A sale to a known customer is [`transfer_vehicle`] instead.
pub fn mark_vehicle_sold(
    conn: &mut DbConnection,
    actor: &Actor,
    scope: &StoreScope,
    vehicle_id: &str,
    on: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Vehicle> {
    if on > dms_core::business_date(now) {
        return Err(CrmError::invalid("on", "lies in the future"));
    }
    write_tx(conn, |c| {
        let v = get_vehicle(c, scope, vehicle_id)?;
        if v.status != "active" {
            return Err(CrmError::conflict(
                "status",
                format!("vehicle is {}", v.status),
            ));
        }
        mark_sold_in_tx(c, actor, &v, on, to_db_time(now))?;
        load_vehicle(c, vehicle_id)?.ok_or(CrmError::NotFound("vehicle"))
    })
}
