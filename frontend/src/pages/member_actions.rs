//! 会员服务 The member desk's other actions on the member page: redeem a gift with points, use
//! an entitlement, renew the membership, upgrade with points, and (with `membership.override`)
//! adjust points with a reason. Each is confirmed and sent with one Idempotency-Key per
//! attempt (made when the confirmation opens, kept for its retries).

use crate::api::{new_idempotency_key, send_keyed, ApiError};
use crate::components::common::{ConfirmDialog, Field, Select};
use crate::forms::error_message;
use crate::i18n::{t, Key};
use crate::money::{fmt_fen, parse_fen};
use crate::session::use_lang;
use dms_api_types::membership::{
    AdjustPointsRequest, GiftListDto, PointsTrack, RedeemGiftRequest, RenewRequest, RenewalMethod,
    UseEntitlementRequest,
};
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

/// A points adjustment as typed: a whole non-zero number and a reason.
pub fn parse_adjustment(delta: &str, reason: &str) -> Result<(i64, String), Key> {
    let d: i64 = delta
        .trim()
        .trim_start_matches('+')
        .parse()
        .map_err(|_| Key::WholeNumber)?;
    if d == 0 {
        return Err(Key::WholeNumber);
    }
    if reason.trim().is_empty() {
        return Err(Key::ReasonRequired);
    }
    Ok((d, reason.trim().to_string()))
}

#[derive(Properties, PartialEq)]
pub struct MemberDeskProps {
    pub member_id: String,
    pub redeemable_points: i64,
    /// (code, name, uses left).
    pub entitlements: Vec<(String, String, u32)>,
    pub can_checkout: bool,
    pub can_cards: bool,
    pub can_override: bool,
    pub on_done: Callback<()>,
}

/// The action waiting for its confirmation: (title, body, path, JSON body).
#[derive(Debug, Clone, PartialEq)]
struct Pending {
    title: String,
    body: String,
    path: String,
    json: serde_json::Value,
    key: String,
}

