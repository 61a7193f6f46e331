//! 报表 The member club's figures and the CRM's rates as charts, for a period, a store and a
//! tier, by day or month, with the server's XLSX exports.

use crate::api::{self, club, crm, ApiError};
use crate::chart::{Chart, Kind};
use crate::components::common::{ErrorLine, Field, Loading, Select};
use crate::forms::error_message;
use crate::i18n::{code_name, t, Key, Lang};
use crate::money::{tier_list, yuan};
use crate::reports::{
    count_series, money_bars, money_series, percent, today, FilterError, ReportFilter, Series,
};
use crate::session::{store_name, use_lang, Session};
use dms_api_types::crm::{ComplaintStatsDto, CrmStatsDto, SatisfactionDto};
use dms_api_types::membership::StatisticsReportDto;
use dms_api_types::StoreDto;
use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ReportsProps {
    pub session: Session,
}

type Loaded<T> = Option<Result<T, ApiError>>;

#[derive(Debug, Clone, Default)]
struct Figures {
    club: Loaded<StatisticsReportDto>,
    crm: Loaded<CrmStatsDto>,
    satisfaction: Loaded<SatisfactionDto>,
    complaints: Loaded<ComplaintStatsDto>,
}

fn filter_message(e: FilterError, lang: Lang) -> (&'static str, String) {
    match e {
        FilterError::BadDate(field) => (field, t(lang, Key::FieldInvalid).to_string()),
        FilterError::Reversed => ("to", t(lang, Key::PeriodReversed).to_string()),
        FilterError::TooLong => ("to", t(lang, Key::PeriodTooLong).to_string()),
    }
}

/// Lead conversion per grade (leads, converted, lost).
fn grade_series(stats: &CrmStatsDto, lang: Lang) -> Series {
    let mut rows: Vec<_> = stats.leads_by_grade.iter().collect();
    rows.sort_by_key(|r| "HABC".find(r.key.as_str()).unwrap_or(9));
    Series {
        labels: rows.iter().map(|r| r.key.clone()).collect(),
        lines: vec![
            (
                t(lang, Key::Leads).into(),
                rows.iter().map(|r| r.leads as f64).collect(),
            ),
            (
                t(lang, Key::Converted).into(),
                rows.iter().map(|r| r.converted as f64).collect(),
            ),
            (
                t(lang, Key::Lost).into(),
                rows.iter().map(|r| r.lost as f64).collect(),
            ),
        ],
    }
}

/// Care follow-ups per rule: the contact rate and the appointment rate, in percent.
fn care_series(stats: &CrmStatsDto, lang: Lang) -> Series {
    Series {
        labels: stats.care.keys().map(|k| code_name(lang, k)).collect(),
        lines: vec![
            (
                t(lang, Key::ContactRate).into(),
                stats
                    .care
                    .values()
                    .map(|c| percent(c.contacted, c.due).unwrap_or(0.0))
                    .collect(),
            ),
            (
                t(lang, Key::AppointmentRate).into(),
                stats
                    .care
                    .values()
                    .map(|c| percent(c.appointments, c.due).unwrap_or(0.0))
                    .collect(),
            ),
        ],
    }
}

fn satisfaction_series(s: &SatisfactionDto, stores: &[StoreDto], lang: Lang) -> Series {
    Series {
        labels: s
            .rows
            .iter()
            .map(|r| store_name(stores, &r.key).unwrap_or(&r.key).to_string())
            .collect(),
        lines: vec![
            (
                t(lang, Key::CsatPercent).into(),
                s.rows
                    .iter()
                    .map(|r| r.csat_percent.unwrap_or(0.0))
                    .collect(),
            ),
            (
                "NPS".into(),
                s.rows.iter().map(|r| r.nps.unwrap_or(0.0)).collect(),
            ),
        ],
    }
}

