//! Money: top-ups, quotes, checkouts, voids and receipts. Every money-moving POST takes the
//! `Idempotency-Key` header: a retry with the same key and body answers the stored first
//! result with `Idempotent-Replayed: true` and moves nothing; the same key with another body is
//! a 422 `idempotency_key_reused`.

use super::dto::{self, body_id, replayable};
use crate::auth::{Staff, StaffToken};
use crate::error::ApiError;
use crate::extract::{page_request, path_id, Body, IdempotencyKey, QueryParams};
use crate::AppState;
use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpResponse};
use dms_api_types::membership::{
    CheckoutListParams, CheckoutPage, CheckoutRequest, PricedBasketDto, QuoteRequest,
    ReasonRequest, ReceiptDto, TopUpDto, TopUpRequest,
};
use dms_api_types::{PageParams, Problem};
use dms_core::{StoreScope, SystemClock};
use dms_identity::Permission;
use dms_membership as m;
use std::sync::{Arc, Mutex};

/// Tops up a card.
#[utoipa::path(
    tag = "membership",
    description = "充值: pays money onto the card; the programme's best matching bonus rule adds a separate, non-refundable bonus (shown in `bonus`, with its expiry). Needs the `Idempotency-Key` header; a retry with the same key and body answers the first result with `Idempotent-Replayed: true` and moves nothing, the same key with another body is a 422 `idempotency_key_reused`.\n\n**Permission:** `membership.topup`.",
    params(("id" = String, Path, description = "Card id"), ("Idempotency-Key" = String, Header, description = "Once per attempt, e.g. a UUID")),
    request_body = TopUpRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = TopUpDto, headers(("Idempotent-Replayed" = String, description = "`true` on a replayed answer"))),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Card lost, frozen, closed or expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid amount, missing Idempotency-Key, or the key was used for another request", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/cards/{id}/top-ups")]
pub async fn top_up(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    key: IdempotencyKey,
    body: Body<TopUpRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipTopUp)?;
    let b = body.0;
    staff.check_card(&id, b.terminal_id.as_deref())?;
    let req = m::TopUp {
        card_id: path_id(&id, "card")?,
        amount: dto::parse_money("amount", &b.amount)?,
        payment_method: dto::payment_in(b.payment_method),
        terminal_id: b.terminal_id,
    };
    let actor = staff.actor();
    let r = state
        .db_write(move |c| Ok(m::top_up(c, &actor, &scope, &SystemClock, &key.0, &req)?))
        .await?;
    Ok(replayable(StatusCode::CREATED, r, dto::top_up_dto))
}

/// What the caller may do at a checkout in the store; 403 when the body asks for a discount
/// override the caller may not give.
fn checkout_permissions(
    staff: &Staff,
    store_id: &str,
    wants_override: bool,
) -> Result<m::CheckoutPermissions, ApiError> {
    let may_override_discount = staff
        .principal
        .scope(Permission::MembershipOverride)
        .allows(store_id);
    if wants_override && !may_override_discount {
        return Err(ApiError::Forbidden(format!(
            "a discount override requires permission {}",
            Permission::MembershipOverride
        )));
    }
    Ok(m::CheckoutPermissions {
        may_override_discount,
    })
}

/// Prices a basket without moving anything.
#[utoipa::path(
    tag = "membership",
    description = "Applies the tier discount per category (or a permitted override), the coupons and the points, and says what the member pays and earns. Nothing is stored; no Idempotency-Key needed.\n\n**Permission:** `membership.checkout` (a `discount_override` also `membership.override`).",
    request_body = QuoteRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = PricedBasketDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission (or `membership.override` for an override)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card or coupon among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Card blocked or expired, coupon used, not enough points", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing, unknown or invalid", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/checkouts/quote")]
pub async fn quote(
    state: web::Data<AppState>,
    staff: Staff,
    body: Body<QuoteRequest>,
) -> Result<web::Json<PricedBasketDto>, ApiError> {
    let scope = staff.require(Permission::MembershipCheckout)?;
    let b = body.0;
    let store_id = body_id("store_id", &b.store_id)?;
    staff.check_card(&b.card_id, None)?;
    let perms = checkout_permissions(&staff, &store_id, b.discount_override.is_some())?;
    let req = m::CheckoutRequest {
        card_id: body_id("card_id", &b.card_id)?,
        store_id,
        terminal_id: None,
        lines: dto::lines_in(&b.lines)?,
        coupon_ids: dto::coupon_ids_in(&b.coupon_ids)?,
        redeem_points: b.redeem_points,
        tenders: vec![],
        discount_override: dto::override_in(b.discount_override.as_ref())?,
    };
    let priced = state
        .db(move |c| Ok(m::quote(c, &scope, &SystemClock, &req, perms)?))
        .await?;
    Ok(web::Json(dto::basket_dto(priced)))
}

