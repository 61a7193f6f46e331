/// Which stores a caller may see for one permission: every store of the group (a group-wide
/// role) or a fixed list. An empty list means the caller lacks the permission altogether.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreScope {
    AllStores,
    Stores(Vec<String>),
}

impl StoreScope {
    pub fn is_empty(&self) -> bool {
        matches!(self, StoreScope::Stores(s) if s.is_empty())
    }

    pub fn allows(&self, store_id: &str) -> bool {
        match self {
            StoreScope::AllStores => true,
            StoreScope::Stores(s) => s.iter().any(|x| x == store_id),
        }
    }

    /// Narrows the scope to one store when the caller asked for it, keeping the caller's limits.
    pub fn narrowed_to(&self, store_id: Option<&str>) -> StoreScope {
        match store_id {
            None => self.clone(),
            Some(id) if self.allows(id) => StoreScope::Stores(vec![id.to_string()]),
            Some(_) => StoreScope::Stores(vec![]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowing_never_widens() {
        let s = StoreScope::Stores(vec!["a".into()]);
        assert!(s.narrowed_to(Some("b")).is_empty());
        assert!(s.narrowed_to(Some("a")).allows("a"));
        assert!(StoreScope::AllStores.narrowed_to(Some("b")).allows("b"));
        assert!(!StoreScope::AllStores.narrowed_to(Some("b")).allows("a"));
    }
}
