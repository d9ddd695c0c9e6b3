//! A real browser for the pages' tests: headless Chromium at a desktop's
//! or a phone's width, and what the page said on its console.

use std::path::{Path, PathBuf};

/// What the page said on its console, or threw, while the test looked.
pub type Complaints = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

pub fn listen(tab: &headless_chrome::Tab) -> Complaints {
    use headless_chrome::protocol::cdp::types::Event;
    use headless_chrome::protocol::cdp::Log::LogEntryLevel;
    use headless_chrome::protocol::cdp::Runtime::ConsoleAPICalledEventTypeOption as Kind;
    let heard: Complaints = Default::default();
    let mine = heard.clone();
    tab.enable_log().unwrap();
    tab.enable_runtime().unwrap();
    tab.add_event_listener(std::sync::Arc::new(move |event: &Event| {
        let complaint = match event {
            Event::RuntimeConsoleAPICalled(e)
                if matches!(e.params.Type, Kind::Error | Kind::Assert) =>
            {
                Some(format!(
                    "console.error: {:?}",
                    e.params.args.iter().map(|a| &a.value).collect::<Vec<_>>()
                ))
            }
            Event::RuntimeExceptionThrown(e) => {
                Some(format!("exception: {}", e.params.exception_details.text))
            }
            Event::LogEntryAdded(e) if e.params.entry.level == LogEntryLevel::Error => {
                Some(format!("log: {}", e.params.entry.text))
            }
            _ => None,
        };
        mine.lock().unwrap().extend(complaint);
    }))
    .unwrap();
    heard
}

/// Evaluates `js` (which returns a JSON string) in the page.
pub fn ask(tab: &headless_chrome::Tab, js: &str) -> serde_json::Value {
    let answer = tab
        .evaluate(js, false)
        .unwrap_or_else(|e| panic!("{js}: {e}"));
    let text = answer.value.and_then(|v| v.as_str().map(String::from));
    serde_json::from_str(&text.unwrap_or_else(|| panic!("{js}: no string answer"))).unwrap()
}

/// Chromium, or None (and a note) when it is missing outside CI; CI
/// installs it (.ci/run), so there a missing browser is a failure.
pub fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "Chromium is not installed"
        );
        eprintln!("SKIPPED: Chromium is not installed (apt-get install chromium; .ci/run does)");
    }
    found
}

/// A headless Chromium `width` px wide with `index` loaded, and what the
/// page says to its console.
pub fn open_page(
    chromium: &Path,
    index: &Path,
    width: u32,
    profile: &Path,
) -> (
    headless_chrome::Browser,
    std::sync::Arc<headless_chrome::Tab>,
    Complaints,
) {
    let options = headless_chrome::LaunchOptions::default_builder()
        .path(Some(chromium.to_path_buf()))
        .sandbox(false)
        .window_size(Some((width.max(800), 2400)))
        .user_data_dir(Some(profile.to_path_buf()))
        .args(
            [
                "--disable-gpu",
                "--disable-quic",
                "--disable-component-update",
                "--hide-scrollbars",
            ]
            .iter()
            .map(std::ffi::OsStr::new)
            .collect(),
        )
        .build()
        .unwrap();
    let browser = headless_chrome::Browser::new(options).unwrap();
    let tab = browser.new_tab().unwrap();
    let heard = listen(&tab);
    // A window is at least 500 px wide: a phone's width is emulated.
    tab.call_method(
        headless_chrome::protocol::cdp::Emulation::SetDeviceMetricsOverride {
            width,
            height: 2400,
            device_scale_factor: 1.0,
            mobile: width < 1000,
            scale: None,
            screen_width: None,
            screen_height: None,
            position_x: None,
            position_y: None,
            dont_set_visible_size: None,
            screen_orientation: None,
            viewport: None,
            display_feature: None,
            device_posture: None,
        },
    )
    .unwrap();
    tab.navigate_to(&format!("file://{}", index.display()))
        .unwrap()
        .wait_until_navigated()
        .unwrap();
    (browser, tab, heard)
}

/// Fails when the page scrolls sideways, or (on a desktop) has a table
/// wider than the window.
pub fn fits(tab: &headless_chrome::Tab, width: u32, name: &str) {
    let sideways = ask(tab, "JSON.stringify(document.documentElement.scrollWidth - document.documentElement.clientWidth)");
    assert_eq!(
        sideways.as_i64(),
        Some(0),
        "{name}: the page scrolls sideways"
    );
    if width >= 1000 {
        let wide = ask(tab, "JSON.stringify([...document.querySelectorAll('table')].filter(t => t.getBoundingClientRect().width > document.documentElement.clientWidth).map(t => t.id || t.querySelector('tr').textContent.slice(0, 60)))");
        assert_eq!(
            wide,
            serde_json::json!([]),
            "tables wider than the {width} px window"
        );
    }
}
