//! `documents import`: a manifest with one row per file, sent in batches.

use std::path::{Path, PathBuf};

use csv::{ByteRecord, StringRecord};
use pearsana_api::spec::MAX_DOCUMENT_BYTES;
use pearsana_api::types::{ExternalReference, VerificationIntent};

use super::csv_input::{Column, ColumnIndex};
use super::fields::Fields;
use super::files::FileId;
use super::plan::RowKind;
use super::users::{external_reference, reference_identity};

/// Columns of a documents manifest. `file` is a path, relative to the manifest's folder.
pub const COLUMNS: &[Column] = &[
    Column::required("namespace"),
    Column::required("externalId"),
    Column::required("documentType").with_aliases(&["type"]),
    Column::required("file").with_aliases(&["path"]),
    Column::optional("filename"),
    Column::optional("verificationIntent").with_aliases(&["intent"]),
    Column::optional("attestationReferenceId"),
    Column::optional("partnerReferenceId"),
];

/// One validated manifest row. The file is hashed during validation (streamed) and read again
/// only when its batch is sent, so a large manifest never sits in memory.
#[derive(Debug, Clone)]
pub struct DocumentRow {
    /// The user the document belongs to.
    pub reference: ExternalReference,
    /// Document type, as given.
    pub document_type: String,
    /// Absolute path of the file.
    pub path: PathBuf,
    /// Filename sent to the API (decides the MIME type).
    pub filename: String,
    /// Requested verification intent; `None` means the API default.
    pub verification_intent: Option<VerificationIntent>,
    /// Attestation reference, only with `attest`.
    pub attestation_reference_id: Option<String>,
    /// The partner's own reference for the document.
    pub partner_reference_id: Option<String>,
    /// SHA-256 of the file's content, hex: part of the row's journal key.
    pub content_sha256: String,
    /// The file's size and modification time when it was hashed; the upload must find the
    /// same, so the bytes sent are the bytes the journal key names.
    pub stamp: FileStamp,
}

/// A file's size and modification time: what tells that its content may have changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileStamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, where the platform keeps one.
    pub modified: Option<std::time::SystemTime>,
}

impl FileStamp {
    /// The stamp of `metadata`.
    pub fn of(metadata: &std::fs::Metadata) -> Self {
        Self {
            size: metadata.len(),
            modified: metadata.modified().ok(),
        }
    }
}

/// Documents manifest rows; relative file paths resolve against `base_dir`.
#[derive(Debug, Clone)]
pub struct Documents {
    /// The manifest's folder.
    pub base_dir: PathBuf,
    /// Files this import writes (journal, failures report), with their flags: a manifest row
    /// naming one of them is refused, since sending it would read a file being rewritten.
    pub outputs: Vec<(FileId, &'static str)>,
}

impl Documents {
    /// Rows of the manifest at `manifest`.
    pub fn for_manifest(manifest: &Path) -> Self {
        let parent = manifest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let base_dir = std::path::absolute(parent).unwrap_or_else(|_| parent.to_path_buf());
        Self {
            base_dir,
            outputs: Vec::new(),
        }
    }

    /// The same rows, refusing any that name one of `outputs` (paths that do not exist yet
    /// cannot be named by a row and are ignored).
    pub fn with_outputs<'a>(
        mut self,
        outputs: impl IntoIterator<Item = (&'a Path, &'static str)>,
    ) -> Self {
        self.outputs = outputs
            .into_iter()
            .filter_map(|(path, flag)| {
                let metadata = std::fs::metadata(path).ok()?;
                Some((FileId::from_metadata(&metadata), flag))
            })
            .collect();
        self
    }

    /// The flag of the output that `path` is, if it is one.
    fn output_flag(&self, path: &Path) -> Option<&'static str> {
        let id = FileId::from_metadata(&std::fs::metadata(path).ok()?);
        self.outputs
            .iter()
            .find(|(output, _)| *output == id)
            .map(|(_, flag)| *flag)
    }
}

/// Checks that `path` is a readable regular file of an allowed size; returns its stamp.
pub fn check_document_file(path: &Path) -> Result<FileStamp, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    match meta.len() {
        0 => Err(format!("{} is empty", path.display())),
        n if n > MAX_DOCUMENT_BYTES => Err(format!(
            "{} is {n} bytes, more than the {MAX_DOCUMENT_BYTES}-byte limit",
            path.display()
        )),
        _ => Ok(FileStamp::of(&meta)),
    }
}

