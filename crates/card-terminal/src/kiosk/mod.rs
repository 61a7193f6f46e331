//! The full kiosk (`dms-kiosk run`): configuration, the REST client, the screens, and the loop
//! that ties the card reader, the keyboard, the printer and the journal together.

pub mod api;
pub mod app;
pub mod config;

use std::io::Write;
use std::net::ToSocketAddrs;
use std::sync::Mutex;
use std::time::Duration;

use ratatui::crossterm::event::{self, Event, KeyCode, KeyModifiers};

use crate::apdu::KeyType;
use crate::error::{Error, Result};
use crate::face::{CardFace, FileCardFace};
use crate::journal::Journal;
use crate::normalize::NumberFormat;
use crate::printer::{DevicePrinter, NetworkPrinter, ReceiptPrinter};
use crate::reader::pcsc::{number_from_block, NumberSource, PcscConfig, PcscReader};
use crate::reader::wedge::{WedgeConfig, WedgeReader};
use crate::reader::{CardEvent, CardReader};
use app::App;
use config::{FaceKind, KioskConfig, PrinterKind, ReaderKind, TypedUid};

/// A log file with millisecond timestamps: the screen belongs to the UI, and the timings
/// (tap → summary, PIN → receipt) are read from here. PINs and tokens are never logged.
struct FileLog(Mutex<std::fs::File>);

impl log::Log for FileLog {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::Level::Info
    }

    fn log(&self, r: &log::Record) {
        if self.enabled(r.metadata()) {
            let mut f = self.0.lock().unwrap_or_else(|p| p.into_inner());
            let _ = writeln!(
                f,
                "{} {} {}",
                chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                r.level(),
                r.args()
            );
        }
    }

    fn flush(&self) {}
}

fn start_log(cfg: &KioskConfig) -> Result<()> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(cfg.log_file())?;
    let logger: &'static FileLog = Box::leak(Box::new(FileLog(Mutex::new(f))));
    let _ = log::set_logger(logger);
    log::set_max_level(log::LevelFilter::Info);
    Ok(())
}

/// Where taps come from.
enum Input {
    Pcsc {
        reader: Option<PcscReader>,
        name: Option<String>,
        sector: Option<(u8, [u8; 6])>,
    },
    Wedge(WedgeReader, TypedUid),
    /// Typed on the idle screen; see [`App::key`].
    Keyboard(TypedUid),
}

/// A tap as the app wants it: the chip UID in the server's form, and the printed number if
/// the reader reads one.
enum Tap {
    Card { uid: String, number: Option<String> },
    Removed,
}

impl Input {
    fn open(cfg: &KioskConfig) -> Result<Input> {
        let typed = cfg.reader.typed.clone().unwrap_or_default();
        Ok(match cfg.reader.kind {
            ReaderKind::Pcsc => {
                let sector = match (&cfg.reader.sector_block, &cfg.reader.sector_key) {
                    (Some(b), Some(k)) => {
                        let bytes = hex::decode(k)
                            .ok()
                            .and_then(|v| <[u8; 6]>::try_from(v).ok())
                            .ok_or_else(|| {
                                Error::Config("reader.sector_key: 12 hex digits".into())
                            })?;
                        Some((*b, bytes))
                    }
                    _ => None,
                };
                Input::Pcsc {
                    reader: None,
                    name: cfg.reader.name.clone(),
                    sector,
                }
            }
            ReaderKind::Wedge => {
                let path = cfg
                    .reader
                    .path
                    .clone()
                    .ok_or_else(|| Error::Config("reader.path".into()))?;
                let wc = WedgeConfig {
                    max_key_gap: cfg.reader.max_key_gap_ms.map(Duration::from_millis),
                    ..WedgeConfig::default()
                };
                #[cfg(feature = "evdev")]
                let r = if path.starts_with("/dev/input") {
                    crate::reader::wedge::open_evdev(&path, wc)?
                } else {
                    WedgeReader::spawn(std::fs::File::open(&path)?, wc)
                };
                #[cfg(not(feature = "evdev"))]
                let r = WedgeReader::spawn(std::fs::File::open(&path)?, wc);
                Input::Wedge(r, typed)
            }
            ReaderKind::Stdin => Input::Keyboard(typed),
        })
    }

