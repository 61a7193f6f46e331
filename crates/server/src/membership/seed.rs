//! Demo data for the two demo stores, built with the domain functions so the ledgers stay
//! consistent.

pub fn seed_demo(
    _conn: &mut dms_db::DbConnection,
    _demo: &crate::seed::DemoOrg,
) -> Result<String, String> {
    Ok(String::new())
}