#[function_component(MemberDesk)]
pub fn member_desk(props: &MemberDeskProps) -> Html {
    let lang = use_lang();
    let gifts = use_state(|| None::<GiftListDto>);
    let gift = use_state(String::new);
    let quantity = use_state(|| "1".to_string());
    let renew_method = use_state(|| "fee".to_string());
    let renew_amount = use_state(String::new);
    let track = use_state(|| "redeemable".to_string());
    let delta = use_state(String::new);
    let reason = use_state(String::new);
    let local_error = use_state(|| None::<(&'static str, String)>);
    let pending = use_state(|| None::<Pending>);
    let busy = use_state(|| false);
    let error = use_state(|| None::<String>);
    let notice = use_state(|| None::<String>);

    {
        let gifts = gifts.clone();
        let load = props.can_checkout;
        use_effect_with(props.member_id.clone(), move |_| {
            if load {
                spawn_local(async move {
                    if let Ok(list) = crate::api::get_json::<GiftListDto>("/gifts").await {
                        gifts.set(Some(list));
                    }
                });
            }
        });
    }

    let ask = {
        let (pending, error) = (pending.clone(), error.clone());
        Callback::from(
            move |(title, body, path, json): (String, String, String, serde_json::Value)| {
                error.set(None);
                pending.set(Some(Pending {
                    title,
                    body,
                    path,
                    json,
                    key: new_idempotency_key(),
                }));
            },
        )
    };
    let id = crate::api::encode_query_value(&props.member_id);
    let field_error = |name: &str| {
        local_error
            .as_ref()
            .filter(|(f, _)| *f == name)
            .map(|(_, m)| m.clone())
    };

    // Gift redemption.
    let gift_form = match &*gifts {
        Some(list) if props.can_checkout && !list.items.is_empty() => {
            let mut options = vec![(String::new(), t(lang, Key::PickGift).to_string())];
            options.extend(
                list.items
                    .iter()
                    .filter(|g| g.active && g.stock > 0)
                    .map(|g| {
                        (
                            g.id.clone(),
                            format!(
                                "{} · {} {}",
                                g.name,
                                g.points_cost,
                                t(lang, Key::PointsUnit)
                            ),
                        )
                    }),
            );
            let submit = {
                let (gift, quantity, local_error, ask) = (
                    gift.clone(),
                    quantity.clone(),
                    local_error.clone(),
                    ask.clone(),
                );
                let (list, member_id) = (list.clone(), props.member_id.clone());
                let have = props.redeemable_points;
                Callback::from(move |e: SubmitEvent| {
                    e.prevent_default();
                    let Some(g) = list.items.iter().find(|g| g.id == *gift) else {
                        local_error.set(Some(("gift", t(lang, Key::FieldRequired).into())));
                        return;
                    };
                    let q: i32 = match quantity.trim().parse() {
                        Ok(q) if q >= 1 && q <= g.stock => q,
                        _ => {
                            local_error.set(Some(("quantity", t(lang, Key::WholeNumber).into())));
                            return;
                        }
                    };
                    let cost = g.points_cost * q as i64;
                    if cost > have {
                        local_error
                            .set(Some(("quantity", t(lang, Key::InsufficientPoints).into())));
                        return;
                    }
                    local_error.set(None);
                    let body = RedeemGiftRequest {
                        member_id: member_id.clone(),
                        quantity: q,
                    };
                    ask.emit((
                        t(lang, Key::RedeemGift).into(),
                        format!("{} × {q} = {cost} {}", g.name, t(lang, Key::PointsUnit)),
                        format!(
                            "/gifts/{}/redemptions",
                            crate::api::encode_query_value(&g.id)
                        ),
                        serde_json::to_value(body).unwrap_or_default(),
                    ));
                })
            };
            html! {
                <form class="desk-form" id="gift-form" onsubmit={submit}>
                    <h3>{ t(lang, Key::RedeemGift) }</h3>
                    <Select name="gift" id="gift-pick" label={t(lang, Key::Gift)} value={(*gift).clone()} options={options}
                        onchange={let g = gift.clone(); Callback::from(move |v| g.set(v))} error={field_error("gift")} />
                    <Field name="quantity" id="gift-quantity" label={t(lang, Key::Quantity)} value={(*quantity).clone()}
                        inputmode="numeric" maxlength="3" oninput={let q = quantity.clone(); Callback::from(move |v| q.set(v))}
                        error={field_error("quantity")} />
                    <button type="submit" class="btn">{ t(lang, Key::RedeemGift) }</button>
                </form>
            }
        }
        _ => html! {},
    };

    // Entitlements.
    let entitlement_buttons = if props.can_checkout && props.entitlements.iter().any(|e| e.2 > 0) {
        html! {
            <div class="desk-form" id="entitlement-use">
                <h3>{ t(lang, Key::UseEntitlement) }</h3>
                <div class="chips">
                { for props.entitlements.iter().filter(|e| e.2 > 0).map(|(code, name, left)| {
                    let ask = ask.clone();
                    let (code_c, name_c, left, id) = (code.clone(), name.clone(), *left, id.clone());
                    let onclick = Callback::from(move |_: MouseEvent| {
                        ask.emit((
                            t(lang, Key::UseEntitlement).into(),
                            format!("{name_c}: {} {left} → {}", t(lang, Key::Left), left - 1),
                            format!("/members/{id}/entitlements/{}/uses", crate::api::encode_query_value(&code_c)),
                            serde_json::to_value(UseEntitlementRequest { ref_id: None }).unwrap_or_default(),
                        ))
                    });
                    html! { <button type="button" class="btn small" data-entitlement={code.clone()} {onclick}>
                        { name.clone() }{ format!(" ({left})") }</button> }
                }) }
                </div>
            </div>
        }
    } else {
        html! {}
    };

    // Renewal and upgrade.
    let renew_form = if props.can_cards {
        let methods = vec![
            ("fee".to_string(), t(lang, Key::RenewByFee).to_string()),
            (
                "points".to_string(),
                t(lang, Key::RenewByPoints).to_string(),
            ),
            (
                "insurance".to_string(),
                t(lang, Key::RenewByInsurance).to_string(),
            ),
        ];
        let submit = {
            let (m, amount, local_error, ask, id) = (
                renew_method.clone(),
                renew_amount.clone(),
                local_error.clone(),
                ask.clone(),
                id.clone(),
            );
            Callback::from(move |e: SubmitEvent| {
                e.prevent_default();
                let (method, amount_s) = match m.as_str() {
                    "points" => (RenewalMethod::Points, None),
                    other => {
                        let Some(fen) = parse_fen(&amount) else {
                            local_error.set(Some(("amount", t(lang, Key::AmountInvalid).into())));
                            return;
                        };
                        (
                            if other == "insurance" {
                                RenewalMethod::Insurance
                            } else {
                                RenewalMethod::Fee
                            },
                            Some(fmt_fen(fen)),
                        )
                    }
                };
                local_error.set(None);
                let body = format!(
                    "{}{}",
                    code_label_of(&m, lang),
                    amount_s
                        .as_ref()
                        .map(|a| format!(" · ¥{a}"))
                        .unwrap_or_default()
                );
                ask.emit((
                    t(lang, Key::Renew).into(),
                    body,
                    format!("/members/{id}/renewals"),
                    serde_json::to_value(RenewRequest {
                        method,
                        amount: amount_s,
                    })
                    .unwrap_or_default(),
                ));
            })
        };
        let upgrade = {
            let (ask, id) = (ask.clone(), id.clone());
            Callback::from(move |_: MouseEvent| {
                ask.emit((
                    t(lang, Key::UpgradeWithPoints).into(),
                    t(lang, Key::UpgradeBody).into(),
                    format!("/members/{id}/upgrades"),
                    serde_json::json!({}),
                ))
            })
        };
        html! {
            <form class="desk-form" id="renew-form" onsubmit={submit}>
                <h3>{ t(lang, Key::Renew) }</h3>
                <Select name="method" id="renew-method" label={t(lang, Key::RenewMethod)} value={(*renew_method).clone()}
                    options={methods} onchange={let m = renew_method.clone(); Callback::from(move |v| m.set(v))} />
                if *renew_method != "points" {
                    <Field name="amount" id="renew-amount" label={t(lang, Key::Amount)} value={(*renew_amount).clone()}
                        inputmode="decimal" maxlength="12" oninput={let a = renew_amount.clone(); Callback::from(move |v| a.set(v))}
                        error={field_error("amount")} />
                }
                <div class="form-actions">
                    <button type="submit" class="btn">{ t(lang, Key::Renew) }</button>
                    <button type="button" class="btn" id="upgrade" onclick={upgrade}>{ t(lang, Key::UpgradeWithPoints) }</button>
                </div>
            </form>
        }
    } else {
        html! {}
    };

    // Points adjustment (manager).
    let adjust_form = if props.can_override {
        let tracks = vec![
            (
                "redeemable".to_string(),
                t(lang, Key::RedeemablePoints).to_string(),
            ),
            ("tier".to_string(), t(lang, Key::TierPoints).to_string()),
        ];
        let submit = {
            let (track, delta, reason, local_error, ask, id) = (
                track.clone(),
                delta.clone(),
                reason.clone(),
                local_error.clone(),
                ask.clone(),
                id.clone(),
            );
            Callback::from(move |e: SubmitEvent| {
                e.prevent_default();
                match parse_adjustment(&delta, &reason) {
                    Err(k) => local_error.set(Some((
                        if k == Key::ReasonRequired {
                            "reason"
                        } else {
                            "delta"
                        },
                        t(lang, k).into(),
                    ))),
                    Ok((d, why)) => {
                        local_error.set(None);
                        let tr = if *track == "tier" {
                            PointsTrack::Tier
                        } else {
                            PointsTrack::Redeemable
                        };
                        ask.emit((
                            t(lang, Key::AdjustPoints).into(),
                            format!("{d:+} · {why}"),
                            format!("/members/{id}/points/adjustments"),
                            serde_json::to_value(AdjustPointsRequest {
                                track: tr,
                                delta: d,
                                reason: why,
                            })
                            .unwrap_or_default(),
                        ));
                    }
                }
            })
        };
        html! {
            <form class="desk-form" id="adjust-form" onsubmit={submit}>
                <h3>{ t(lang, Key::AdjustPoints) }</h3>
                <Select name="track" id="adjust-track" label={t(lang, Key::PointsTrackLabel)} value={(*track).clone()}
                    options={tracks} onchange={let tr = track.clone(); Callback::from(move |v| tr.set(v))} />
                <Field name="delta" id="adjust-delta" label={t(lang, Key::PointsDelta)} value={(*delta).clone()}
                    inputmode="numeric" maxlength="9" oninput={let d = delta.clone(); Callback::from(move |v| d.set(v))}
                    error={field_error("delta")} />
                <Field name="reason" id="adjust-reason" label={t(lang, Key::Reason)} value={(*reason).clone()} maxlength="200"
                    oninput={let r = reason.clone(); Callback::from(move |v| r.set(v))} error={field_error("reason")} />
                <button type="submit" class="btn">{ t(lang, Key::AdjustPoints) }</button>
            </form>
        }
    } else {
        html! {}
    };

    let dialog = match &*pending {
        None => html! {},
        Some(p) => {
            let on_confirm = {
                let (p, busy, error, pending, notice, on_done) = (
                    p.clone(),
                    busy.clone(),
                    error.clone(),
                    pending.clone(),
                    notice.clone(),
                    props.on_done.clone(),
                );
                Callback::from(move |()| {
                    if *busy {
                        return;
                    }
                    busy.set(true);
                    let (p, busy, error, pending, notice, on_done) = (
                        p.clone(),
                        busy.clone(),
                        error.clone(),
                        pending.clone(),
                        notice.clone(),
                        on_done.clone(),
                    );
                    spawn_local(async move {
                        let r: Result<serde_json::Value, ApiError> =
                            send_keyed(&p.path, &p.json, &p.key).await;
                        busy.set(false);
                        match r {
                            Ok(_) => {
                                pending.set(None);
                                notice.set(Some(format!("{} · {}", p.title, t(lang, Key::Done))));
                                on_done.emit(());
                            }
                            // Same key on a retry: the server answers the first result.
                            Err(e) => error.set(Some(error_message(&e, lang))),
                        }
                    });
                })
            };
            let on_cancel = {
                let (pending, busy) = (pending.clone(), busy.clone());
                Callback::from(move |()| {
                    if !*busy {
                        pending.set(None)
                    }
                })
            };
            html! { <ConfirmDialog title={p.title.clone()} body={p.body.clone()} confirm_label={p.title.clone()}
            {on_confirm} {on_cancel} busy={*busy} danger={false} error={(*error).clone()} /> }
        }
    };
    if !props.can_checkout && !props.can_cards && !props.can_override {
        return html! {};
    }
    html! {
        <div class="card wide" id="member-desk">
            <h2>{ t(lang, Key::MemberServices) }</h2>
            if let Some(n) = (*notice).clone() { <p class="alert success" role="status">{ n }</p> }
            <div class="desk-grid">
                { gift_form }{ entitlement_buttons }{ renew_form }{ adjust_form }
            </div>
            { dialog }
        </div>
    }
}

fn code_label_of(method: &str, lang: crate::i18n::Lang) -> &'static str {
    match method {
        "points" => t(lang, Key::RenewByPoints),
        "insurance" => t(lang, Key::RenewByInsurance),
        _ => t(lang, Key::RenewByFee),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjustments_are_whole_non_zero_numbers_with_a_reason() {
        assert_eq!(parse_adjustment("+200", " 补录 "), Ok((200, "补录".into())));
        assert_eq!(parse_adjustment("-50", "x"), Ok((-50, "x".into())));
        assert_eq!(parse_adjustment("0", "x"), Err(Key::WholeNumber));
        assert_eq!(parse_adjustment("1.5", "x"), Err(Key::WholeNumber));
        assert_eq!(parse_adjustment("10", "  "), Err(Key::ReasonRequired));
    }
}
