//! CRM: the one customer record every department shares, vehicles, leads, the care engine
//! (reminders and follow-up calls), the message outbox, complaints and satisfaction surveys.
//!
//! Every function takes the connection, the acting [`Actor`] for changes, the caller's
//! [`dms_core::StoreScope`] (rows outside it read as `NotFound`) and the current time as an
//! argument, so tests run on a calendar they control. Changes run in `dms_db::write_tx` and
//! write an audit entry in the same transaction.
//!
//! Choices worth knowing before using the crate:
//! * `customers.phone` stays unique: it is the owners' app login (identity looks customers up
//!   by it). Further numbers live in `customer_phones`; a merge frees the merged record's
//!   login phone (`merged:<id>`) and keeps the number as a further number of the survivor.
//! * ID numbers are validated (18 characters, check digit, birth date), print masked, and are
//!   matched by a SHA-256 hash column so duplicate checks never put them in a query.
//! * VIN check digits are enforced by default; [`VinPolicy::AllowBadCheckDigit`] accepts the
//!   grey imports whose ninth character is not one, and the vehicle records it.
//! * Other crates plug in without the CRM knowing them: [`CustomerLinks`] (merge),
//!   [`CareSource`] (daily reminders), [`Customer360Section`] (the 360 view), [`CardLookup`]
//!   (search by member card) and [`TierLookup`] (segments by tier).
//! * Engine differences are confined to `engine.rs` (prefix search).

mod bulk;
mod care;
mod complaints;
mod customers;
mod engine;
mod error;
mod export;
mod invitations;
mod leads;
mod merge;
mod outbox;
mod overview;
pub mod schema;
mod segments;
mod surveys;
mod validate;
mod vehicles;

pub use bulk::{insert_customers_bulk, phones_in_use, BulkCustomer};
pub use care::{
    care_candidates, care_stats, complete_task, create_task, get_task, list_tasks, run_care_engine,
    CareCandidate, CareRules, CareRunReport, CareSource, CareStats, FirstServiceRule, FollowUpTask,
    MaintenanceRule, NewTask, RefusalReason, TaskFilter, TaskOutcome,
};
pub use complaints::{
    assign_complaint, complaint_stats, confirm_complaint, escalate_overdue_complaints,
    get_complaint, list_complaints, open_complaint, resolve_complaint, Complaint, ComplaintFilter,
    ComplaintPolicy, ComplaintStats, NewComplaint, Severity, COMPLAINT_CATEGORIES,
    COMPLAINT_CHANNELS,
};
pub use customers::{
    add_customer_address, add_customer_phone, classify_query, create_customer,
    customer_for_login_phone, find_duplicates, get_customer, get_customer_profile,
    has_marketing_consent, has_opted_out, import_customers, list_customers, search_customers,
    set_consent, set_customer_tags, update_customer, CardLookup, Channel, ConsentInput, Customer,
    CustomerAddress, CustomerFilter, CustomerKind, CustomerPhone, CustomerProfile, CustomerUpdate,
    DuplicateProbe, ImportReport, MarketingConsent, NewAddress, NewCustomer, NewPhone, SearchKind,
};
pub use error::{CrmError, DuplicateMatch, MatchKind};
pub use export::{
    care_rule_label, crm_report, refusal_label, report_csv, report_xlsx, Cell, CrmReport, Table,
};
pub use invitations::{
    run_survey_invitations, InvitationReport, InvitationRule, SurveyInvitationRules,
};
pub use leads::{
    assign_lead, convert_lead, create_lead, get_lead, lead_contacts_of, lead_conversion,
    lead_grade_history, list_leads, log_lead_contact, mark_lead_lost, overdue_leads, ConversionRow,
    IntentGrade, Lead, LeadAccess, LeadCadence, LeadContact, LeadContactInput, LeadFilter,
    LeadGradeChange, NewLead, LEAD_SOURCES,
};
pub use merge::{merge_customers, CustomerLinks, FnLinks, MergeRegistry, MergeReport};
pub use outbox::{
    deliver_due_messages, enqueue_message, get_message, list_messages, message_stats,
    record_delivery_receipt, render, DeliveryReport, EmailSender, EnqueueOutcome, HttpSmsGateway,
    MessageChannel, MessageFilter, MessageStats, MessageTemplate, NewMessage, OutboxMessage,
    OutboxPolicy, Purpose, ReceiptOutcome, SendError, SmsGateway, SmtpEmailSender, TemplateSet,
};
pub use overview::{customer_360, Customer360, Customer360Section};
pub use segments::{
    create_segment_tasks, evaluate_segment, get_segment, queue_segment_messages, save_segment,
    CampaignCounts, Segment, SegmentFilter, TierLookup,
};
pub use surveys::{
    answer_survey, create_questionnaire, customer_surveys, get_questionnaire, satisfaction,
    send_survey, Answer, NewQuestionnaire, NewSurvey, Question, QuestionKind, Questionnaire,
    SatisfactionBy, SatisfactionRow, Survey,
};
pub use validate::{
    check_phone, check_plate, name_key, normalize_phone, normalize_plate, vin_check_digit,
    IdNumber, Vin, VinPolicy,
};
pub use vehicles::{
    create_vehicle, daily_km_rate, find_vehicle_by_vin, get_vehicle, list_customer_vehicles,
    mark_vehicle_sold, mileage_history, owner_history, projected_km, record_mileage,
    record_service_visit, transfer_vehicle, update_vehicle, MileageReading, NewServiceVisit,
    NewVehicle, ServiceVisit, Vehicle, VehicleOwnership, VehicleUpdate, VisitKind,
};

use dms_db::DbConnection;
use dms_identity::{record_audit, Actor, NewAudit};

pub type Result<T, E = CrmError> = std::result::Result<T, E>;

/// One audit entry, in the caller's transaction. `detail` carries field names and codes, never
/// an ID number or message text.
pub(crate) fn audit(
    conn: &mut DbConnection,
    actor: &Actor,
    store_id: Option<&str>,
    action: &str,
    entity: &str,
    entity_id: &str,
    detail: serde_json::Value,
) -> Result<()> {
    record_audit(
        conn,
        actor,
        NewAudit {
            store_id,
            action,
            entity,
            entity_id,
            detail,
        },
    )?;
    Ok(())
}