/// Checks and hashes a document file: its SHA-256 and its stamp, the same before and after
/// the file was read (a file written to while it was hashed is refused).
pub fn hash_document_file(path: &Path) -> Result<(String, FileStamp), String> {
    let before = check_document_file(path)?;
    let hash = sha256_file(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let after = std::fs::metadata(path)
        .map(|meta| FileStamp::of(&meta))
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if after != before {
        return Err(format!(
            "{} changed while it was being read; rerun once it is complete",
            path.display()
        ));
    }
    Ok((hash, before))
}

/// SHA-256 of a file's content, streamed, as lowercase hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    // Bounded: the file was checked to be a regular file within the limit, but could be
    // swapped for something endless before it is opened here.
    let file = std::fs::File::open(path)?;
    std::io::copy(
        &mut std::io::Read::take(file, MAX_DOCUMENT_BYTES + 1),
        &mut hasher,
    )?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Checks the intent/attestation pair the way the API does.
pub fn parse_intent(
    fields: &mut Fields<'_>,
    intent: Option<String>,
    attestation: &Option<String>,
) -> Option<VerificationIntent> {
    let parsed = match intent.as_deref().map(str::parse::<VerificationIntent>) {
        None => None,
        Some(Ok(intent)) => Some(intent),
        Some(Err(_)) => {
            fields.problem(
                "verificationIntent",
                format_args!("{:?} is not store_only or attest", intent.unwrap()),
            );
            return None;
        }
    };
    if attestation.is_some() && parsed != Some(VerificationIntent::Attest) {
        fields.problem(
            "attestationReferenceId",
            "is only allowed when verificationIntent is attest",
        );
    }
    parsed
}

impl RowKind for Documents {
    type Value = DocumentRow;
    const NAME: &'static str = "documents";

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn parse(
        &self,
        index: &ColumnIndex,
        record: &StringRecord,
    ) -> Result<DocumentRow, Vec<String>> {
        let mut f = Fields::new(index, record);
        let reference = external_reference(&mut f);
        let document_type = f.required("documentType");
        let file = f.required("file");
        let path = self.base_dir.join(&file);
        let (mut content_sha256, mut stamp) = (String::new(), FileStamp::default());
        if !file.is_empty() {
            match hash_document_file(&path) {
                Ok(_) if let Some(flag) = self.output_flag(&path) => f.problem(
                    "file",
                    format_args!("{} is the {flag} file of this import", path.display()),
                ),
                Ok(hashed) => (content_sha256, stamp) = hashed,
                Err(problem) => f.problem("file", problem),
            }
        }
        let filename = f
            .optional("filename")
            .or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let attestation_reference_id = f.optional("attestationReferenceId");
        let intent = f.optional("verificationIntent");
        let verification_intent = parse_intent(&mut f, intent, &attestation_reference_id);
        let row = reference.map(|reference| DocumentRow {
            reference,
            document_type,
            path,
            filename,
            verification_intent,
            attestation_reference_id,
            partner_reference_id: f.optional("partnerReferenceId"),
            content_sha256,
            stamp,
        });
        f.finish(row)
            .map(|r| r.expect("a row without problems has its reference"))
    }

    /// Keyed by content, not path: moving the files or feeding back a failures report (whose
    /// paths are absolute) between runs must not make a finished document look new.
    fn identities(&self, value: &DocumentRow) -> Vec<(&'static str, String)> {
        let key = format!(
            "{}|{}|sha256:{}",
            reference_identity(&value.reference),
            value.document_type,
            value.content_sha256
        );
        vec![("namespace:externalId+documentType+file content", key)]
    }

    fn report_record(
        &self,
        index: &ColumnIndex,
        record: &ByteRecord,
        value: &DocumentRow,
    ) -> ByteRecord {
        let position = index.position("file");
        let path = value.path.display().to_string();
        record
            .iter()
            .enumerate()
            .map(|(i, field)| {
                if Some(i) == position {
                    path.as_bytes()
                } else {
                    field
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::plan::plan_all;
    use super::*;

    #[test]
    fn files_resolve_against_the_manifest_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("t.pdf"), b"%PDF-1.4").unwrap();
        std::fs::write(dir.path().join("empty.pdf"), b"").unwrap();
        let kind = Documents::for_manifest(&dir.path().join("manifest.csv"));
        let text = "namespace,externalId,document_type,file,verificationIntent,attestationReferenceId\n\
                    SIS,1,OFFICIAL_TRANSCRIPT,t.pdf,,\n\
                    SIS,2,OFFICIAL_TRANSCRIPT,missing.pdf,,\n\
                    SIS,3,DIPLOMA,empty.pdf,maybe,ATT-1\n\
                    SIS,4,DIPLOMA,t.pdf,attest,ATT-2\n";
        let (valid, invalid) = plan_all(&kind, text.as_bytes());
        assert_eq!(valid.len(), 2, "{:?}", invalid);
        let first = &valid[0];
        assert_eq!(first.value.path, dir.path().join("t.pdf"));
        assert_eq!(first.value.filename, "t.pdf");
        assert_eq!(
            &first.record[3],
            dir.path().join("t.pdf").to_str().unwrap().as_bytes(),
            "report has absolute path"
        );
        assert_eq!(
            valid[1].value.verification_intent,
            Some(VerificationIntent::Attest)
        );
        assert_eq!(
            first.key,
            "sis:1|OFFICIAL_TRANSCRIPT|sha256:e16fa5d9b51928755db85b917f0297babaf22c7a47e97d9212adab56e61ba04e",
            "keyed by content, so moving files keeps the key"
        );
        assert_eq!(invalid[0].line, 3);
        assert!(invalid[0].problems[0].starts_with("file: cannot read"));
        let problems = &invalid[1].problems;
        assert_eq!(
            problems.len(),
            2,
            "empty file and unknown intent: {problems:?}"
        );
    }
}
