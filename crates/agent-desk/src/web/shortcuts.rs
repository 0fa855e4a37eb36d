//! The desk's keyboard shortcuts, in one list: the cheat sheet is rendered from it, and every
//! shortcut belongs to a control on the page (`data-shortcut`), so each one can also be clicked
//! (WCAG 2.1.4) and desk.js needs no list of its own: a key press clicks (or focuses) the
//! control that carries its combination.
//!
//! Only Ctrl and Alt combinations, and none of the Alt letters browsers use for their menus in
//! Chromium or Firefox (D, E, F, H, S, T, V, B).

use maud::{html, Markup};

/// Which page a shortcut works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Everywhere,
    Intake,
    Queue,
    Ticket,
}

pub struct Shortcut {
    pub keys: &'static str,
    pub page: Page,
    pub what: &'static str,
}

pub const SHORTCUTS: &[Shortcut] = &[
    Shortcut {
        keys: "Alt+K",
        page: Page::Everywhere,
        what: "快捷键一览 Show or hide this list",
    },
    Shortcut {
        keys: "Ctrl+Enter",
        page: Page::Intake,
        what: "提交来电 Submit the call",
    },
    Shortcut {
        keys: "Alt+P",
        page: Page::Intake,
        what: "来电号码 Go to the phone field",
    },
    Shortcut {
        keys: "Alt+A",
        page: Page::Intake,
        what: "地址 Go to the address (↓↑ pick a suggestion, Enter takes it)",
    },
    Shortcut {
        keys: "Alt+O",
        page: Page::Intake,
        what: "改派 Open the category / territory / station overrides",
    },
    Shortcut {
        keys: "Alt+L",
        page: Page::Intake,
        what: "并入重复件 Link the call to the live duplicate shown",
    },
    Shortcut {
        keys: "Alt+J",
        page: Page::Intake,
        what: "紧急转接 Hand off to the emergency service suggested",
    },
    Shortcut {
        keys: super::knowledge::DIRECT_KEY,
        page: Page::Intake,
        what: "直办 Answer the call with the first knowledge article suggested",
    },
    Shortcut {
        keys: "Alt+R",
        page: Page::Queue,
        what: "刷新队列 Refresh the queue",
    },
    Shortcut {
        keys: "Alt+G",
        page: Page::Ticket,
        what: "签收 Sign for the ticket",
    },
    Shortcut {
        keys: "Alt+Y",
        page: Page::Ticket,
        what: "答复 Go to the reply",
    },
];

/// The shortcuts that work on `page`.
pub fn on(page: Page) -> impl Iterator<Item = &'static Shortcut> {
    SHORTCUTS
        .iter()
        .filter(move |s| s.page == page || s.page == Page::Everywhere)
}

/// `<kbd>` for a combination.
pub fn key(keys: &str) -> Markup {
    html! { kbd { (keys) } }
}

/// The cheat sheet of `page`, opened and closed by its own summary (Alt+K).
pub fn cheat_sheet(page: Page) -> Markup {
    html! {
        details #cheatsheet {
            summary data-shortcut="Alt+K" { "快捷键 Shortcuts " (key("Alt+K")) }
            table {
                @for s in on(page) {
                    tr { td { (key(s.keys)) } td { (s.what) } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcuts_are_ctrl_or_alt_combinations_clear_of_browser_menus() {
        for s in SHORTCUTS {
            let (modifier, key) = s.keys.split_once('+').expect(s.keys);
            assert!(modifier == "Ctrl" || modifier == "Alt", "{}", s.keys);
            if modifier == "Alt" {
                assert!(!"DEFHSTVB".contains(key), "{} opens a browser menu", s.keys);
            }
        }
    }

    #[test]
    fn no_two_shortcuts_of_one_page_share_keys() {
        for page in [Page::Intake, Page::Queue, Page::Ticket] {
            let mut keys: Vec<&str> = on(page).map(|s| s.keys).collect();
            let count = keys.len();
            keys.sort_unstable();
            keys.dedup();
            assert_eq!(keys.len(), count, "{page:?}");
        }
    }
}
