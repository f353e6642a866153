//! Scenario 5: peak memory while building and sending one batch of large documents.
//!
//! Each measurement runs in a fresh child process of this binary (`documents-child`), so the
//! peak RSS is that of one submission and nothing else; the sandbox receiving the batch runs in
//! the parent.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, ensure};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::report::{Section, Table, mib};
use crate::stats::median;
use crate::{Bench, fixtures, raw_client, rss, setup};

/// Peak RSS of the SDK may be at most this multiple of the raw file bytes.
const MAX_RSS_PER_PAYLOAD: f64 = 2.5;
/// Peak RSS of a streamed upload may be at most this multiple of one batch's payload (issue 11).
const MAX_STREAMED_RSS_PER_PAYLOAD: f64 = 0.35;
const MIB_F: f64 = 1024.0 * 1024.0;
const NAMESPACE: &str = "SIS";
const EXTERNAL_ID: &str = "DOC-OWNER-1";
const DOCUMENT_TYPE: &str = "OFFICIAL_TRANSCRIPT";

/// How the child builds and sends the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Variant {
    /// `DocumentFile::from_path` → `batch_item` → `Client::submit_documents` (the SDK's helper).
    SdkHelper,
    /// `DocumentFile::from_path` → `batch_item` → `Client::submit_document_batch` (one call).
    SdkBatch,
    /// By hand: every item built (base64 strings), then the whole body serialised with
    /// `serde_json`, posted with plain `reqwest`.
    RawItems,
    /// By hand: each file read and base64-encoded straight into one pre-sized JSON body.
    RawStreamed,
    /// `DocumentUpload::from_path` → `batch_item` → `Client::upload_documents` (streamed).
    SdkUpload,
    /// `DocumentUpload::from_path` → `batch_item` → `Client::upload_document_batch` (streamed,
    /// one call).
    SdkUploadBatch,
}

impl Variant {
    fn label(self) -> &'static str {
        match self {
            Self::SdkHelper => "SDK `submit_documents` (DocumentFile helpers)",
            Self::SdkBatch => "SDK `submit_document_batch` (one call)",
            Self::RawItems => "raw: items, then `serde_json::to_vec` (reference)",
            Self::RawStreamed => "raw: files encoded straight into the body (reference)",
            Self::SdkUpload => "SDK `upload_documents` (streamed from the files)",
            Self::SdkUploadBatch => "SDK `upload_document_batch` (streamed, one call)",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Self::SdkHelper => "sdk-helper",
            Self::SdkBatch => "sdk-batch",
            Self::RawItems => "raw-items",
            Self::RawStreamed => "raw-streamed",
            Self::SdkUpload => "sdk-upload",
            Self::SdkUploadBatch => "sdk-upload-batch",
        }
    }
}

/// Arguments of the child process.
#[derive(Debug, clap::Args)]
pub struct ChildArgs {
    /// Sandbox URL (API and token host).
    #[arg(long)]
    url: String,
    /// The documents to send (every file in it).
    #[arg(long)]
    dir: PathBuf,
    /// How to send them.
    #[arg(long, value_enum)]
    variant: Variant,
}

/// What the child reports on its last stdout line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChildReport {
    payload_bytes: u64,
    baseline_rss: u64,
    peak_rss: u64,
    succeeded: usize,
    seconds: f64,
}

/// Entry point of the child process.
pub fn child_main(args: ChildArgs) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(child(args))?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(std::process::ExitCode::SUCCESS)
}

