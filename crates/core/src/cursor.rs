use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;

/// An opaque position in a list: the id of the last row a page returned. Clients pass it back
/// unchanged; its encoding is ours to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub after_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor")]
pub struct CursorError;

const PREFIX: &str = "v1:";

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{PREFIX}{}", self.after_id))
    }

    pub fn decode(s: &str) -> Result<Cursor, CursorError> {
        let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| CursorError)?;
        let text = String::from_utf8(bytes).map_err(|_| CursorError)?;
        let id = text.strip_prefix(PREFIX).ok_or(CursorError)?;
        let id = crate::parse_id(id).map_err(|_| CursorError)?;
        Ok(Cursor { after_id: id })
    }
}

/// What a list endpoint was asked for, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<Cursor>,
    pub limit: u32,
}

impl PageRequest {
    pub fn first(limit: u32) -> Self {
        PageRequest {
            after: None,
            limit: limit.clamp(1, MAX_PAGE_SIZE),
        }
    }

    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        i64::from(self.limit) + 1
    }

    /// Cuts the extra row off and returns the cursor of the next page, if any.
    pub fn finish<T>(
        &self,
        mut rows: Vec<T>,
        id_of: impl Fn(&T) -> &str,
    ) -> (Vec<T>, Option<String>) {
        if rows.len() > self.limit as usize {
            rows.truncate(self.limit as usize);
            let next = rows.last().map(|r| {
                Cursor {
                    after_id: id_of(r).to_string(),
                }
                .encode()
            });
            (rows, next)
        } else {
            (rows, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let id = crate::new_id();
        let c = Cursor {
            after_id: id.clone(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap().after_id, id);
        assert!(Cursor::decode("not-a-cursor!").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("v1:x' OR 1=1")).is_err());
    }

    #[test]
    fn finish_reports_next_page() {
        let p = PageRequest::first(2);
        let ids = vec![crate::new_id(), crate::new_id(), crate::new_id()];
        let (rows, next) = p.finish(ids.clone(), |s| s.as_str());
        assert_eq!(rows.len(), 2);
        assert_eq!(Cursor::decode(&next.unwrap()).unwrap().after_id, ids[1]);
        let (rows, next) = p.finish(ids[..2].to_vec(), |s| s.as_str());
        assert_eq!(rows.len(), 2);
        assert!(next.is_none());
    }
}
