use uuid::Uuid;

/// Row ids are UUIDv7 stored as text on both engines: created by the application (so no
/// engine-specific `RETURNING` or sequence is needed, and several `dms serve` processes never
/// collide) and ordered by creation time, which keeps cursor pagination stable.
pub fn new_id() -> String {
    Uuid::now_v7().hyphenated().to_string()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id")]
pub struct IdError;

/// Accepts only the canonical lower-case hyphenated form that [`new_id`] produces, so that
/// one row never has two spellings.
pub fn parse_id(s: &str) -> Result<String, IdError> {
    let u = Uuid::try_parse(s).map_err(|_| IdError)?;
    let canonical = u.hyphenated().to_string();
    if canonical == s {
        Ok(canonical)
    } else {
        Err(IdError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_creation() {
        let a = new_id();
        let b = new_id();
        assert!(a < b);
        assert_eq!(parse_id(&a).unwrap(), a);
        assert!(parse_id(&a.to_uppercase()).is_err());
        assert!(parse_id("1 or 1=1").is_err());
    }
}