async fn child(args: ChildArgs) -> anyhow::Result<ChildReport> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&args.dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.sort();
    let payload_bytes = paths
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()))
        .sum::<Result<u64, _>>()?;
    let http = raw_client::http_client(1)?;
    // Authenticate before measuring the baseline, so that it includes a warm client.
    let sdk = setup::sdk_client(&args.url, http.clone())?;
    let raw = setup::raw_client(&args.url, http).await?;
    sdk.ping().await.context("SDK ping")?;
    let baseline_rss = rss::self_rss()?;
    let started = Instant::now();
    let succeeded = match args.variant {
        Variant::SdkHelper => {
            let items = sdk_items(&paths).await?;
            let outcome = sdk.submit_documents(items).await?;
            outcome.succeeded()
        }
        Variant::SdkBatch => {
            let items = sdk_items(&paths).await?;
            let request: pearsana::types::SubmitDocumentBatchRequest =
                pearsana::types::SubmitDocumentBatchRequest::builder()
                    .items(items)
                    .try_into()?;
            let response = sdk.submit_document_batch(&request).await?;
            response.summary.succeeded as usize
        }
        Variant::RawItems => {
            let mut items = Vec::with_capacity(paths.len());
            for (i, path) in paths.iter().enumerate() {
                let bytes = std::fs::read(path)?;
                items.push(RawItem {
                    item_id: format!("item-{i:02}"),
                    external_reference: RawReference {
                        namespace: NAMESPACE,
                        external_id: EXTERNAL_ID,
                    },
                    document_type: DOCUMENT_TYPE,
                    file: base64::engine::general_purpose::STANDARD.encode(&bytes),
                    filename: file_name(path),
                });
            }
            let body = serde_json::to_vec(&RawBatch { items: &items })?;
            drop(items);
            send_raw(&raw, body).await?;
            paths.len()
        }
        Variant::RawStreamed => {
            let body = streamed_body(&paths)?;
            send_raw(&raw, body).await?;
            paths.len()
        }
        Variant::SdkUpload => {
            let items = upload_items(&paths).await?;
            sdk.upload_documents(items).await?.succeeded()
        }
        Variant::SdkUploadBatch => {
            let items = upload_items(&paths).await?;
            let response = sdk.upload_document_batch(&items).await?;
            response.summary.succeeded as usize
        }
    };
    Ok(ChildReport {
        payload_bytes,
        baseline_rss,
        peak_rss: rss::self_peak_rss()?,
        succeeded,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A batch item as the raw references write it (borrowing what they can).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RawItem {
    item_id: String,
    external_reference: RawReference,
    document_type: &'static str,
    file: String,
    filename: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RawReference {
    namespace: &'static str,
    external_id: &'static str,
}

#[derive(Serialize)]
struct RawBatch<'a> {
    items: &'a [RawItem],
}

async fn send_raw(raw: &crate::raw_client::RawClient, body: Vec<u8>) -> anyhow::Result<()> {
    let (status, _) = raw
        .post_json_bytes("/v1/documents:submitBatch", body)
        .await?;
    ensure!(status.is_success(), "raw batch answered {status}");
    Ok(())
}

/// The batch body written in one pass: JSON envelope text around each file's base64, encoded
/// from the file straight into a buffer sized for the whole body up front.
fn streamed_body(paths: &[PathBuf]) -> anyhow::Result<Vec<u8>> {
    let engine = &base64::engine::general_purpose::STANDARD;
    let mut envelopes = Vec::with_capacity(paths.len());
    // `{"items":[` and `]}`, and a comma between items.
    let mut capacity = 12 + paths.len().saturating_sub(1);
    for (i, path) in paths.iter().enumerate() {
        let item = RawItem {
            item_id: format!("item-{i:02}"),
            external_reference: RawReference {
                namespace: NAMESPACE,
                external_id: EXTERNAL_ID,
            },
            document_type: DOCUMENT_TYPE,
            file: "\u{0}".into(),
            filename: file_name(path),
        };
        let envelope = serde_json::to_string(&item)?;
        let (before, after) = envelope
            .split_once("\"\\u0000\"")
            .map(|(b, a)| (b.to_owned(), a.to_owned()))
            .context("placeholder missing from the item envelope")?;
        let size = std::fs::metadata(path)?.len() as usize;
        capacity += before.len() + after.len() + 2 + size.div_ceil(3) * 4;
        envelopes.push((before, after));
    }
    let mut body = Vec::with_capacity(capacity);
    body.extend_from_slice(b"{\"items\":[");
    for (i, (path, (before, after))) in paths.iter().zip(envelopes).enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(before.as_bytes());
        body.push(b'"');
        let bytes = std::fs::read(path)?;
        let start = body.len();
        body.resize(start + bytes.len().div_ceil(3) * 4, 0);
        let written = engine.encode_slice(&bytes, &mut body[start..])?;
        body.truncate(start + written);
        body.push(b'"');
        body.extend_from_slice(after.as_bytes());
    }
    body.extend_from_slice(b"]}");
    Ok(body)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

async fn sdk_items(
    paths: &[PathBuf],
) -> anyhow::Result<Vec<pearsana::types::SubmitDocumentBatchItem>> {
    let reference = pearsana::external_reference(NAMESPACE, EXTERNAL_ID)?;
    let mut items = Vec::with_capacity(paths.len());
    for (i, path) in paths.iter().enumerate() {
        let file = pearsana::DocumentFile::from_path(path).await?;
        items.push(file.batch_item(&format!("item-{i:02}"), reference.clone(), DOCUMENT_TYPE)?);
    }
    Ok(items)
}

async fn upload_items(paths: &[PathBuf]) -> anyhow::Result<Vec<pearsana::UploadItem>> {
    let reference = pearsana::external_reference(NAMESPACE, EXTERNAL_ID)?;
    let mut items = Vec::with_capacity(paths.len());
    for (i, path) in paths.iter().enumerate() {
        let upload = pearsana::DocumentUpload::from_path(path).await?;
        items.push(upload.batch_item(&format!("item-{i:02}"), reference.clone(), DOCUMENT_TYPE)?);
    }
    Ok(items)
}

/// Peak RSS limits of the streaming CLI import (issue 11): `(count, size, limit MiB)`.
fn cli_sets(bench: &Bench) -> [(usize, usize, f64); 2] {
    if bench.sizes.smoke {
        [(3, 64 * 1024, 35.0), (6, 128 * 1024, 40.0)]
    } else {
        [(25, 4 * 1024 * 1024, 35.0), (60, 8 * 1024 * 1024, 40.0)]
    }
}

/// One release `pearsana documents import` of every file in `dir` (a manifest written next to
/// it), under the peak-RSS helper: `(peak RSS, wall seconds)`.
async fn cli_import(
    bench: &Bench,
    url: &str,
    dir: &Path,
    count: usize,
) -> anyhow::Result<(u64, f64)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.sort();
    let mut manifest = String::from("namespace,externalId,documentType,file\n");
    for path in &paths {
        manifest.push_str(&format!(
            "{NAMESPACE},{EXTERNAL_ID},{DOCUMENT_TYPE},{}\n",
            path.display()
        ));
    }
    let manifest_path = dir.with_extension("csv");
    std::fs::write(&manifest_path, manifest)?;
    let mut command = Command::new(&bench.cli);
    command
        .args(["--env", "local", "--api-url", url, "--auth-url", url])
        .args([
            "--client-id",
            pearsana_sandbox::DEFAULT_CLIENT_ID,
            "--output",
            "json",
        ])
        .args(["documents", "import"])
        .arg(&manifest_path)
        .env(
            "PEARSANA_CLIENT_SECRET",
            pearsana_sandbox::DEFAULT_CLIENT_SECRET,
        )
        .env_remove("RUST_LOG");
    let helper = bench.self_exe.clone();
    let started = Instant::now();
    let run =
        tokio::task::spawn_blocking(move || rss::run_child_isolated(&helper, command)).await??;
    let seconds = started.elapsed().as_secs_f64();
    run.ensure_success("pearsana documents import")?;
    let last = run.stdout.lines().last().unwrap_or_default();
    let summary: serde_json::Value =
        serde_json::from_str(last).with_context(|| format!("CLI summary {last:?}"))?;
    ensure!(
        summary["created"].as_u64() == Some(count as u64),
        "CLI import stored {} of {count}",
        summary["created"]
    );
    Ok((run.peak_rss, seconds))
}

/// Runs the scenario.
pub async fn run(bench: &Bench) -> anyhow::Result<Section> {
    let (count, size) = (bench.sizes.document_count, bench.sizes.document_bytes);
    let dir = bench.scratch.join(format!("documents-{count}x{size}"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    fixtures::write_documents(&dir, count, size)?;
    let payload = (count * size) as f64;

    let sandbox = setup::sandbox().await?;
    let url = sandbox.url();
    let owner = setup::raw_client(&url, raw_client::http_client(1)?).await?;
    let mut body = fixtures::roster_request("docs", 0);
    body.external_references = serde_json::from_value(
        serde_json::json!([{ "namespace": NAMESPACE, "externalId": EXTERNAL_ID }]),
    )?;
    owner
        .create_user(&body)
        .await
        .context("creating the documents' owner")?;

    let variants = [
        Variant::SdkHelper,
        Variant::SdkBatch,
        Variant::RawItems,
        Variant::RawStreamed,
        Variant::SdkUpload,
        Variant::SdkUploadBatch,
    ];
    let mut results: Vec<Vec<(ChildReport, u64)>> = variants.iter().map(|_| Vec::new()).collect();
    for round in 0..bench.sizes.document_rounds {
        // Rotate the order so that no variant always runs first.
        for k in 0..variants.len() {
            let i = (round + k) % variants.len();
            let mut command = Command::new(&bench.self_exe);
            command
                .args([
                    "documents-child",
                    "--url",
                    &url,
                    "--variant",
                    variants[i].flag(),
                ])
                .arg("--dir")
                .arg(&dir);
            let helper = bench.self_exe.clone();
            let run =
                tokio::task::spawn_blocking(move || rss::run_child_isolated(&helper, command))
                    .await??;
            run.ensure_success("documents child")?;
            let last = run.stdout.lines().last().unwrap_or_default();
            let report: ChildReport =
                serde_json::from_str(last).with_context(|| format!("child report {last:?}"))?;
            ensure!(
                report.succeeded == count,
                "{}: {} of {count} documents stored",
                variants[i].label(),
                report.succeeded
            );
            results[i].push((report, run.peak_rss));
        }
    }
    // The streaming CLI on its own file sets (the first is this scenario's batch in full runs).
    let mut cli_runs = Vec::new();
    for (cli_count, cli_size, limit) in cli_sets(bench) {
        let cli_dir = bench
            .scratch
            .join(format!("documents-cli-{cli_count}x{cli_size}"));
        if cli_dir.exists() {
            std::fs::remove_dir_all(&cli_dir)?;
        }
        fixtures::write_documents(&cli_dir, cli_count, cli_size)?;
        let mut peaks = Vec::new();
        let mut seconds = Vec::new();
        for _ in 0..bench.sizes.document_rounds {
            let (peak, wall) = cli_import(bench, &url, &cli_dir, cli_count).await?;
            peaks.push(peak as f64);
            seconds.push(wall);
        }
        std::fs::remove_dir_all(&cli_dir)?;
        cli_runs.push((cli_count, cli_size, limit, median(&peaks), median(&seconds)));
    }
    let stored = sandbox.stats().documents_created;
    sandbox.shutdown().await;

    let mut table = Table::new(&[
        "how the batch is built and sent",
        "payload",
        "peak RSS (median)",
        "peak / payload",
        "RSS before building",
        "(peak − before) / payload",
        "time",
        "throughput",
    ]);
    let mut section = Section {
        title: "5. Large documents".into(),
        method: format!(
            "{count} files of {} each ({} in all) are read from disk, base64-encoded into one \
             batch and sent to the in-process sandbox of the parent. Each run is a fresh child \
             process of the bench binary; its peak RSS is its own `VmHWM` (and the parent \
             cross-checks it with `wait4`'s `ru_maxrss`). \"Before\" is the child's RSS after \
             start-up and authentication, before touching the files. {} rounds, rotating the \
             order of the variants.",
            mib(size as f64),
            mib(payload),
            bench.sizes.document_rounds
        ),
        ..Default::default()
    };
    let mut throughput_of = Vec::new();
    for (variant, runs) in variants.iter().zip(&results) {
        let peaks: Vec<f64> = runs
            .iter()
            .map(|(r, wait4)| r.peak_rss.max(*wait4) as f64)
            .collect();
        let before: Vec<f64> = runs.iter().map(|(r, _)| r.baseline_rss as f64).collect();
        let seconds: Vec<f64> = runs.iter().map(|(r, _)| r.seconds).collect();
        let (peak, before, seconds) = (median(&peaks), median(&before), median(&seconds));
        let throughput = payload / MIB_F / seconds;
        throughput_of.push((*variant, peak, throughput));
        table.row(vec![
            variant.label().into(),
            mib(payload),
            mib(peak),
            format!("{:.2}×", peak / payload),
            mib(before),
            format!("{:.2}×", (peak - before) / payload),
            format!("{seconds:.2} s"),
            format!("{throughput:.1} MiB/s"),
        ]);
        if matches!(variant, Variant::SdkHelper | Variant::SdkBatch) {
            section.target(
                format!(
                    "{count} × {}: peak RSS / payload, {}",
                    mib(size as f64),
                    variant.label()
                ),
                &format!("≤ {MAX_RSS_PER_PAYLOAD}×"),
                format!("{:.2}× ({})", peak / payload, mib(peak)),
                peak / payload <= MAX_RSS_PER_PAYLOAD,
            );
        }
    }
    let find = |wanted: Variant| {
        throughput_of
            .iter()
            .find(|(v, _, _)| *v == wanted)
            .map(|(_, peak, throughput)| (*peak, *throughput))
            .unwrap_or_default()
    };
    let (_, in_memory) = find(Variant::SdkHelper);
    for streamed in [Variant::SdkUpload, Variant::SdkUploadBatch] {
        let (peak, throughput) = find(streamed);
        section.target(
            format!(
                "{count} × {}: peak RSS / payload, {}",
                mib(size as f64),
                streamed.label()
            ),
            &format!("≤ {MAX_STREAMED_RSS_PER_PAYLOAD}×"),
            format!("{:.2}× ({})", peak / payload, mib(peak)),
            peak / payload <= MAX_STREAMED_RSS_PER_PAYLOAD,
        );
        section.target(
            format!(
                "throughput, {} vs `submit_documents` (in memory)",
                streamed.label()
            ),
            "≥ 1.00×",
            format!(
                "{:.2}× ({throughput:.0} vs {in_memory:.0} MiB/s)",
                throughput / in_memory
            ),
            throughput >= in_memory,
        );
    }
    for (cli_count, cli_size, limit, peak, seconds) in &cli_runs {
        let cli_payload = (*cli_count * *cli_size) as f64;
        let throughput = cli_payload / MIB_F / seconds;
        table.row(vec![
            format!("CLI `documents import`, {cli_count} files (release, streamed)"),
            mib(cli_payload),
            mib(*peak),
            format!("{:.2}×", peak / cli_payload),
            "–".into(),
            "–".into(),
            format!("{seconds:.2} s"),
            format!("{throughput:.1} MiB/s"),
        ]);
        section.target(
            format!(
                "CLI `documents import` of {cli_count} × {}: peak RSS",
                mib(*cli_size as f64)
            ),
            &format!("≤ {limit} MiB"),
            mib(*peak),
            *peak <= limit * MIB_F,
        );
    }
    section.table = table;
    section.notes.push(format!(
        "The sandbox stored {stored} documents over all runs. Base64 makes the encoded batch \
         4/3 of the payload, so a process that holds the encoded items and the serialised \
         request body at the same time needs at least 2.67× the payload (the \
         \"items, then `serde_json::to_vec`\" reference). Any call through the generated \
         client is in that case: its `send()` keeps the typed body alive while the serialised \
         copy is on the wire. `submit_documents` moves its owned items into the requests and \
         sits at that floor; `submit_document_batch` takes `&request` and clones it into the \
         builder, one more full copy of the encoded items. The streamed reference, which encodes each file straight into one pre-sized body, shows \
         what the 2.5× target asks for: the body must be produced without a second full copy \
         of the items."
    ));
    section.notes.push(
        "The streamed rows (`upload_documents`, `upload_document_batch` and the CLI) produce the \
         same JSON while sending it: each file is read in 192 KiB chunks and base64-encoded \
         into the request body as it goes, with the exact `Content-Length` computed up front, \
         so memory does not grow with the files. Throughput is the payload divided by the time \
         from the first file read to the last answer (SDK rows, inside the child) or by the \
         CLI process's wall time, which also includes start-up and the validation pass that \
         hashes every file for the journal keys."
            .into(),
    );
    Ok(section)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_body_is_the_same_json_as_the_serialised_items() {
        let dir = std::env::temp_dir().join(format!("pearsana-bench-docs-{}", std::process::id()));
        let paths = fixtures::write_documents(&dir, 3, 1000).unwrap();
        let items: Vec<RawItem> = paths
            .iter()
            .enumerate()
            .map(|(i, path)| RawItem {
                item_id: format!("item-{i:02}"),
                external_reference: RawReference {
                    namespace: NAMESPACE,
                    external_id: EXTERNAL_ID,
                },
                document_type: DOCUMENT_TYPE,
                file: base64::engine::general_purpose::STANDARD
                    .encode(std::fs::read(path).unwrap()),
                filename: file_name(path),
            })
            .collect();
        let expected: serde_json::Value =
            serde_json::from_slice(&serde_json::to_vec(&RawBatch { items: &items }).unwrap())
                .unwrap();
        let streamed = streamed_body(&paths).unwrap();
        assert_eq!(
            streamed.capacity(),
            streamed.len(),
            "the body was sized exactly up front"
        );
        let actual: serde_json::Value = serde_json::from_slice(&streamed).unwrap();
        assert_eq!(actual, expected);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
