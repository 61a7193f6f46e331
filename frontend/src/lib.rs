//! The staff web app: a Yew single-page app built by trunk (see `README.md`).
//!
//! Pure logic (strings, error mapping, the refresh decision, navigation) lives in plain
//! functions with host-run unit tests; the components only wire it to the DOM.

pub mod api;
pub mod app;
pub mod chart;
pub mod components;
pub mod forms;
pub mod i18n;
pub mod money;
pub mod pages;
pub mod reports;
pub mod route;
pub mod session;

/// Mounts the app on `<body>`.
pub fn run() {
    yew::Renderer::<app::App>::new().render();
}