    fn poll(&mut self, wait: Duration) -> Option<Tap> {
        match self {
            Input::Pcsc {
                reader,
                name,
                sector,
            } => {
                if reader.is_none() {
                    match PcscReader::open(PcscConfig {
                        reader_name: name.clone(),
                        number: NumberSource::Uid(NumberFormat::default()),
                    }) {
                        Ok(r) => *reader = Some(r),
                        Err(e) => {
                            log::debug!("card reader not ready: {e}");
                            std::thread::sleep(wait);
                            return None;
                        }
                    }
                }
                let r = reader.as_mut()?;
                match r.next_event(wait) {
                    Ok(Some(CardEvent::Present { uid })) => {
                        let number = match sector {
                            Some((block, key)) => match r.read_block(*block, KeyType::A, key) {
                                Ok(b) => number_from_block(&b).ok(),
                                Err(e) => {
                                    log::warn!("card number block unreadable: {e}");
                                    None
                                }
                            },
                            None => None,
                        };
                        Some(Tap::Card {
                            uid: hex::encode_upper(uid),
                            number,
                        })
                    }
                    Ok(Some(CardEvent::Removed)) => Some(Tap::Removed),
                    Ok(None) => None,
                    Err(e) => {
                        log::warn!("card reader: {e}; reopening");
                        *reader = None;
                        None
                    }
                }
            }
            Input::Wedge(r, typed) => match r.next_number(wait) {
                Ok(Some(text)) => match typed.to_uid(&text) {
                    Ok(uid) => Some(Tap::Card { uid, number: None }),
                    Err(e) => {
                        log::warn!("wedge number not understood: {e}");
                        None
                    }
                },
                Ok(None) => None,
                Err(e) => {
                    log::warn!("wedge reader: {e}");
                    std::thread::sleep(wait);
                    None
                }
            },
            Input::Keyboard(_) => None,
        }
    }
}

fn open_printer(cfg: &KioskConfig) -> Result<Option<Box<dyn ReceiptPrinter>>> {
    let p = &cfg.printer;
    Ok(match p.kind {
        PrinterKind::None => None,
        PrinterKind::Network => {
            let addr = p
                .address
                .as_deref()
                .unwrap_or_default()
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| Error::Config("printer.address".into()))?;
            Some(Box::new(NetworkPrinter::new(
                addr,
                Duration::from_secs(3),
                p.columns,
            )))
        }
        PrinterKind::Device => {
            let path = p
                .path
                .clone()
                .ok_or_else(|| Error::Config("printer.path".into()))?;
            Some(Box::new(DevicePrinter::open(
                &path,
                p.columns,
                Duration::from_secs(3),
            )?))
        }
    })
}

fn open_face(cfg: &KioskConfig) -> Option<Box<dyn CardFace>> {
    match (cfg.face.kind, &cfg.face.path) {
        (FaceKind::File, Some(path)) => Some(Box::new(FileCardFace::new(path))),
        _ => None,
    }
}

/// Runs the kiosk until Ctrl-C.
pub fn run(cfg: KioskConfig) -> Result<()> {
    std::fs::create_dir_all(&cfg.state_dir)?;
    start_log(&cfg)?;
    log::info!("kiosk starting; server {}", cfg.server);
    let journal = Journal::open(cfg.journal_file())?;
    let api = api::Api::new(&cfg.server, cfg.tokens_file());
    let printer = open_printer(&cfg)?;
    let mut input = Input::open(&cfg)?;
    let face = open_face(&cfg);
    let mut app = App::new(cfg, api, journal, printer, face);
    if app.api.device().is_some() {
        // Before taking new payments: what became of the ones still pending.
        app.resolve_pending(true);
    }
    let mut terminal = ratatui::init();
    let outcome = (|| -> Result<()> {
        while !app.quit {
            terminal.draw(|f| app.draw(f))?;
            if event::poll(Duration::from_millis(30))? {
                if let Event::Key(k) = event::read()? {
                    if k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL) {
                        break;
                    }
                    if let Some(typed) = app.key(k) {
                        if let Input::Keyboard(t) = &input {
                            match t.to_uid(&typed) {
                                Ok(uid) => app.tap(&uid, None),
                                Err(_) => app.notice = Some("无法识别的卡号。".into()),
                            }
                        }
                    }
                    continue;
                }
            }
            match input.poll(Duration::from_millis(30)) {
                Some(Tap::Card { uid, number }) => {
                    terminal.draw(|f| app.draw(f))?;
                    app.tap(&uid, number.as_deref());
                }
                Some(Tap::Removed) => app.removed(),
                None => {}
            }
            if app.api.device().is_some() {
                app.tick();
                app.resolve_pending(false);
            }
        }
        Ok(())
    })();
    ratatui::restore();
    log::info!("kiosk stopped");
    outcome
}
