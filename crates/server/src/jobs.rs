//! Background work inside `dms serve`: daily jobs (the care engine, tier evaluation) and
//! short-interval workers (the message outbox). Each runs on its own thread with its own pool
//! connection, so it never blocks a request worker; a failed run is logged and retried at the
//! next tick. The domain functions are idempotent, so several `dms serve` processes on one
//! PostgreSQL may run them side by side without doing anything twice.

use std::time::Duration;

/// Runs `run` every `every`, first after `first`, until the process ends.
pub fn every<F>(name: &'static str, first: Duration, every: Duration, mut run: F)
where
    F: FnMut() -> Result<String, String> + Send + 'static,
{
    let spawned = std::thread::Builder::new()
        .name(format!("job-{name}"))
        .spawn(move || {
            std::thread::sleep(first);
            loop {
                match run() {
                    Ok(summary) if summary.is_empty() => {}
                    Ok(summary) => log::info!("job {name}: {summary}"),
                    Err(e) => log::error!("job {name} failed: {e}"),
                }
                std::thread::sleep(every);
            }
        });
    if let Err(e) = spawned {
        log::error!("cannot start job {name}: {e}");
    }
}

/// Runs `run` once a day at `at` (the stores' local time, UTC+8), and once at start so a
/// server that was down at that hour catches up (the jobs are idempotent).
pub fn daily<F>(name: &'static str, at: chrono::NaiveTime, mut run: F)
where
    F: FnMut(chrono::NaiveDate) -> Result<String, String> + Send + 'static,
{
    let spawned = std::thread::Builder::new()
        .name(format!("job-{name}"))
        .spawn(move || loop {
            let today = local_now().date_naive();
            match run(today) {
                Ok(summary) => log::info!("job {name} for {today}: {summary}"),
                Err(e) => log::error!("job {name} for {today} failed: {e}"),
            }
            std::thread::sleep(until_next(local_now().naive_local(), at));
        });
    if let Err(e) = spawned {
        log::error!("cannot start job {name}: {e}");
    }
}

/// The stores' local time: China Standard Time, no daylight saving.
pub fn local_now() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::Utc::now().with_timezone(&dms_core::china_time())
}

fn until_next(now: chrono::NaiveDateTime, at: chrono::NaiveTime) -> Duration {
    let today_at = now.date().and_time(at);
    let next = if today_at > now {
        today_at
    } else {
        today_at + chrono::Duration::days(1)
    };
    (next - now).to_std().unwrap_or(Duration::from_secs(60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveTime};

    #[test]
    fn next_run_is_later_today_or_tomorrow() {
        let at = NaiveTime::from_hms_opt(6, 0, 0).unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
        let early = d.and_hms_opt(5, 30, 0).unwrap();
        assert_eq!(until_next(early, at), Duration::from_secs(30 * 60));
        let late = d.and_hms_opt(6, 0, 0).unwrap();
        assert_eq!(until_next(late, at), Duration::from_secs(24 * 3600));
    }
}