/// Checks out a basket.
#[utoipa::path(
    tag = "membership",
    description = "会员消费: prices the basket as the quote does, uses the coupons, redeems the points and settles with the tenders (stored value, bonus, cash, bank card), whose sum must equal what the member pays. Returns the receipt (masked card number, lines, discounts, tenders, balances after, points earned). With `pin`, the card PIN authorises it (a wrong PIN moves nothing and counts toward the lock). Records who, where and when. Needs the `Idempotency-Key` header; a retry answers the first receipt with `Idempotent-Replayed: true`.\n\n**Permission:** `membership.checkout` (a `discount_override` also `membership.override`, audited).",
    params(("Idempotency-Key" = String, Header, description = "Once per attempt, e.g. a UUID")),
    request_body = CheckoutRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = ReceiptDto, headers(("Idempotent-Replayed" = String, description = "`true` on a replayed answer"))),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission (or `membership.override` for an override)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such card, store or coupon among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Insufficient balance or points, card blocked or expired, coupon used, PIN locked", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, tenders not matching, wrong PIN, missing Idempotency-Key, or the key was used for another request", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "A PIN was given but PINs are not configured", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/checkouts")]
pub async fn checkout(
    state: web::Data<AppState>,
    token: StaffToken,
    key: IdempotencyKey,
    body: Body<CheckoutRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    // The PIN check commits its failure count on its own: a checkout with a PIN goes alone.
    let r = if b.pin.is_some() {
        let pin_policy = state.membership.pin_policy();
        state
            .db_write_as_staff(token, move |staff, c| {
                let (scope, perms, req) = checkout_request(&staff, &b)?;
                let pin = m::Pin::new(b.pin.as_deref().unwrap_or_default())?;
                Ok(m::checkout_with_pin(
                    c,
                    &staff.actor(),
                    &scope,
                    &SystemClock,
                    &key.0,
                    &req,
                    perms,
                    &pin_policy?,
                    &pin,
                )?)
            })
            .await?
    } else {
        // Settled with the checkouts that arrive at the same moment ([`settle_checkouts`]).
        let (answer, answered) = futures_channel::oneshot::channel();
        let work = CheckoutWork {
            token,
            key: key.0,
            body: b,
            answer,
        };
        if !state.checkouts.submit(work) {
            return Err(ApiError::Unavailable(
                "checkouts are not being taken".into(),
            ));
        }
        answered.await.map_err(|_| {
            ApiError::Unavailable("the checkout was not settled; try again".into())
        })??
    };
    Ok(replayable(StatusCode::CREATED, r, dto::receipt_dto))
}

/// A checkout without a PIN, waiting for its batch.
pub struct CheckoutWork {
    token: StaffToken,
    key: String,
    body: CheckoutRequest,
    answer: Answer,
}

/// Settles a batch of checkouts: each caller's session is looked up once per batch and its
/// permissions checked, then `checkout_batch` settles the permitted ones together and each
/// request gets its own answer. On PostgreSQL that happens on a pooled connection; on SQLite
/// the checkouts wait for the group-commit writer ([`WriterCheckouts`]).
pub fn settle_checkouts(
    pool: &dms_db::DbPool,
    writer: Option<&Arc<WriterCheckouts>>,
    works: Vec<CheckoutWork>,
) {
    if let Some(writer) = writer {
        writer.add(works);
        return;
    }
    let answered = match pool.get() {
        Ok(mut conn) => settle_on(&mut conn, works),
        Err(e) => {
            log::warn!("no database connection for {} checkouts: {e}", works.len());
            let busy = || Err(ApiError::Unavailable("database busy; try again".into()));
            works.into_iter().map(|w| (w.answer, busy())).collect()
        }
    };
    for (answer, r) in answered {
        let _ = answer.send(r);
    }
}

/// A queued writer job of [`WriterCheckouts`]. The writer drops a job unrun when it has
/// stopped or its batch could not begin or another job of it panicked: the checkouts waiting
/// are then dropped too, which tells their callers nothing was settled, and the next one
/// queues a new job.
struct Ticket {
    owner: Arc<WriterCheckouts>,
    ran: bool,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.ran {
            let mut q = self.owner.queue();
            q.works.clear();
            q.job_queued = false;
        }
    }
}

/// SQLite's checkouts, waiting for the group-commit writer. At most one job of theirs is
/// queued with the writer at a time, and when it runs it takes every checkout waiting by then
/// (up to a batch), so the checkouts that arrive while the writer commits are settled as one
/// `checkout_batch` in its next transaction, not as many small ones each doing its own reads
/// and writes. The job reads the sessions on the writer's connection and answers once its
/// transaction has committed.
pub struct WriterCheckouts {
    writer: dms_db::SqliteWriter,
    max_batch: usize,
    waiting: Mutex<WriterQueue>,
}