fn complaint_series(c: &ComplaintStatsDto, lang: Lang) -> Series {
    Series {
        labels: c.by_category.keys().map(|k| code_name(lang, k)).collect(),
        lines: vec![(
            t(lang, Key::NavComplaints).into(),
            c.by_category.values().map(|v| *v as f64).collect(),
        )],
    }
}

#[function_component(ReportsPage)]
pub fn reports_page(props: &ReportsProps) -> Html {
    let lang = use_lang();
    let me = &props.session.me;
    let filter = use_state(|| ReportFilter::last_30_days(today()));
    let applied = use_state(|| (*filter).clone());
    let figures = use_state(Figures::default);
    let filter_error = use_state(|| None::<(&'static str, String)>);
    let exporting = use_state(|| false);
    let export_status = use_state(|| None::<Result<(String, usize), String>>);
    // The tier filter offers the programme's own tiers (stores configure them).
    let tiers_of_programme = use_state(Vec::<(String, String)>::new);
    {
        let tiers_of_programme = tiers_of_programme.clone();
        use_effect_with((), move |_| {
            spawn_local(async move {
                if let Ok(p) = club::programme(None).await {
                    tiers_of_programme.set(tier_list(&p.programme));
                }
            });
        });
    }

    {
        let figures = figures.clone();
        use_effect_with((*applied).clone(), move |f| {
            figures.set(Figures::default());
            let f = f.clone();
            spawn_local(async move {
                let (from, end) = match f.period() {
                    Ok((a, b)) => (a.to_string(), b.to_string()),
                    Err(_) => return,
                };
                let store = (!f.store_id.is_empty()).then_some(f.store_id.as_str());
                let mut out = Figures {
                    club: Some(club::statistics(&f).await),
                    ..Figures::default()
                };
                figures.set(out.clone());
                out.crm = Some(crm::statistics(&from, &end, store).await);
                figures.set(out.clone());
                out.satisfaction = Some(crm::satisfaction(&from, &end).await);
                out.complaints = Some(crm::complaint_statistics(&from, &end).await);
                figures.set(out);
            });
        });
    }

    let set = |f: fn(&mut ReportFilter, String)| {
        let filter = filter.clone();
        Callback::from(move |v: String| {
            let mut d = (*filter).clone();
            f(&mut d, v);
            filter.set(d);
        })
    };
    let apply = {
        let (filter, applied, filter_error) =
            (filter.clone(), applied.clone(), filter_error.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            match filter.period() {
                Ok(_) => {
                    filter_error.set(None);
                    applied.set((*filter).clone());
                }
                Err(err) => filter_error.set(Some(filter_message(err, lang))),
            }
        })
    };
    let export = |crm_figures: bool| {
        let (filter, filter_error, exporting, export_status) = (
            filter.clone(),
            filter_error.clone(),
            exporting.clone(),
            export_status.clone(),
        );
        Callback::from(move |_: MouseEvent| {
            if *exporting {
                return;
            }
            if let Err(err) = filter.period() {
                filter_error.set(Some(filter_message(err, lang)));
                return;
            }
            filter_error.set(None);
            let f = (*filter).clone();
            let (path, name) = if crm_figures {
                (f.crm_export_path(), f.file_name("crm-statistics"))
            } else {
                (
                    f.membership_export_path(),
                    f.file_name("membership-statistics"),
                )
            };
            exporting.set(true);
            export_status.set(None);
            let (exporting, export_status) = (exporting.clone(), export_status.clone());
            spawn_local(async move {
                let r = api::download(&path, &name).await;
                exporting.set(false);
                export_status.set(Some(match r {
                    Ok(size) => Ok((name, size)),
                    Err(e) => Err(error_message(&e, lang)),
                }));
            });
        })
    };

    let mut stores = vec![(String::new(), t(lang, Key::AllStores).to_string())];
    stores.extend(
        me.stores
            .iter()
            .map(|s| (s.id.clone(), format!("{} {}", s.code, s.name))),
    );
    let mut tiers = vec![(String::new(), t(lang, Key::AllTiers).to_string())];
    tiers.extend(tiers_of_programme.iter().cloned());
    let grains = vec![
        ("day".to_string(), t(lang, Key::ByDay).to_string()),
        ("month".to_string(), t(lang, Key::ByMonth).to_string()),
    ];
    let field_error = |name: &str| {
        filter_error
            .as_ref()
            .filter(|(f, _)| *f == name)
            .map(|(_, m)| m.clone())
    };
    let filters = html! {
        <form class="card report-filters" id="report-filters" onsubmit={apply} novalidate=true>
            <div class="form-grid wide">
                <Field name="from" id="report-from" label={t(lang, Key::FromDay)} kind="date"
                    value={filter.from.clone()} oninput={set(|f, v| f.from = v)} error={field_error("from")} />
                <Field name="to" id="report-to" label={t(lang, Key::ToDay)} kind="date"
                    value={filter.to.clone()} oninput={set(|f, v| f.to = v)} error={field_error("to")} />
                <Select name="store_id" id="report-store" label={t(lang, Key::Store)}
                    value={filter.store_id.clone()} options={stores} onchange={set(|f, v| f.store_id = v)} />
                <Select name="tier" id="report-tier" label={t(lang, Key::Tier)}
                    value={filter.tier.clone()} options={tiers} onchange={set(|f, v| f.tier = v)} />
                <Select name="granularity" id="report-grain" label={t(lang, Key::Granularity)}
                    value={filter.granularity.clone()} options={grains} onchange={set(|f, v| f.granularity = v)} />
            </div>
            <div class="form-actions">
                <button type="submit" class="btn primary" id="report-apply">{ t(lang, Key::Query) }</button>
                <button type="button" class="btn" id="export-membership" disabled={*exporting} onclick={export(false)}>
                    { t(lang, Key::ExportXlsx) }{ " · " }{ t(lang, Key::Membership) }
                </button>
                <button type="button" class="btn" id="export-crm" disabled={*exporting} onclick={export(true)}>
                    { t(lang, Key::ExportXlsx) }{ " · CRM" }
                </button>
                if *exporting { <span class="muted">{ t(lang, Key::Working) }</span> }
            </div>
            { match &*export_status {
                Some(Ok((name, size))) => html! {
                    <p class="alert success" id="export-status" data-bytes={size.to_string()} role="status">
                        { t(lang, Key::ExportDone) }{ " " }{ name }{ format!(" ({:.1} KB)", *size as f64 / 1024.0) }
                    </p>
                },
                Some(Err(message)) => html! { <p class="alert error" id="export-status" role="alert">{ message }</p> },
                None => html! {},
            } }
        </form>
    };

    let by_month = applied.granularity == "month";
    let empty = t(lang, Key::NoFiguresYet);
    let club_section = match &figures.club {
        None => html! { <Loading /> },
        Some(Err(e)) => html! { <ErrorLine text={error_message(e, lang)} /> },
        Some(Ok(r)) => {
            let money = money_series(
                r,
                by_month,
                [
                    t(lang, Key::ToppedUp),
                    t(lang, Key::Consumed),
                    t(lang, Key::CheckoutTotal),
                ],
            );
            let counts = count_series(
                r,
                by_month,
                [
                    t(lang, Key::Checkouts),
                    t(lang, Key::CardsIssued),
                    t(lang, Key::CouponsUsed),
                ],
            );
            let tiers = money_bars(
                r.by_tier
                    .iter()
                    .map(|x| (code_name(lang, &x.tier_code), &x.statistics))
                    .collect(),
                [t(lang, Key::ToppedUp), t(lang, Key::CheckoutTotal)],
            );
            let categories = Series {
                labels: r
                    .by_category
                    .iter()
                    .map(|c| code_name(lang, &c.category))
                    .collect(),
                lines: vec![(
                    t(lang, Key::Net).into(),
                    r.by_category
                        .iter()
                        .map(|c| crate::reports::yuan_value(&c.net))
                        .collect(),
                )],
            };
            let s = &r.total;
            html! {
                <>
                <div class="kpis" id="club-kpis">
                    <div class="kpi"><span>{ t(lang, Key::ToppedUp) }</span><strong>{ yuan(&s.topped_up) }</strong></div>
                    <div class="kpi"><span>{ t(lang, Key::Consumed) }</span><strong>{ yuan(&s.consumed) }</strong></div>
                    <div class="kpi"><span>{ t(lang, Key::CheckoutTotal) }</span><strong>{ yuan(&s.checkout_total) }</strong></div>
                    <div class="kpi"><span>{ t(lang, Key::Checkouts) }</span><strong>{ s.checkouts }</strong></div>
                    <div class="kpi"><span>{ t(lang, Key::CardsIssued) }</span><strong>{ s.cards_issued }</strong></div>
                    <div class="kpi"><span>{ t(lang, Key::PointsEarned) }</span><strong>{ s.points_earned }</strong></div>
                </div>
                <div class="chart-grid">
                    <Chart id="chart-money" title={t(lang, Key::MoneyOverTime)} kind={Kind::Line} series={money} unit="" empty_text={empty} />
                    <Chart id="chart-counts" title={t(lang, Key::CountsOverTime)} kind={Kind::Bars} series={counts} empty_text={empty} />
                    <Chart id="chart-tiers" title={t(lang, Key::ByTier)} kind={Kind::Bars} series={tiers} empty_text={empty} />
                    <Chart id="chart-categories" title={t(lang, Key::ByCategory)} kind={Kind::Bars} series={categories} empty_text={empty} />
                </div>
                </>
            }
        }
    };
    let crm_charts = {
        let leads = match &figures.crm {
            None => html! { <Loading /> },
            Some(Err(e)) => html! { <ErrorLine text={error_message(e, lang)} /> },
            Some(Ok(c)) => html! {
                <>
                <Chart id="chart-grades" title={t(lang, Key::ConversionByGrade)} kind={Kind::Bars} series={grade_series(c, lang)} empty_text={empty} />
                <Chart id="chart-care" title={t(lang, Key::CareRates)} kind={Kind::Bars} series={care_series(c, lang)} unit="%" empty_text={empty} />
                </>
            },
        };
        let sat = match &figures.satisfaction {
            None => html! {},
            Some(Err(e)) => html! { <ErrorLine text={error_message(e, lang)} /> },
            Some(Ok(s)) => html! {
                <Chart id="chart-satisfaction" title={t(lang, Key::Satisfaction)} kind={Kind::Bars}
                    series={satisfaction_series(s, &me.stores, lang)} unit="%" empty_text={empty} />
            },
        };
        let complaints = match &figures.complaints {
            None => html! {},
            Some(Err(e)) => html! { <ErrorLine text={error_message(e, lang)} /> },
            Some(Ok(c)) => html! {
                <Chart id="chart-complaints" title={format!("{} · {} {} · {} {}", t(lang, Key::ComplaintsByCategory),
                        t(lang, Key::Resolved), c.resolved, t(lang, Key::Escalated), c.escalated)}
                    kind={Kind::Bars} series={complaint_series(c, lang)} empty_text={empty} />
            },
        };
        html! { <div class="chart-grid">{ leads }{ sat }{ complaints }</div> }
    };
    html! {
        <section class="page">
            <div class="page-head"><h1>{ t(lang, Key::NavReports) }</h1></div>
            { filters }
            <h2 class="section-title">{ t(lang, Key::Membership) }</h2>
            { club_section }
            <h2 class="section-title">{ t(lang, Key::CrmRates) }</h2>
            { crm_charts }
        </section>
    }
}
