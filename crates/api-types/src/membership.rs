//! Bodies of the member club's endpoints (`/api/v1/members`, `/cards`, `/checkouts`, ...).
