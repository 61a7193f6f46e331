//! Bodies of the CRM's endpoints (customer 360, vehicles, leads, tasks, complaints, surveys).
