//! The shared vocabulary of every domain crate: exact [`Money`], typed ids, the
//! [`StoreScope`] a caller may see, opaque pagination [`Cursor`]s and the [`Clock`].
//!
//! Nothing here touches the database or HTTP, so every crate (including the wasm web app
//! through `api-types`) can depend on it.

mod clock;
mod cursor;
mod ids;
mod money;
mod scope;

pub use clock::{business_date, china_time, Clock, FixedClock, SystemClock};
pub use cursor::{Cursor, CursorError, PageRequest, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
pub use ids::{new_id, parse_id, IdError};
pub use money::{Money, MoneyError};
pub use scope::StoreScope;
