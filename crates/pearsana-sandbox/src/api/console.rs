//! The browser console at `/`.

/// Whether a path belongs to the console (kept out of the request log).
pub fn is_console_path(path: &str) -> bool {
    path == "/" || path.starts_with("/console/")
}