#[derive(Default)]
struct WriterQueue {
    works: Vec<CheckoutWork>,
    job_queued: bool,
}

impl WriterCheckouts {
    pub fn new(writer: dms_db::SqliteWriter, max_batch: usize) -> Arc<WriterCheckouts> {
        Arc::new(WriterCheckouts {
            writer,
            max_batch: max_batch.max(1),
            waiting: Mutex::new(WriterQueue::default()),
        })
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, WriterQueue> {
        // Nothing panics while holding it; a poisoned queue is still consistent.
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(self: &Arc<Self>, works: Vec<CheckoutWork>) {
        let mut q = self.queue();
        q.works.extend(works);
        if !q.job_queued {
            q.job_queued = true;
            drop(q);
            self.queue_job();
        }
    }

    fn queue_job(self: &Arc<Self>) {
        let mut ticket = Ticket {
            owner: self.clone(),
            ran: false,
        };
        let queued = self
            .writer
            .submit(Box::new(move |c: &mut dms_db::DbConnection| {
                ticket.ran = true;
                let answered = settle_on(c, ticket.owner.take());
                Box::new(move |commit: Result<(), dms_db::DbError>| {
                    for (answer, r) in answered {
                        let _ = answer.send(match &commit {
                            Ok(()) => r,
                            // Nothing of the batch was saved: an error stays that error.
                            Err(e) => r.and(Err(ApiError::Unavailable(format!("{e}; try again")))),
                        });
                    }
                }) as dms_db::Completion
            }));
        if !queued {
            log::error!("the SQLite writer has stopped; checkouts are refused");
        }
    }

    /// The checkouts the running job settles; queues the next job for any left over.
    fn take(self: &Arc<Self>) -> Vec<CheckoutWork> {
        let mut q = self.queue();
        let n = q.works.len().min(self.max_batch);
        let works: Vec<CheckoutWork> = q.works.drain(..n).collect();
        if q.works.is_empty() {
            q.job_queued = false;
        } else {
            drop(q);
            self.queue_job();
        }
        works
    }
}

type Answer = futures_channel::oneshot::Sender<Result<m::Replayable<m::Receipt>, ApiError>>;

/// A checkout whose caller may make it, waiting to be settled.
struct Permitted {
    key: String,
    actor: dms_identity::Actor,
    scope: StoreScope,
    perms: m::CheckoutPermissions,
    request: m::CheckoutRequest,
}

/// Each work's answer: its caller's refusal, or what `checkout_batch` made of it.
fn settle_on(
    c: &mut dms_db::DbConnection,
    works: Vec<CheckoutWork>,
) -> Vec<(Answer, Result<m::Replayable<m::Receipt>, ApiError>)> {
    let mut callers = crate::auth::BatchCallers::default();
    let mut refused = Vec::new();
    let mut permitted = Vec::with_capacity(works.len());
    for w in works {
        let prepared = callers.resolve(w.token, c).and_then(|staff| {
            let (scope, perms, request) = checkout_request(&staff, &w.body)?;
            Ok(Permitted {
                key: w.key,
                actor: staff.actor(),
                scope,
                perms,
                request,
            })
        });
        match prepared {
            Ok(p) => permitted.push((w.answer, p)),
            Err(e) => refused.push((w.answer, Err(e))),
        }
    }
    let jobs: Vec<m::CheckoutJob<'_>> = permitted
        .iter()
        .map(|(_, p)| m::CheckoutJob {
            actor: &p.actor,
            scope: &p.scope,
            idempotency_key: &p.key,
            request: &p.request,
            perms: p.perms,
        })
        .collect();
    let results = m::checkout_batch(c, &SystemClock, &jobs);
    drop(jobs);
    refused.extend(
        permitted
            .into_iter()
            .zip(results)
            .map(|((answer, _), r)| (answer, r.map_err(ApiError::from))),
    );
    refused
}

/// The checks a checkout request passes before it is settled, and the domain request.
fn checkout_request(
    staff: &Staff,
    b: &CheckoutRequest,
) -> Result<(StoreScope, m::CheckoutPermissions, m::CheckoutRequest), ApiError> {
    let scope = staff.require(Permission::MembershipCheckout)?;
    let store_id = body_id("store_id", &b.store_id)?;
    staff.check_card(&b.card_id, b.terminal_id.as_deref())?;
    staff.require_pin(b.pin.is_some())?;
    let perms = checkout_permissions(staff, &store_id, b.discount_override.is_some())?;
    let req = m::CheckoutRequest {
        card_id: body_id("card_id", &b.card_id)?,
        store_id,
        terminal_id: staff.terminal_id(b.terminal_id.as_deref()),
        lines: dto::lines_in(&b.lines)?,
        coupon_ids: dto::coupon_ids_in(&b.coupon_ids)?,
        redeem_points: b.redeem_points,
        tenders: dto::tenders_in(&b.tenders)?,
        discount_override: dto::override_in(b.discount_override.as_ref())?,
    };
    Ok((scope, perms, req))
}

/// Voids a checkout.
#[utoipa::path(
    tag = "membership",
    description = "Reverses a checkout exactly: stored value and bonus back to the card, points earned taken back and points redeemed returned, coupons usable again. Refused when the member has already spent the points it earned. Needs the `Idempotency-Key` header and a reason. Audited.\n\n**Permission:** `membership.void`.",
    params(("id" = String, Path, description = "Checkout id"), ("Idempotency-Key" = String, Header, description = "Once per attempt, e.g. a UUID")),
    request_body = ReasonRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = ReceiptDto, headers(("Idempotent-Replayed" = String, description = "`true` on a replayed answer"))),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such checkout among the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already voided, or the points it earned are spent", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Reason missing, missing Idempotency-Key, or the key was used for another request", body = Problem, content_type = "application/problem+json")
    )
)]
#[post("/checkouts/{id}/void")]
pub async fn void(
    state: web::Data<AppState>,
    staff: Staff,
    id: web::Path<String>,
    key: IdempotencyKey,
    body: Body<ReasonRequest>,
) -> Result<HttpResponse, ApiError> {
    let scope = staff.require(Permission::MembershipVoid)?;
    let req = m::VoidCheckout {
        checkout_id: path_id(&id, "checkout")?,
        reason: body.0.reason,
    };
    let actor = staff.actor();
    let r = state
        .db(move |c| {
            Ok(m::void_checkout(
                c,
                &actor,
                &scope,
                &SystemClock,
                &key.0,
                &req,
            )?)
        })
        .await?;
    Ok(replayable(StatusCode::OK, r, dto::receipt_dto))
}

