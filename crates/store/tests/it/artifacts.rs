//! The file system artifact store.

use std::io;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use quarry_core::{
    ArtifactId, ArtifactStore, ByteStream, Error, ObjectKey, RunId, SessionId, TenantId,
};
use quarry_store::FsArtifactStore;
use sha2::{Digest, Sha256};

fn key(name: &str) -> ObjectKey {
    ObjectKey {
        tenant_id: TenantId::owner(),
        session_id: SessionId::parse("20260112_215333_b5537c").unwrap(),
        run_id: RunId::generate(),
        artifact_id: ArtifactId::generate(),
        file_name: name.to_owned(),
    }
}

fn body(chunks: Vec<&'static [u8]>) -> ByteStream {
    stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from_static(c)))).boxed()
}

async fn read_all(store: &FsArtifactStore, key: &str) -> (u64, Vec<u8>) {
    let (size, stream) = store.open(key).await.unwrap();
    let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
    (size, chunks.concat())
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn open_store() -> (tempfile::TempDir, FsArtifactStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = FsArtifactStore::open(dir.path().join("artifacts"))
        .await
        .unwrap();
    (dir, store)
}

#[tokio::test]
async fn put_then_open_round_trips_with_the_right_hash() {
    let (_dir, store) = open_store().await;
    store.ping().await.unwrap();
    let k = key("top_products.csv");
    let stored = store
        .put(&k, body(vec![b"id,name\n", b"1,wid", b"get\n"]), Some(1024))
        .await
        .unwrap();
    let expected = b"id,name\n1,widget\n";
    assert_eq!(stored.key, k.to_path());
    assert_eq!(stored.size, expected.len() as u64);
    assert_eq!(stored.sha256, hex::encode(Sha256::digest(expected)));
    assert_eq!(
        read_all(&store, &stored.key).await,
        (expected.len() as u64, expected.to_vec())
    );
    assert!(store.root().join(&stored.key).is_file());
    assert!(entries(&store.root().join(".tmp")).is_empty());

    // An empty body is a valid (empty) object; exactly max_bytes is allowed.
    let empty = store
        .put(&key("empty.txt"), body(vec![]), Some(0))
        .await
        .unwrap();
    assert_eq!(
        (empty.size, empty.sha256.as_str()),
        (0, hex::encode(Sha256::digest(b"")).as_str())
    );
    let exact = store
        .put(&key("exact.bin"), body(vec![b"12345"]), Some(5))
        .await
        .unwrap();
    assert_eq!(exact.size, 5);

    store.delete(&stored.key).await.unwrap();
    assert!(matches!(
        store.open(&stored.key).await,
        Err(Error::NotFound { .. })
    ));
    store.delete(&stored.key).await.unwrap();
    store.delete("default/never/was/here.csv").await.unwrap();
}

#[tokio::test]
async fn a_large_body_streams_through_in_chunks() {
    let (_dir, store) = open_store().await;
    const CHUNK: usize = 64 * 1024;
    const CHUNKS: usize = 320; // 20 MiB
    let chunk = |i: usize| Bytes::from(vec![(i % 251) as u8; CHUNK]);
    let mut expected = Sha256::new();
    for i in 0..CHUNKS {
        expected.update(chunk(i));
    }
    // Chunks are made as the store pulls them: the body never exists whole in the test either.
    let lazy = stream::iter(0..CHUNKS).map(move |i| Ok(chunk(i))).boxed();
    let stored = store.put(&key("big.bin"), lazy, None).await.unwrap();
    assert_eq!(stored.size, (CHUNK * CHUNKS) as u64);
    assert_eq!(stored.sha256, hex::encode(expected.finalize()));

    let (size, mut stream) = store.open(&stored.key).await.unwrap();
    assert_eq!(size, (CHUNK * CHUNKS) as u64);
    let mut read = Sha256::new();
    let (mut total, mut largest) = (0usize, 0usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        total += chunk.len();
        largest = largest.max(chunk.len());
        read.update(&chunk);
    }
    assert_eq!(total, CHUNK * CHUNKS);
    assert!(
        largest <= 64 * 1024,
        "reads stream in bounded chunks, got {largest}"
    );
    assert_eq!(hex::encode(read.finalize()), stored.sha256);
}

#[tokio::test]
async fn too_large_bodies_leave_nothing_behind() {
    let (_dir, store) = open_store().await;
    let k = key("huge.csv");
    let chunks = stream::iter((0..10).map(|_| Ok(Bytes::from(vec![b'x'; 1000])))).boxed();
    let err = store.put(&k, chunks, Some(5000)).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: 5000 }), "{err:?}");
    assert!(!store.root().join(k.to_path()).exists());
    assert!(entries(&store.root().join(".tmp")).is_empty());
}

#[tokio::test]
async fn a_failing_body_leaves_nothing_visible() {
    let (_dir, store) = open_store().await;
    let k = key("broken.csv");
    let failing = stream::iter(vec![
        Ok(Bytes::from_static(b"first,")),
        Ok(Bytes::from(vec![b'y'; 100_000])),
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "client went away",
        )),
        Ok(Bytes::from_static(b"never")),
    ])
    .boxed();
    let err = store.put(&k, failing, None).await.unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    assert!(!store.root().join(k.to_path()).exists());
    assert!(matches!(
        store.open(&k.to_path()).await,
        Err(Error::NotFound { .. })
    ));
    assert!(entries(&store.root().join(".tmp")).is_empty());
}

