//! Generated test data: realistic user bodies, a roster CSV and document files.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use pearsana_api::types::CreateUserRequest;

const FIRST_NAMES: &[&str] = &[
    "Jane", "Amir", "Chen", "Olu", "Maria", "Liam", "Sofia", "Kenji",
];
const LAST_NAMES: &[&str] = &[
    "Smith", "Haddad", "Wang", "Adeyemi", "Garcia", "Murphy", "Rossi",
];

/// Name parts for person `n`, varied so that bodies are not all identical.
fn person(n: u64) -> (&'static str, &'static str) {
    let n = n as usize;
    (
        FIRST_NAMES[n % FIRST_NAMES.len()],
        LAST_NAMES[(n / 7) % LAST_NAMES.len()],
    )
}

/// A realistic create-user body for person `n` of run `run`: identity, two external
/// references and a full profile, like the spec's `withProfile` example. Emails and external
/// ids are unique per `(run, n)`.
pub fn user_request(run: &str, n: u64) -> CreateUserRequest {
    let (first, last) = person(n);
    let body = serde_json::json!({
        "identity": {
            "email": format!("{}.{}.{run}.{n}@example.edu", first.to_lowercase(), last.to_lowercase()),
            "firstName": first,
            "lastName": last,
            "roleName": "student",
        },
        "externalReferences": [
            { "namespace": "SIS", "externalId": format!("STU-{run}-{n:07}") },
            { "namespace": "LMS", "externalId": format!("LMS-{run}-{n:07}") },
        ],
        "profile": {
            "preferredName": first,
            "phone": "+1-555-123-4567",
            "currency": "USD",
            "address": {
                "line1": "123 University Ave",
                "line2": "Apt 4B",
                "city": "Boston",
                "state": "MA",
                "zip": "02134",
                "country": "United States",
                "dateOfBirth": "2000-05-15",
                "citizenship": "United States"
            }
        }
    });
    serde_json::from_value(body).expect("the fixture matches the spec's CreateUserRequest")
}

/// The CSV header of a users roster (`pearsana users import`).
pub const ROSTER_HEADER: &str = "email,firstName,lastName,roleName,namespace,externalId";

/// Row `n` of roster `run` (without newline).
pub fn roster_row(run: &str, n: u64) -> String {
    let (first, last) = person(n);
    format!(
        "{}.{}.{run}.{n}@example.edu,{first},{last},student,SIS,STU-{run}-{n:07}",
        first.to_lowercase(),
        last.to_lowercase()
    )
}

/// The create-user body the CLI sends for [`roster_row`]`(run, n)`: identity and one reference.
pub fn roster_request(run: &str, n: u64) -> CreateUserRequest {
    let (first, last) = person(n);
    let body = serde_json::json!({
        "identity": {
            "email": format!("{}.{}.{run}.{n}@example.edu", first.to_lowercase(), last.to_lowercase()),
            "firstName": first,
            "lastName": last,
            "roleName": "student",
        },
        "externalReferences": [{ "namespace": "SIS", "externalId": format!("STU-{run}-{n:07}") }],
    });
    serde_json::from_value(body).expect("the fixture matches the spec's CreateUserRequest")
}

/// Writes a roster of `rows` users to `path`.
pub fn write_roster(path: &Path, run: &str, rows: u64) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    writeln!(out, "{ROSTER_HEADER}")?;
    for n in 0..rows {
        writeln!(out, "{}", roster_row(run, n))?;
    }
    out.flush()?;
    Ok(())
}

/// Writes `count` files of `size` bytes each (deterministic, incompressible-looking content)
/// into `dir` and returns their paths.
pub fn write_documents(dir: &Path, count: usize, size: usize) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..count)
        .map(|i| {
            let path = dir.join(format!("transcript-{i:02}.pdf"));
            let mut bytes = Vec::with_capacity(size);
            bytes.extend_from_slice(b"%PDF-1.4\n");
            while bytes.len() < size {
                // xorshift64: cheap bytes that do not compress to nothing.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                bytes.extend_from_slice(&state.to_le_bytes());
            }
            bytes.truncate(size);
            std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_requests_are_unique_and_complete() {
        let a = serde_json::to_value(user_request("r1", 1)).unwrap();
        let b = serde_json::to_value(user_request("r1", 2)).unwrap();
        assert_ne!(a["identity"]["email"], b["identity"]["email"]);
        assert_eq!(a["externalReferences"].as_array().unwrap().len(), 2);
        assert_eq!(a["profile"]["address"]["city"], "Boston");
    }

    #[test]
    fn roster_rows_match_the_request_the_cli_sends() {
        let row = roster_row("r", 42);
        let request = serde_json::to_value(roster_request("r", 42)).unwrap();
        let fields: Vec<&str> = row.split(',').collect();
        assert_eq!(fields.len(), ROSTER_HEADER.split(',').count());
        assert_eq!(request["identity"]["email"], fields[0]);
        assert_eq!(request["externalReferences"][0]["externalId"], fields[5]);
    }

    #[test]
    fn documents_have_the_requested_size() {
        let dir = std::env::temp_dir().join(format!("pearsana-bench-test-{}", std::process::id()));
        let paths = write_documents(&dir, 3, 1000).unwrap();
        assert_eq!(paths.len(), 3);
        for path in &paths {
            assert_eq!(std::fs::metadata(path).unwrap().len(), 1000);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