/// The receipt of a checkout, for reprinting.
#[utoipa::path(
    tag = "membership",
    description = "The stored receipt; `voided` is true once the checkout was voided.\n\n**Permission:** `membership.read` in the checkout's store, or the paying member's own customer token (anything else reads as 404).",
    params(("id" = String, Path, description = "Checkout id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ReceiptDto),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such checkout among the caller's", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/checkouts/{id}/receipt")]
pub async fn receipt(
    state: web::Data<AppState>,
    caller: crate::auth::Caller,
    id: web::Path<String>,
) -> Result<web::Json<ReceiptDto>, ApiError> {
    let viewer = dto::Viewer::of(&caller)?;
    let id = path_id(&id, "checkout")?;
    let r = state
        .db(move |c| match viewer {
            dto::Viewer::Staff(scope) => Ok(m::get_receipt(c, &scope, &id)?),
            // The owner reads the receipts of their own member's checkouts only.
            dto::Viewer::Customer(own) => {
                let all = dms_core::StoreScope::AllStores;
                let r = m::get_receipt(c, &all, &id)?;
                match m::get_member(c, &all, &r.member_id) {
                    Ok(mem) if mem.customer_id == own => Ok(r),
                    _ => Err(ApiError::NotFound("checkout")),
                }
            }
        })
        .await?;
    Ok(web::Json(dto::receipt_dto(r)))
}

/// Checkouts in the caller's stores.
#[utoipa::path(
    tag = "membership",
    description = "Newest first, optionally of one card or one store.\n\n**Permission:** `membership.read`.",
    params(CheckoutListParams),
    security(("bearer" = [])),
    responses(
        (status = 200, body = CheckoutPage),
        (status = 401, description = "Not logged in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Lacks the permission", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid cursor, limit or card id", body = Problem, content_type = "application/problem+json")
    )
)]
#[get("/checkouts")]
pub async fn list_checkouts(
    state: web::Data<AppState>,
    staff: Staff,
    q: QueryParams<CheckoutListParams>,
) -> Result<web::Json<CheckoutPage>, ApiError> {
    let scope = staff.require(Permission::MembershipRead)?;
    let q = q.0;
    let page = page_request(&PageParams {
        cursor: q.cursor,
        limit: q.limit,
    })?;
    let card = dto::opt_body_id("card_id", q.card_id.as_ref())?;
    let store = dto::opt_body_id("store_id", q.store_id.as_ref())?;
    let scope = scope.narrowed_to(store.as_deref());
    let (rows, next) = state
        .db(move |c| Ok(m::list_checkouts(c, &scope, card.as_deref(), &page)?))
        .await?;
    Ok(web::Json(CheckoutPage {
        items: rows.into_iter().map(dto::checkout_summary_dto).collect(),
        next_cursor: next,
    }))
}