#[tokio::test]
async fn a_cancelled_put_cleans_up_its_temp_file() {
    let (_dir, store) = open_store().await;
    let store = std::sync::Arc::new(store);
    let k = key("stalled.csv");
    let stalled = stream::iter(vec![Ok(Bytes::from(vec![b'z'; 200_000]))])
        .chain(stream::pending())
        .boxed();
    let task = {
        let (store, k) = (store.clone(), k.clone());
        tokio::spawn(async move { store.put(&k, stalled, None).await })
    };
    let tmp = store.root().join(".tmp");
    for _ in 0..200 {
        if !entries(&tmp).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(entries(&tmp).len(), 1, "the put is under way");
    task.abort();
    let _ = task.await;
    for _ in 0..200 {
        if entries(&tmp).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(entries(&tmp).is_empty(), "{:?}", entries(&tmp));
    assert!(!store.root().join(k.to_path()).exists());
}

#[tokio::test]
async fn traversal_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret.txt"), b"secret").unwrap();
    let store = FsArtifactStore::open(dir.path().join("root"))
        .await
        .unwrap();
    for bad in [
        "../secret.txt",
        "../x",
        "/etc/passwd",
        "a/../../b",
        "a/../../secret.txt",
        "a\0b",
        "a//b",
        "a/b/",
        "/a",
        "",
        ".",
        "..",
        ".tmp/x",
        "a/./b",
        "a\\..\\..\\secret.txt",
    ] {
        let open = store.open(bad).await;
        assert!(
            matches!(open, Err(Error::Invalid(_))),
            "open {bad:?}: {:?}",
            open.err()
        );
        let delete = store.delete(bad).await;
        assert!(
            matches!(delete, Err(Error::Invalid(_))),
            "delete {bad:?}: {delete:?}"
        );
    }
    // A file name that is not sanitised is refused before anything is written.
    for name in ["../../escape.csv", "a/b.csv", "", ".hidden", "x\0y"] {
        let r = store.put(&key(name), body(vec![b"x"]), None).await;
        assert!(matches!(r, Err(Error::Invalid(_))), "put {name:?}: {r:?}");
    }
    assert!(entries(&store.root().join(".tmp")).is_empty());
    assert_eq!(
        std::fs::read(dir.path().join("secret.txt")).unwrap(),
        b"secret"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_under_the_root_are_refused() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(outside.join("run")).unwrap();
    std::fs::write(outside.join("run/a-x.csv"), b"outside").unwrap();
    std::fs::write(outside.join("target.txt"), b"target").unwrap();
    let store = FsArtifactStore::open(dir.path().join("root"))
        .await
        .unwrap();
    let root = store.root().to_path_buf();

    // A directory on the way is a symlink out of the root.
    std::fs::create_dir_all(root.join("t")).unwrap();
    symlink(&outside, root.join("t/linked")).unwrap();
    let r = store.open("t/linked/run/a-x.csv").await;
    assert!(matches!(r, Err(Error::Invalid(_))), "{:?}", r.err());
    let r = store.delete("t/linked/run/a-x.csv").await;
    assert!(matches!(r, Err(Error::Invalid(_))), "{r:?}");
    assert!(outside.join("run/a-x.csv").exists());

    // The object itself is a symlink.
    std::fs::create_dir_all(root.join("t/s/r")).unwrap();
    symlink(outside.join("target.txt"), root.join("t/s/r/a-link.csv")).unwrap();
    let r = store.open("t/s/r/a-link.csv").await;
    assert!(matches!(r, Err(Error::Invalid(_))), "{:?}", r.err());
    let r = store.delete("t/s/r/a-link.csv").await;
    assert!(matches!(r, Err(Error::Invalid(_))), "{r:?}");
    assert_eq!(
        std::fs::read(outside.join("target.txt")).unwrap(),
        b"target"
    );

    // A put whose directory is a symlink writes nothing outside.
    let k = ObjectKey {
        tenant_id: TenantId::parse("t").unwrap(),
        session_id: SessionId::parse("linked").unwrap(),
        run_id: RunId::parse("run").unwrap(),
        artifact_id: ArtifactId::parse("b").unwrap(),
        file_name: "y.csv".into(),
    };
    let r = store.put(&k, body(vec![b"data"]), None).await;
    assert!(matches!(r, Err(Error::Invalid(_))), "{r:?}");
    assert!(!outside.join("run/b-y.csv").exists());
    assert!(entries(&root.join(".tmp")).is_empty());
}

#[tokio::test]
async fn leftover_temp_files_are_swept_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("artifacts");
    let store = FsArtifactStore::open(root.clone()).await.unwrap();
    let kept = store
        .put(&key("kept.csv"), body(vec![b"kept"]), None)
        .await
        .unwrap();
    drop(store);
    // What a crash between create and rename leaves.
    std::fs::write(root.join(".tmp/1234-0-crashed.part"), b"half").unwrap();
    std::fs::create_dir(root.join(".tmp/odd_dir")).unwrap();
    std::fs::write(root.join(".tmp/odd_dir/inner"), b"x").unwrap();
    let store = FsArtifactStore::open(root.clone()).await.unwrap();
    assert!(entries(&root.join(".tmp")).is_empty());
    assert_eq!(read_all(&store, &kept.key).await.1, b"kept");
}

#[tokio::test]
async fn concurrent_puts_share_directories() {
    let (_dir, store) = open_store().await;
    let store = std::sync::Arc::new(store);
    let run = RunId::generate();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let store = store.clone();
        let mut k = key(&format!("part{i}.csv"));
        k.run_id = run.clone();
        tasks.spawn(async move {
            let data = Bytes::from(format!("row {i}\n"));
            let stored = store
                .put(&k, stream::iter([Ok(data.clone())]).boxed(), None)
                .await
                .unwrap();
            (stored.key, data)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (key, data) = joined.unwrap();
        assert_eq!(read_all(&store, &key).await.1, data.to_vec());
    }
}
