//! The CRM over HTTP: customer 360, vehicles, leads, follow-up tasks, complaints, surveys.
