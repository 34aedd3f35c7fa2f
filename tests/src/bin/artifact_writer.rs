//! Test helper: writes artifacts into a quarry data directory in a loop, printing
//! `wrote <run_id> <artifact_id>` after each is durably recorded, until it is killed. The
//! crash test SIGKILLs it mid-write and checks that no half-written artifact is visible.
//! Usage: `artifact-writer DATA_DIR`.

use std::{io::Write, path::PathBuf, time::Duration};

use bytes::Bytes;
use futures::StreamExt;
use quarry_core::{
    Artifact, ArtifactId, ArtifactKind, ArtifactStore, NewSession, ObjectKey, Run, RunKind,
    SessionId, TenantId,
};
use quarry_store::{FsArtifactStore, MetadataOptions};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or_else(|| anyhow::anyhow!("usage: artifact-writer DATA_DIR"))?,
    );
    let url = format!("sqlite://{}", dir.join("quarry.db").display());
    let meta = quarry_store::connect_metadata(&url, MetadataOptions::default()).await?;
    let files = FsArtifactStore::open(dir.join("artifacts")).await?;
    let tenant = TenantId::owner();
    let session = meta
        .get_or_create_session(NewSession {
            id: SessionId::parse("crash_test")?,
            ..NewSession::named(tenant.clone(), "crash test")
        })
        .await?;
    let mut out = std::io::stdout().lock();
    for n in 0u64.. {
        let run = Run::start(tenant.clone(), session.id.clone(), RunKind::Data);
        meta.create_run(&run).await?;
        let artifact_id = ArtifactId::generate();
        let key = ObjectKey {
            tenant_id: tenant.clone(),
            session_id: session.id.clone(),
            run_id: run.id.clone(),
            artifact_id: artifact_id.clone(),
            file_name: format!("part-{n}.csv"),
        };
        // 64 chunks of 4 KiB with small pauses, so a kill often lands mid-write.
        let body = futures::stream::iter(0..64u8)
            .then(move |i| async move {
                tokio::time::sleep(Duration::from_micros(200)).await;
                Ok::<_, std::io::Error>(Bytes::from(vec![b'a' + (i % 26); 4096]))
            })
            .boxed();
        let stored = files.put(&key, body, None).await?;
        meta.insert_artifact(&Artifact {
            id: artifact_id.clone(),
            tenant_id: tenant.clone(),
            session_id: session.id.clone(),
            run_id: run.id.clone(),
            kind: ArtifactKind::Data,
            name: key.file_name.clone(),
            media_type: "text/csv".to_owned(),
            size: stored.size,
            sha256: stored.sha256,
            created_at: quarry_core::time::now(),
            storage_key: stored.key,
        })
        .await?;
        writeln!(out, "wrote {} {}", run.id, artifact_id)?;
        out.flush()?;
    }
    Ok(())
}
