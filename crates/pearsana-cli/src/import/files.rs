//! The files an import reads and writes, and the checks that keep it from destroying one.
//!
//! Paths are compared by what they name, not how they are spelled: `./a.csv`, `a.csv`, a
//! symbolic link and a hard link to it are all the same file. An existing file is identified
//! by its device and inode; a file that does not exist yet by its directory's identity and its
//! name, so two spellings of one new path are also caught.

use std::ffi::OsString;
use std::fs::Metadata;
use std::path::{Path, PathBuf};

/// The identity of an existing file: same device and inode means same file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    /// The identity behind `metadata`.
    #[cfg(unix)]
    pub fn from_metadata(metadata: &Metadata) -> Self {
        use std::os::unix::fs::MetadataExt;
        Self {
            dev: metadata.dev(),
            ino: metadata.ino(),
        }
    }

    /// The identity behind `metadata` (no inode numbers here: size and modification time, a
    /// weaker check).
    #[cfg(not(unix))]
    pub fn from_metadata(metadata: &Metadata) -> Self {
        Self {
            dev: metadata.len(),
            ino: metadata
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as u64),
        }
    }
}

/// What a path names: an existing file, or a file still to be created in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The file exists.
    Existing(FileId),
    /// Nothing exists there yet.
    New {
        /// The directory that will hold it.
        dir: FileId,
        /// Its name in that directory.
        name: OsString,
    },
}

impl Location {
    /// Where `path` points (following symbolic links).
    pub fn of(path: &Path) -> std::io::Result<Self> {
        match std::fs::metadata(path) {
            Ok(metadata) => Ok(Self::Existing(FileId::from_metadata(&metadata))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let name = path.file_name().ok_or(e)?.to_os_string();
                let dir = match path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p,
                    _ => Path::new("."),
                };
                Ok(Self::New {
                    dir: FileId::from_metadata(&std::fs::metadata(dir)?),
                    name,
                })
            }
            Err(e) => Err(e),
        }
    }
}

/// One file of an import, with the flag that names it in messages.
#[derive(Debug, Clone)]
pub struct Role<'a> {
    /// How the user gave it (`--journal`, `the input file`).
    pub flag: &'static str,
    /// The path as given.
    pub path: &'a Path,
}

/// Two of an import's files are the same file.
#[derive(Debug, thiserror::Error)]
pub enum ClashError {
    /// An output would overwrite an input or another output.
    #[error(
        "{output_flag} {output} is the same file as {input_flag} {input}; writing it would destroy {input_flag}: use another path"
    )]
    Same {
        /// Flag of the file that would be written.
        output_flag: &'static str,
        /// Its path.
        output: PathBuf,
        /// Flag of the file it clashes with.
        input_flag: &'static str,
        /// Its path.
        input: PathBuf,
    },
    /// A path could not be examined.
    #[error("{flag} {path}: {source}")]
    Io {
        /// Flag of the path.
        flag: &'static str,
        /// The path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// Refuses `outputs` that name the same file as any of `inputs` or as an earlier output.
pub fn check_outputs(inputs: &[Role<'_>], outputs: &[Role<'_>]) -> Result<(), ClashError> {
    let locate = |role: &Role<'_>| {
        Location::of(role.path).map_err(|source| ClashError::Io {
            flag: role.flag,
            path: role.path.to_path_buf(),
            source,
        })
    };
    let mut seen = Vec::new();
    for input in inputs {
        seen.push((input, locate(input)?));
    }
    for output in outputs {
        let location = locate(output)?;
        if let Some((input, _)) = seen.iter().find(|(_, l)| *l == location) {
            return Err(ClashError::Same {
                output_flag: output.flag,
                output: output.path.to_path_buf(),
                input_flag: input.flag,
                input: input.path.to_path_buf(),
            });
        }
        seen.push((output, location));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role<'a>(flag: &'static str, path: &'a Path) -> Role<'a> {
        Role { flag, path }
    }

    #[test]
    fn spellings_and_links_of_one_file_clash_but_different_files_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let roster = dir.path().join("roster.csv");
        std::fs::write(&roster, "email\n").unwrap();
        let hard = dir.path().join("hard.csv");
        std::fs::hard_link(&roster, &hard).unwrap();
        let dotted = dir.path().join(".").join("roster.csv");
        for alias in [&roster, &hard, &dotted] {
            let err = check_outputs(
                &[role("the input file", &roster)],
                &[role("--failures", alias)],
            )
            .unwrap_err();
            assert!(err.to_string().contains("--failures"), "{err}");
        }
        let other = dir.path().join("failures.csv");
        assert!(
            check_outputs(
                &[role("the input file", &roster)],
                &[role("--failures", &other)]
            )
            .is_ok()
        );
    }

    #[test]
    fn two_outputs_that_do_not_exist_yet_clash_by_directory_and_name() {
        let dir = tempfile::tempdir().unwrap();
        let roster = dir.path().join("roster.csv");
        std::fs::write(&roster, "email\n").unwrap();
        let journal = dir.path().join("run.log");
        let same = dir.path().join("sub").join("..").join("run.log");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let err = check_outputs(
            &[role("the input file", &roster)],
            &[role("--journal", &journal), role("--failures", &same)],
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                ClashError::Same {
                    input_flag: "--journal",
                    ..
                }
            ),
            "{err}"
        );
    }
}
