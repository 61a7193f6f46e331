//! CRM: the one customer record every department shares, vehicles, leads, the care engine
//! (reminders and follow-up calls), the message outbox, complaints and satisfaction surveys.
